"""Long jobs for measuring the dashboard: a real job's results repeated `times` times one
after the other as distinct persons (repeat k: times shifted by k clip lengths, Index by
k x the clip's persons), stored straight into a service's data folder as a finished job,
and optionally the matching long video (the clip concatenated with ffmpeg `-c copy`).

PETS09-S2L1 (795 frames at 7 fps, 4,620 detections of 22 persons) 60 times is 277,200
detections of 1,320 persons, about 1.9 hours.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from peoplepath import contract
from peoplepath.store import DetectionRow, Store

PETS_CLIP = "pets09_s2l1/pets09_s2l1_h264.mp4"
PETS_FRAMES = 795


def repeat_persons(persons: list[dict[str, Any]], times: int, *, fps: float, n_frames: int) -> list[dict[str, Any]]:
    """`persons` (one clip of `n_frames`) repeated `times` times: repeat k's detection at
    frame j is at frame k*n_frames + j, its Index k*(max Index + 1) + Index."""
    per = max((p["Person"]["Index"] for p in persons), default=-1) + 1
    out = []
    for k in range(times):
        for p in persons:
            q = copy.deepcopy(p)
            q["Timestamp"] = contract.frame_to_ms(k * n_frames + contract.ms_to_frame(p["Timestamp"], fps), fps)
            q["Person"]["Index"] = k * per + p["Person"]["Index"]
            out.append(q)
    return out


def long_response(doc: dict[str, Any], times: int, *, n_frames: int, video: dict[str, Any] | None = None) -> dict[str, Any]:
    """A GetPersonTracking response (one merged page) of `doc` repeated `times` times."""
    meta = dict(doc["VideoMetadata"])
    fps = float(meta["FrameRate"])
    meta["DurationMillis"] = contract.frame_to_ms(times * n_frames, fps)
    out = {k: v for k, v in doc.items() if k not in ("Persons", "NextToken")}
    out.update(VideoMetadata=meta, Persons=repeat_persons(doc["Persons"], times, fps=fps, n_frames=n_frames))
    if video is not None:
        out["Video"] = video
    return out


def store_job(data_dir: Path, job_id: str, response: dict[str, Any]) -> str:
    """Insert `response` as a SUCCEEDED job into the service store of `data_dir` (the
    service reads it on the next GetPersonTracking; WAL mode allows a running one)."""
    store = Store(Path(data_dir) / "peoplepath.sqlite3")
    try:
        request = {"Video": response["Video"]}
        store.create_job(job_id, request, f"bench-{job_id}", None)
        rows = (DetectionRow(p["Timestamp"], p["Person"]["Index"], 99.0, json.dumps(p, separators=(",", ":")))
                for p in response["Persons"])
        store.complete_job(job_id, response["VideoMetadata"], [rows])
    finally:
        store.close()
    return job_id


def concat_video(clip: Path, times: int, out: Path) -> Path:
    """`clip` played `times` times in a row, stream-copied (no re-encode) to `out`."""
    import imageio_ffmpeg

    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{clip.resolve()}'\n" for _ in range(times)))
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
           "-i", str(listing), "-c", "copy", str(out)]
    subprocess.run(cmd, check=True)
    return out


def wait_for_job(client: Any, job_id: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        page = client.get_person_tracking(JobId=job_id, MaxResults=1)
        if page["JobStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return page
        time.sleep(0.5)
