"""The in-browser player: a Streamlit component (components.v1 with a static index.html
and player.js, no build step) that plays the browser-playable video with the detections
drawn over it, frame by frame, and reports the current frame back to the page.

The video reaches the browser from disk, through the dashboard server's video route
(components/video_route.py; Range requests, works offline). Detections go to the browser
per frame for a window around the current time (the whole job when it is small)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from components import video_route
from components.media import json_url
from peoplepath import overlay
from peoplepath.video import FrameReader

_component = components.declare_component("peoplepath_player", path=str(Path(__file__).parent / "frontend"))
WHOLE_JOB_ROWS = 20_000  # up to this many detections are all sent; above, a window
WINDOW_S = 60.0  # seconds either side of the current time
SHORT_PIXELS = 450 * 1280 * 720  # up to this many pixels (about 2 s of encoding), a copy is made in the page run


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


def _detections_json(table: pd.DataFrame, det_frames: np.ndarray, lo: int, hi: int, *, ident: str, key: str) -> bytes:
    """per_frame(...) as JSON, built once per (ident, window) (a few kept per session)."""
    memo: dict = st.session_state.setdefault(f"{key}_detections", {})
    if (ident, lo, hi) not in memo:
        while len(memo) >= 4:
            memo.pop(next(iter(memo)))
        memo[(ident, lo, hi)] = json.dumps(per_frame(table, det_frames, lo, hi), separators=(",", ":")).encode()
    return memo[(ident, lo, hi)]


def render_player(*, url: str, table: pd.DataFrame, det_frames: np.ndarray, times_ms: np.ndarray, fps: float,
                  size: tuple[int, int], frame: int, seek: int, current: int, boxes: bool, faces: bool,
                  max_height: int, key: str, detections_key: str, on_change: Callable[[], None]) -> None:
    """The player; a new `seek` number makes it go to `frame` (the page moved it).
    `current` (the page's frame) only picks the window of detections, in steps of half a
    window; the window reaches the browser by URL (fetched once per window; the
    detections of `table` are named by `detections_key`), so a step or a played frame
    sends only a few numbers. Its reports land in `st.session_state[key]` ({"frame",
    "t_ms", "playing"}) and call `on_change`."""
    half = int(WINDOW_S * (fps or 25.0)) // 2 or 1
    lo, hi = window(len(table), current // half * half, fps, len(times_ms))
    detections = _detections_json(table, det_frames, lo, hi, ident=detections_key, key=key)
    _component(
        url=url, **frame_times(np.asarray(times_ms), fps), frames_url=json_url(detections, name=f"player-{key}"),
        frame=int(frame), seek=int(seek), width=int(size[0]), height=int(size[1]), boxes=boxes, faces=faces,
        max_height=int(max_height), colours=[overlay.color_hex(i) for i in range(20)], key=key,
        on_change=on_change, default=None,
    )


def playable_url(path: Path, reader: FrameReader) -> tuple[str | None, str]:
    """A URL the browser plays `path` from, or None and why. The original when it is
    H.264 in MP4/MOV; else its H.264 proxy: built here when the video is short, in the
    background otherwise (the Play view comes once it is ready; see `wait_for_copy`)."""
    if not video_route.mounted():
        return None, "The player needs the dashboard's server (`streamlit run dashboard.py`); the exact frame view works"
    info = reader.info
    if info.codec.lower() in ("h264", "avc1") and "mov" in info.format.lower():
        return video_route.register(path), ""
    reader.start_proxy()  # the reader's proxy is H.264 in MP4 (and its seeks are quicker)
    if reader.proxy_path is None and len(reader.timestamps_ms) * info.width * info.height <= SHORT_PIXELS:
        with st.spinner("Making a browser-playable H.264 copy of the video (once)..."):
            reader.wait_for_proxy()
    if reader.proxy_path is not None:
        return video_route.register(reader.proxy_path), ""
    if reader.building_proxy:
        return None, "A browser-playable copy of the video is being made in the background; Play comes when it is ready"
    return None, "No browser-playable copy of the video could be made; the exact frame view works"


@st.fragment(run_every=2.0)
def wait_for_copy(reader: FrameReader) -> None:
    """While the reader builds its proxy, look every 2 s; rerun the page when it is ready."""
    if not reader.building_proxy:
        st.rerun()
