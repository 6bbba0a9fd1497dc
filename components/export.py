"""Export: detections as CSV, Parquet, MOTChallenge txt and Rekognition JSON; an
annotated clip of a time range as browser-playable H.264 MP4, faces blurred unless
unticked (the clip leaves the page)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from peoplepath import overlay, results
from peoplepath.export_video import ClipError, write_clip

from .loading import JobData


def render_export(data: JobData, reader: Any, *, key: str, t_ms: int = 0) -> Path | None:
    """Download buttons and the clip maker; returns the clip's path once made."""
    table, stem = data.table, data.job.job_id or "results"
    fps = float(data.meta.get("FrameRate") or reader.info.fps)
    cols = st.columns(4)
    cols[0].download_button("CSV", lambda: results.to_csv(table), f"{stem}.csv", "text/csv", key=f"{key}_csv", width="stretch")
    cols[1].download_button("Parquet", lambda: results.to_parquet(table), f"{stem}.parquet",
                            "application/vnd.apache.parquet", key=f"{key}_parquet", width="stretch")
    cols[2].download_button("MOTChallenge txt", lambda: results.to_mot(table, fps), f"{stem}.mot.txt", "text/plain",
                            key=f"{key}_mot", width="stretch", disabled="x1" not in table,
                            help="frame = ms_to_frame(Timestamp)+1, id = Index+1, pixel boxes")
    cols[3].download_button("Rekognition JSON", lambda: results.to_rekognition_json(table, data.job), f"{stem}.json",
                            "application/json", key=f"{key}_json", width="stretch")

    st.markdown("**Annotated clip** (H.264 MP4)")
    duration = float(reader.timestamps_ms[-1]) / 1000
    default = (max(0.0, t_ms / 1000 - 2), min(duration, t_ms / 1000 + 3))
    st.session_state.setdefault(f"{key}_range", (round(default[0], 2), round(default[1], 2)))
    start, end = st.slider("Time range (s)", 0.0, max(duration, 0.01), key=f"{key}_range", step=0.04)
    opts = st.columns(4)
    trails = opts[0].checkbox("Paths", value=True, key=f"{key}_clip_trails")
    faces = opts[1].checkbox("Faces and landmarks", value=True, key=f"{key}_clip_faces")
    blur = opts[2].checkbox("Blur faces", value=True, key=f"{key}_clip_blur",
                            help="Every face box, grown a little, and the head of persons without one (no landmarks)")
    if opts[3].button("Make clip", key=f"{key}_clip", type="primary"):
        out = Path(tempfile.gettempdir()) / "peoplepath-clips" / f"{stem}_{int(start * 1000)}_{int(end * 1000)}.mp4"
        bar = st.progress(0.0, text="Encoding...")
        try:
            write_clip(reader, table, int(start * 1000), int(end * 1000), out,
                       annotators=overlay.annotators(faces=faces, landmarks=faces, trails=trails), blur_faces=blur,
                       progress=lambda f: bar.progress(f, text=f"Encoding... {f:.0%}"))
        except (ClipError, OSError) as exc:
            st.error(f"The clip could not be made: {exc}")
            return None
        finally:
            bar.empty()
        st.session_state[f"{key}_clip_path"] = str(out)
    made = st.session_state.get(f"{key}_clip_path")
    if made and Path(made).is_file():
        st.video(made)
        st.download_button("Download the clip", Path(made).read_bytes(), Path(made).name, "video/mp4", key=f"{key}_clip_dl")
        return Path(made)
    return None
