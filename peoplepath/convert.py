"""`python -m peoplepath convert`: archived results in any form the dashboard reads
(GetPersonTracking JSON in every shape `archives` knows, or MOTChallenge txt with its
video) written out with the dashboard's exporters (CSV, Parquet, MOTChallenge, JSON)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from . import client, results

FORMATS = ("csv", "parquet", "mot", "json")


def video_metadata(video: Path) -> dict:
    """GetPersonTracking's VideoMetadata for a video file."""
    from .video import probe

    return metadata_of(probe(video))


def metadata_of(info: Any) -> dict:
    """GetPersonTracking's VideoMetadata for a `video.VideoInfo`."""
    return {"Codec": info.codec, "DurationMillis": info.duration_ms, "Format": info.format, "FrameRate": info.fps,
            "FrameHeight": info.height, "FrameWidth": info.width, "ColorRange": info.color_range}


def read(inputs: Sequence[Path], video: Path | None = None) -> client.JobResult:
    """The results in `inputs` (several page files in order, or one MOTChallenge txt
    timed by `video`); results without VideoMetadata take the video's."""
    if not inputs:
        raise client.ArchiveError("Give at least one input file")
    meta = video_metadata(video) if video is not None else None
    if any(p.suffix.lower() == ".txt" for p in inputs):
        if len(inputs) > 1:
            raise client.ArchiveError("Convert one MOTChallenge txt file at a time")
        if meta is None:
            raise client.ArchiveError("A MOTChallenge file is timed in frames: give its video with --video")
        return client.load_mot(inputs[0], width=meta["FrameWidth"], height=meta["FrameHeight"],
                               fps=meta["FrameRate"], duration_ms=meta["DurationMillis"])
    job = client.load_archive(list(inputs) if len(inputs) > 1 else inputs[0])
    if meta is not None and not job.video_metadata:
        job = replace(job, video_metadata=meta)
    return job


def write(job: client.JobResult, table: pd.DataFrame, fmt: str, out: Path) -> None:
    """Write `table` (of `job`) as `fmt` to `out`."""
    if fmt == "csv":
        out.write_bytes(results.to_csv(table))
    elif fmt == "parquet":
        out.write_bytes(results.to_parquet(table))
    elif fmt == "mot":
        fps = (job.video_metadata or {}).get("FrameRate")
        if not fps or "x1" not in table:
            raise ValueError("MOTChallenge output needs the frame size and rate: these results have no "
                             "VideoMetadata, so give their video with --video")
        out.write_text(results.to_mot(table, float(fps)))
    elif fmt == "json":
        out.write_text(results.to_rekognition_json(table, job))
    else:
        raise ValueError(f"--to must be one of {', '.join(FORMATS)}; got {fmt!r}")
