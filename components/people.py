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
from peoplepath.video import FrameReader, VideoError

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
    """Thumbnails of one job's persons, cut on demand (the persons of the table page on
    screen) by a background thread, never in a page run, into `done` as they come.
    While the page's reader builds the proxy of a long-GOP video, the thread seeks the
    original through a reader of its own, so it never holds the page's reader."""

    def __init__(self, data: JobData, reader: Any, blur: bool = False) -> None:
        self.done: dict[int, str | None] = {}
        self._table, self._blur, self._reader = data.table, blur, reader
        self._boxes = best_boxes(data).set_index("index")
        self._queue: list[int] = []
        self._wake = threading.Condition()
        self._own_reader: FrameReader | None = None
        threading.Thread(target=self._cut_requested, name="thumbnails", daemon=True).start()

    def request(self, indexes: Any) -> None:
        """Cut these persons' thumbnails next (those not cut or queued yet)."""
        with self._wake:
            new = [int(i) for i in indexes if int(i) not in self.done and int(i) not in self._queue]
            for i in new:
                if i not in self._boxes.index:
                    self.done[i] = None  # no person box: nothing to cut
                else:
                    self._queue.append(i)
            self._wake.notify()

    def pending(self, indexes: Any) -> int:
        """How many of these persons' thumbnails are still to come."""
        return sum(int(i) not in self.done for i in indexes)

    def _frames(self) -> Any:
        if not getattr(self._reader, "building_proxy", False):
            return self._reader
        if self._own_reader is None:
            self._own_reader = FrameReader(self._reader.path, proxy="off", cache_bytes=0)
        return self._own_reader

    def _cut_requested(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                index = self._queue.pop(0)
            row = self._boxes.loc[index]
            cut = None
            try:
                image = self._frames().frame_at_ms(int(row.timestamp_ms)).image
                if self._blur:
                    image = privacy.blur_faces(image, self._table[self._table["timestamp_ms"] == row.timestamp_ms])
                cut = thumbnail(image, (row.left, row.top, row.width, row.height))
            except (VideoError, IndexError, ValueError, OSError):
                pass  # a frame that does not decode: no thumbnail for this person
            self.done[index] = cut
            time.sleep(0)  # let the page's own frames through first


@st.cache_resource(max_entries=8, show_spinner=False)
def thumbnails(cache_key: str, video_key: str, _data: JobData, _reader: Any, blur: bool = False) -> Thumbnails | None:
    """The job's thumbnails, cut in the background as pages of the table ask for them
    (None without a video: blank frames have nothing to show); with `blur`, the faces
    of each moment blurred."""
    if isinstance(_reader, BlankFrames):
        return None
    return Thumbnails(_data, _reader, blur)


@st.cache_data(max_entries=8, show_spinner=False)
def _heatmap(cache_key: str, _data: JobData) -> np.ndarray:
    return results.heatmap(_data.table)


def _people_table(data: JobData, thumbs: Thumbnails | None, *, key: str, live: bool = False) -> None:
    """One page of the people table, with the thumbnails cut so far; a still table
    turned to a page still to cut reruns the page, which draws the live one."""
    s = data.summary
    pages = max(1, -(-len(s) // PAGE_ROWS))
    top = st.columns([1, 3])
    page = top[0].number_input(f"Page (of {pages})", 1, pages, key=f"{key}_page", step=1) if pages > 1 else 1
    s = s.iloc[(page - 1) * PAGE_ROWS: page * PAGE_ROWS]
    ready = thumbs.done if thumbs is not None else {}
    if thumbs is not None:
        thumbs.request(s["index"])
        if thumbs.pending(s["index"]) and not live:
            st.rerun()
        if thumbs.pending(s["index"]):
            top[1].caption(f"Cutting this page's thumbnails in the background: {thumbs.pending(s['index'])} to go")
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


@st.fragment(run_every=1)
def _live_table(data: JobData, thumbs: Thumbnails, *, key: str) -> None:
    """The table while its page's thumbnails are being cut: redrawn every second, then
    once more by a run of the page, which draws the still table."""
    if not thumbs.pending(_page_indexes(data, key)):
        st.rerun()
    _people_table(data, thumbs, key=key, live=True)


def _page_indexes(data: JobData, key: str) -> Any:
    page = int(st.session_state.get(f"{key}_page") or 1)
    return data.summary["index"].iloc[(page - 1) * PAGE_ROWS: page * PAGE_ROWS]


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
    if thumbs is not None:
        thumbs.request(_page_indexes(data, key))
    live = thumbs is not None and thumbs.pending(_page_indexes(data, key))
    (_live_table if live else _still_table)(data, thumbs, key=key)
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
