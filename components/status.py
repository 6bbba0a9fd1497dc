"""The header: JobId, status, VideoMetadata and counts."""

from __future__ import annotations

import streamlit as st

from peoplepath import client as api

from .loading import JobData

_BADGE = {"SUCCEEDED": ":green-badge[SUCCEEDED]", "IN_PROGRESS": ":orange-badge[IN_PROGRESS]", "FAILED": ":red-badge[FAILED]"}


def render_status(data: JobData, *, key: str) -> None:
    """Title line, VideoMetadata line and four counts."""
    job, table = data.job, data.table
    name = f"**JobId** `{job.job_id}`" if job.job_id else "**Archived results**"
    if job.job_id and data.source == "archive":
        name = f"**Archived results** of JobId `{job.job_id}`"
    tag = f" · JobTag `{job.job_tag}`" if job.job_tag else ""
    st.markdown(f"{_BADGE.get(job.job_status, job.job_status)} {name}{tag}")
    st.caption(metadata_line(job))
    if job.partial:
        st.warning(f"**Partial results**: {job.partial}.", icon=":material/warning:")
    cols = st.columns(5)
    cols[0].metric("Persons", f"{table['index'].nunique():,}")
    cols[1].metric("Detections", f"{len(table):,}")
    cols[2].metric("With a face", f"{int(table['has_face'].sum()):,}")
    cols[3].metric("Face only (no person box)", f"{int((~table['has_box']).sum()):,}")
    meta = data.meta
    cols[4].metric("Duration", f"{(meta.get('DurationMillis') or 0) / 1000:.1f} s")


def metadata_line(job: api.JobResult) -> str:
    meta = job.video_metadata or {}
    parts = []
    s3 = job.s3_object
    if s3:
        parts.append(f"s3://{s3['Bucket']}/{s3['Name']}")
    if meta:
        parts.append(f"{meta.get('FrameWidth', '?')}x{meta.get('FrameHeight', '?')}")
        if meta.get("FrameRate"):
            parts.append(f"{float(meta['FrameRate']):.3g} fps")
        for k in ("Codec", "Format", "ColorRange"):
            if meta.get(k):
                parts.append(str(meta[k]))
    return " · ".join(parts) or "No VideoMetadata"


def render_unfinished(job: api.JobResult, *, key: str) -> None:
    """A job that is not SUCCEEDED: its status, and the StatusMessage when it FAILED."""
    st.markdown(f"{_BADGE.get(job.job_status, job.job_status)} **JobId** `{job.job_id}`")
    if job.job_status == "FAILED":
        st.error(f"The job failed: {job.status_message or 'no StatusMessage given'}")
    else:
        st.info("The job is still running; this page refreshes by itself until it finishes.")


def render_progress(progress: float | None, *, key: str) -> None:
    """A running job's progress: a bar with the percent when the service reports it."""
    if progress is None:
        st.caption("This endpoint does not report progress (GetPersonTracking only says IN_PROGRESS).")
    else:
        st.progress(min(max(progress, 0.0), 1.0), text=f"Analysed {progress:.0%} of the video")
