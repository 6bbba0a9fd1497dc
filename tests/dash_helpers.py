"""Made-up GetPersonTracking results for the dashboard's tests and benchmark, built with
the contract's own record builder; every optional field is absent somewhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from peoplepath import contract
from peoplepath.engine.types import Face

WIDTH, HEIGHT, FPS = 640, 480, 25.0


def make_persons(
    n_people: int = 4,
    n_frames: int = 100,
    *,
    fps: float = FPS,
    width: int = WIDTH,
    height: int = HEIGHT,
    every: int = 1,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Detections of `n_people` walking across the frame, sorted by time then Index.

    Person k is seen on frames [k*5, n_frames - k*3) every `every` frames, with a gap in
    the middle for odd k. Detection j of a person: no person box when j % 7 == 3 (face
    only), no face when j % 3 == 0, a face without landmarks when j % 5 == 1, a face
    without Pose/Quality when j % 11 == 2.
    """
    rng = np.random.default_rng(seed)
    out = []
    for f in range(0, n_frames, every):
        ts = contract.frame_to_ms(f, fps)
        for k in range(n_people):
            if not (k * 5 <= f < n_frames - k * 3):
                continue
            if k % 2 == 1 and n_frames * 0.4 <= f < n_frames * 0.55:
                continue
            j = f // every
            x = (f / max(n_frames, 1)) * (width - 80) + rng.uniform(0, 3)
            y = 60 + k * (height - 200) / max(n_people, 1)
            box = (x, y, x + 60, y + 140)
            face = None
            if j % 3 != 0:
                fx1, fy1 = x + 18, y + 6
                face = Face(
                    xyxy=np.array([fx1, fy1, fx1 + 24, fy1 + 28]),
                    confidence=99.1,
                    landmarks={} if j % 5 == 1 else {
                        "eyeLeft": (fx1 + 7, fy1 + 10), "eyeRight": (fx1 + 17, fy1 + 10),
                        "nose": (fx1 + 12, fy1 + 16), "mouthLeft": (fx1 + 8, fy1 + 22),
                        "mouthRight": (fx1 + 16, fy1 + 22),
                    },
                    pose=(1.0, -5.0, 3.0),
                    brightness=60.0,
                    sharpness=40.0,
                )
            rec = contract.person_detection(ts, k, None if j % 7 == 3 else box, face, width, height)
            if face is not None:
                if j % 5 == 1:
                    del rec["Person"]["Face"]["Landmarks"]
                if j % 11 == 2:
                    del rec["Person"]["Face"]["Pose"], rec["Person"]["Face"]["Quality"]
            out.append(rec)
    return out


def video_metadata(*, fps: float = FPS, width: int = WIDTH, height: int = HEIGHT, n_frames: int = 100) -> dict:
    return {
        "Codec": "h264", "DurationMillis": contract.frame_to_ms(n_frames, fps), "Format": "QuickTime / MOV",
        "FrameRate": fps, "FrameHeight": height, "FrameWidth": width, "ColorRange": "LIMITED",
    }


def make_pages(persons: list[dict], *, page_size: int = 1000, job_id: str = "job-test-1", **meta: Any) -> list[dict]:
    """GetPersonTracking pages of `persons` as the service returns them."""
    pages = []
    for start in range(0, max(len(persons), 1), page_size):
        page = {
            "JobStatus": "SUCCEEDED",
            "VideoMetadata": video_metadata(**meta),
            "Persons": persons[start:start + page_size],
            "JobId": job_id,
            "Video": {"S3Object": {"Bucket": "clips", "Name": "test.mp4"}},
        }
        if start + page_size < len(persons):
            page["NextToken"] = f"tok{start + page_size}"
        pages.append(page)
    return pages


def write_archive(path: Path, **kwargs: Any) -> Path:
    """An archived AWS CLI output (one merged response) for a made-up job."""
    n_frames = kwargs.pop("n_frames", 100)
    persons = make_persons(n_frames=n_frames, **kwargs)
    doc = make_pages(persons, page_size=10**9, n_frames=n_frames)[0]
    path.write_text(json.dumps(doc))
    return path


def write_numbered_video(path: Path, n_frames: int = 100, *, fps: float = FPS, width: int = WIDTH,
                         height: int = HEIGHT) -> Path:
    """An H.264 MP4 with the frame number painted into each frame (via imageio-ffmpeg)."""
    import subprocess

    import cv2
    import imageio_ffmpeg

    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
        "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
        "-g", "50", str(path),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for i in range(n_frames):
        img = np.full((height, width, 3), 40, np.uint8)
        cv2.putText(img, str(i), (20, height - 40), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 6)
        proc.stdin.write(img.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("ffmpeg failed to write the test video")
    return path



def timeline_figure(at: Any, key: str = "viewer_timeline") -> dict[str, Any]:
    """The plotly figure the timeline component of an AppTest run was sent: of the
    figures the page built (kept in its session), the one whose media URL it was given
    (AppTest's media endpoint is gone once the run returns)."""
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    element = next(e for e in at.get("component_instance") if e.proto.component_name.endswith("peoplepath_timeline"))
    file_id = json.loads(element.proto.json_args)["figure"].rsplit("/", 1)[1].split(".")[0]
    built = at.session_state[f"{key}_figures"].values()
    return json.loads(next(fig for fig, _ in built if _calculate_file_id(fig, "application/json") == file_id))
