"""An annotated clip of a time range as browser-playable H.264 MP4 (libx264, yuv420p,
+faststart), encoded by the ffmpeg binary that ships inside `imageio-ffmpeg`; faces
blurred on request (`privacy.FaceBlurAnnotator`) before anything is drawn."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from . import overlay, privacy
from .results import frames_from_timestamps


class ClipError(Exception):
    """The clip could not be made (bad range, or the encoder failed)."""


def write_clip(
    reader: Any,
    table: pd.DataFrame,
    start_ms: int,
    end_ms: int,
    out_path: str | Path,
    *,
    annotators: Sequence[overlay.Annotator] | None = None,
    crf: int = 23,
    blur_faces: bool = False,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Encode the frames of `reader` (a `video.FrameReader`) from `start_ms` to `end_ms`
    (inclusive), each with the detections of its frame drawn on it, to `out_path`.
    `table` must be sorted by time (as `results.build_table` makes it).
    The clip's frame rate is the video's; `progress(fraction)` is called per frame.
    With `blur_faces`, every face (see `privacy`) is blurred first on every frame, and
    landmarks are not drawn."""
    import imageio_ffmpeg

    times = np.asarray(reader.timestamps_ms)
    if end_ms < start_ms:
        raise ClipError(f"The range ends ({end_ms} ms) before it starts ({start_ms} ms)")
    first = int(frames_from_timestamps(np.array([start_ms]), times)[0])
    last = int(frames_from_timestamps(np.array([end_ms]), times)[0])
    annotators = overlay.annotators() if annotators is None else list(annotators)
    if blur_faces:  # and no landmarks: they would redraw the face's geometry
        annotators = [privacy.FaceBlurAnnotator(), *(a for a in annotators if not isinstance(a, overlay.LandmarkAnnotator))]
    det_frames = frames_from_timestamps(table["timestamp_ms"].to_numpy(), times) if len(table) else np.zeros(0, int)
    info = reader.info
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{info.width}x{info.height}", "-r", f"{info.fps:.6f}",
        "-i", "-",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",  # yuv420p needs even sizes
        "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", str(out),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for i in range(first, last + 1):
            frame = reader.frame_at_index(i)
            rows = table.iloc[np.searchsorted(det_frames, i, 'left'):np.searchsorted(det_frames, i, 'right')]
            view = overlay.View(rows, table, frame.timestamp_ms)
            proc.stdin.write(overlay.render(frame.image, view, annotators).tobytes())
            if progress is not None:
                progress((i - first + 1) / (last - first + 1))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    finally:
        err = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
    if code != 0:
        raise ClipError(f"ffmpeg failed ({code}): {err.strip()[-500:]}")
    return out
