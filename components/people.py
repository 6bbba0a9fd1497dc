"""People: one row per person (first/last seen, duration, detections, face share, a
thumbnail), a person's whole path over a frame, and a heatmap of where people were."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np
import pandas as pd
import streamlit as st

from peoplepath import overlay, privacy, results

from .loading import JobData


def _data_url(image: np.ndarray) -> str:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else ""


@st.cache_data(max_entries=8, show_spinner="Cutting thumbnails...")
def thumbnails(cache_key: str, video_key: str, _data: JobData, _reader: Any, blur: bool = False) -> dict[int, str]:
    """A small crop of each person at their largest box, as data URLs; with `blur`, the
    faces of that moment blurred (privacy.blur_faces)."""
    table, out = _data.table, {}
    for row in _data.summary.itertuples():
        hit = table[(table["index"] == row.index) & (table["timestamp_ms"] == row.best_ms) & table["has_box"]]
        if hit.empty:
            continue
        image = _reader.frame_at_ms(row.best_ms).image
        if blur:
            image = privacy.blur_faces(image, table[table["timestamp_ms"] == row.best_ms])
        h, w = image.shape[:2]
        b = hit.iloc[0]
        x1, y1 = int(max(b["left"] * w - 4, 0)), int(max(b["top"] * h - 4, 0))
        x2, y2 = int(min((b["left"] + b["width"]) * w + 4, w)), int(min((b["top"] + b["height"]) * h + 4, h))
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        crop = image[y1:y2, x1:x2]
        scale = 96 / crop.shape[0]
        out[int(row.index)] = _data_url(cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), 96)))
    return out


def render_people(data: JobData, reader: Any, *, key: str, video_key: str) -> int | None:
    """The people table, a person's path and the heatmap; returns the chosen person."""
    if data.summary.empty:
        st.info("No persons in this job.")
        return None
    s = data.summary.copy()
    blur = st.toggle("Blur faces in thumbnails", key=f"{key}_blur", value=False)
    thumbs = thumbnails(data.cache_key, video_key, data, reader, blur)
    table = pd.DataFrame({
        "Person": s["index"].map(lambda i: f"#{i}"),
        "Thumbnail": s["index"].map(lambda i: thumbs.get(int(i))),
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
    left, right = st.columns(2)
    with left:
        person = st.selectbox("Path of", s["index"].tolist(), key=f"{key}_path_person", format_func=lambda i: f"#{i}")
        row = s[s["index"] == person].iloc[0]
        base = reader.frame_at_ms(int(row["best_ms"])).image
        st.image(cv2.cvtColor(overlay.draw_path(base, data.table, int(person)), cv2.COLOR_BGR2RGB),
                 output_format="JPEG", width="stretch",
                 caption=f"#{person}: {row['first_ms'] / 1000:.2f}-{row['last_ms'] / 1000:.2f} s, "
                         f"drawn on its frame at {row['best_ms'] / 1000:.2f} s")
    with right:
        st.markdown("**Where people were** (feet positions)")
        first = reader.frame_at_index(0).image
        st.image(cv2.cvtColor(overlay.heatmap_overlay(first, results.heatmap(data.table)), cv2.COLOR_BGR2RGB),
                 output_format="JPEG", width="stretch",
                 caption="Heatmap of all person boxes' bottom centres over the first frame")
    return int(person)
