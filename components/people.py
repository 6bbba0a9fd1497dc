"""People: one row per person (first/last seen, duration, detections, face share, a
thumbnail), a person's whole path over a frame, and a heatmap of where people were."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import cv2
import numpy as np
import pandas as pd
import streamlit as st

from peoplepath import overlay, privacy, results
from peoplepath.video import VideoError

from .loading import BlankFrames, JobData


PAGE_ROWS = 25  # people table rows per page: only a page's thumbnails are sent


def _data_url(image: np.ndarray) -> str:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else ""


def thumbnail(image: np.ndarray, box: tuple[float, float, float, float], height: int = 96) -> str | None:
    """A crop of `image` around the ratio box (left, top, width, height), `height` px
    tall, as a JPEG data URL; None when the box is off the frame."""
    h, w = image.shape[:2]
    left, top, bw, bh = box
    x1, y1 = int(max(left * w - 4, 0)), int(max(top * h - 4, 0))
    x2, y2 = int(min((left + bw) * w + 4, w)), int(min((top + bh) * h + 4, h))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    crop = image[y1:y2, x1:x2]
    scale = height / crop.shape[0]
    return _data_url(cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), height)))


def best_boxes(data: JobData) -> pd.DataFrame:
    """Each person's largest box (index, best_ms, left, top, width, height), in time
    order, so that cutting them reads the video forward."""
    t = data.table
    want = data.summary[["index", "best_ms"]].rename(columns={"best_ms": "timestamp_ms"})
    rows = t.loc[t["has_box"].to_numpy(), ["index", "timestamp_ms", "left", "top", "width", "height"]]
    hit = want.merge(rows, on=["index", "timestamp_ms"], how="inner").drop_duplicates("index")
    return hit.sort_values("timestamp_ms", kind="stable").reset_index(drop=True)


class Thumbnails:
    """Thumbnails of one job's persons, cut by a background thread (never in a page run)
    into `done` as they come. With a long-GOP video it first waits for the reader's
    random-access proxy, so cutting does not hold the reader with slow seeks."""

    def __init__(self, data: JobData, reader: Any, blur: bool = False) -> None:
        self.done: dict[int, str | None] = {}
        self._table, self._blur = data.table, blur
        self.total = len(data.summary)
        self._boxes = best_boxes(data)
        self._reader = reader
        self._thread = threading.Thread(target=self._cut_all, name="thumbnails", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def _cut_all(self) -> None:
        wait = getattr(self._reader, "wait_for_proxy", None)
        if wait is not None:
            wait()
        for row in self._boxes.itertuples(index=False):
            try:
                image = self._reader.frame_at_ms(int(row.timestamp_ms)).image
            except (VideoError, IndexError, ValueError):
                continue  # a frame that does not decode: no thumbnail for this person
            if self._blur:
                image = privacy.blur_faces(image, self._table[self._table["timestamp_ms"] == row.timestamp_ms])
            self.done[int(row.index)] = thumbnail(image, (row.left, row.top, row.width, row.height))
            time.sleep(0)  # let the page's own frames through the reader first


@st.cache_resource(max_entries=8, show_spinner=False)
def thumbnails(cache_key: str, video_key: str, _data: JobData, _reader: Any, blur: bool = False) -> Thumbnails | None:
    """The job's thumbnails being cut in the background (None without a video: blank
    frames have nothing to show); with `blur`, the faces of each moment blurred."""
    if isinstance(_reader, BlankFrames):
        return None
    return Thumbnails(_data, _reader, blur)


@st.cache_data(max_entries=8, show_spinner=False)
def _heatmap(cache_key: str, _data: JobData) -> np.ndarray:
    return results.heatmap(_data.table)


def _people_table(data: JobData, thumbs: Thumbnails | None, *, key: str) -> None:
    """One page of the people table, with the thumbnails cut so far."""
    s = data.summary
    pages = max(1, -(-len(s) // PAGE_ROWS))
    top = st.columns([1, 3])
    page = top[0].number_input(f"Page (of {pages})", 1, pages, key=f"{key}_page", step=1) if pages > 1 else 1
    s = s.iloc[(page - 1) * PAGE_ROWS: page * PAGE_ROWS]
    ready = thumbs.done if thumbs is not None else {}
    if thumbs is not None and not thumbs.finished:
        top[1].caption(f"Cutting thumbnails in the background: {len(ready):,} of {thumbs.total:,}")
    table = pd.DataFrame({
        "Person": s["index"].map(lambda i: f"#{i}"),
        "Thumbnail": s["index"].map(lambda i: ready.get(int(i))),
        "First seen (s)": s["first_ms"] / 1000,
        "Last seen (s)": s["last_ms"] / 1000,
        "Duration (s)": s["duration_ms"] / 1000,
        "Detections": s["detections"],
        "With a face": s["face_share"] * 100,
    })
    st.dataframe(table, hide_index=True, row_height=64, key=f"{key}_table", column_config={
        "Thumbnail": st.column_config.ImageColumn("Thumbnail", width="small"),
        "First seen (s)": st.column_config.NumberColumn(format="%.2f"),
        "Last seen (s)": st.column_config.NumberColumn(format="%.2f"),
        "Duration (s)": st.column_config.NumberColumn(format="%.2f"),
        "With a face": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100),
    })


@st.fragment(run_every=2)
def _live_table(data: JobData, thumbs: Thumbnails, *, key: str) -> None:
    """The table while thumbnails are being cut: redrawn every 2 s, then once more by a
    run of the page, which draws the still table."""
    if thumbs.finished:
        st.rerun()
    _people_table(data, thumbs, key=key)


_still_table = st.fragment(_people_table)


def render_people(data: JobData, reader: Any, *, key: str, video_key: str) -> int | None:
    """The people table (a page at a time), a person's path and the heatmap; returns
    the chosen person."""
    if data.summary.empty:
        st.info("No persons in this job.")
        return None
    s = data.summary
    blur = st.toggle("Blur faces in thumbnails", key=f"{key}_blur", value=False)
    thumbs = thumbnails(data.cache_key, video_key, data, reader, blur)
    (_live_table if thumbs is not None and not thumbs.finished else _still_table)(data, thumbs, key=key)
    left, right = st.columns(2)
    with left:
        person = st.selectbox("Path of", s["index"].tolist(), key=f"{key}_path_person", format_func=lambda i: f"#{i}")
        row = s[s["index"] == person].iloc[0]
        # On the person's own frame when that is a quick read; while a long-GOP video's
        # proxy is still being built, a seek there could take seconds: the first frame.
        quick = not getattr(reader, "building_proxy", False)
        at_ms = int(row["best_ms"]) if quick else 0
        base = reader.frame_at_ms(at_ms).image
        st.image(cv2.cvtColor(overlay.draw_path(base, data.table, int(person)), cv2.COLOR_BGR2RGB),
                 output_format="JPEG", width="stretch",
                 caption=f"#{person}: {row['first_ms'] / 1000:.2f}-{row['last_ms'] / 1000:.2f} s, "
                         f"drawn on {'its' if quick else 'the first'} frame at {at_ms / 1000:.2f} s")
    with right:
        st.markdown("**Where people were** (feet positions)")
        first = reader.frame_at_index(0).image
        st.image(cv2.cvtColor(overlay.heatmap_overlay(first, _heatmap(data.cache_key, data)), cv2.COLOR_BGR2RGB),
                 output_format="JPEG", width="stretch",
                 caption="Heatmap of all person boxes' bottom centres over the first frame")
    return int(person)
