"""The in-browser player: a Streamlit component (components.v1 with a static index.html
and player.js, no build step) that plays the browser-playable video with the detections
drawn over it, frame by frame, and reports the current frame back to the page.

The video reaches the browser through Streamlit's own media endpoint (Range requests;
no other server, works offline). Detections go to the browser per frame for a window
around the current time (the whole job when it is small)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from peoplepath import overlay

_component = components.declare_component("peoplepath_player", path=str(Path(__file__).parent / "frontend"))
WHOLE_JOB_ROWS = 20_000  # up to this many detections are all sent; above, a window
WINDOW_S = 60.0  # seconds either side of the current time
MAX_MEDIA_BYTES = 1 << 30  # larger videos stay in the exact-frame view (the media endpoint holds files in memory)


def frame_times(times_ms: np.ndarray, fps: float) -> dict[str, Any]:
    """The frame timestamps, compactly: `fps` and `n` when they follow contract.frame_to_ms."""
    n = len(times_ms)
    expected = np.rint(np.arange(n) * 1000.0 / fps).astype(np.int64) if fps else None
    if expected is not None and np.array_equal(expected, times_ms):
        return {"fps": fps, "n": n}
    return {"fps": fps, "n": n, "times": [int(t) for t in times_ms]}


def per_frame(table: pd.DataFrame, det_frames: np.ndarray, lo: int, hi: int) -> dict[str, list[list[Any]]]:
    """Detections of frames lo..hi as {frame: [[Index, l, t, w, h, fl, ft, fw, fh], ...]}
    (ratios to 4 decimals; None where a box is absent)."""
    sel = (det_frames >= lo) & (det_frames <= hi)
    rows = table[sel]
    cols = ["left", "top", "width", "height", "face_left", "face_top", "face_width", "face_height"]
    values = np.round(rows[cols].to_numpy(dtype=np.float64), 4)
    out: dict[str, list[list[Any]]] = {}
    for f, idx, vals in zip(det_frames[sel], rows["index"].to_numpy(), values):
        out.setdefault(str(int(f)), []).append([int(idx)] + [None if np.isnan(v) else float(v) for v in vals])
    return out


def window(n_rows: int, frame: int, fps: float, n_frames: int) -> tuple[int, int]:
    """The frames whose detections are sent: all, or WINDOW_S either side of `frame`."""
    if n_rows <= WHOLE_JOB_ROWS:
        return 0, n_frames - 1
    span = int(WINDOW_S * (fps or 25.0))
    return max(0, frame - span), min(n_frames - 1, frame + span)


def render_player(*, url: str, table: pd.DataFrame, det_frames: np.ndarray, times_ms: np.ndarray, fps: float,
                  size: tuple[int, int], frame: int, seek: int, current: int, boxes: bool, faces: bool,
                  max_height: int, key: str, on_change: Callable[[], None]) -> None:
    """The player; a new `seek` number makes it go to `frame` (the page moved it).
    `current` (the page's frame) only picks the window of detections sent, in steps of
    half a window, so that while it plays the arguments stay the same and Streamlit sends
    nothing. Its reports land in `st.session_state[key]` ({"frame", "t_ms", "playing"})
    and call `on_change`."""
    half = int(WINDOW_S * (fps or 25.0)) // 2 or 1
    lo, hi = window(len(table), current // half * half, fps, len(times_ms))
    _component(
        url=url, **frame_times(np.asarray(times_ms), fps), frames=per_frame(table, det_frames, lo, hi),
        frame=int(frame), seek=int(seek), width=int(size[0]), height=int(size[1]), boxes=boxes, faces=faces,
        max_height=int(max_height), colours=[overlay.color_hex(i) for i in range(20)], key=key,
        on_change=on_change, default=None,
    )


def playable_url(path: Path, codec: str, container: str) -> tuple[str | None, str]:
    """A URL the browser plays `path` from (the original when it is H.264 in MP4/MOV,
    else its H.264 proxy, built once), registered with Streamlit's media endpoint; or
    None and why. Call it in the main script run (not a fragment), once per run."""
    from streamlit import runtime

    from peoplepath.video import build_proxy

    playable = path
    if codec.lower() not in ("h264", "avc1") or "mov" not in container.lower():
        with st.spinner("Making a browser-playable H.264 copy of the video (once)..."):
            playable = build_proxy(path)
    size = playable.stat().st_size
    if size > MAX_MEDIA_BYTES:
        return None, f"The video is {size / 2**30:.1f} GiB: the player takes up to 1 GiB; use the exact frame view"
    data = _read(str(playable), playable.stat().st_mtime_ns)
    return runtime.get_instance().media_file_mgr.add(data, "video/mp4", "peoplepath-player"), ""


@st.cache_resource(max_entries=2, show_spinner=False)
def _read(path: str, mtime_ns: int) -> bytes:
    return Path(path).read_bytes()

