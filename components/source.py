"""The sidebar: where results come from (a JobId on an endpoint, an archived file, or a
new job) and which video goes with them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from peoplepath import client as api
from peoplepath import contract

from . import loading

JOB, ARCHIVE, START = "JobId", "Archived file", "Start a job"
VIDEO_TYPES = ["mp4", "mov", "avi", "mkv", "m4v", "webm"]


@dataclass(frozen=True)
class Source:
    kind: str
    endpoint: loading.Endpoint
    job_id: str = ""
    archive: bytes | None = None
    archive_name: str = ""
    video: Path | None = None


def render_source(*, key: str) -> Source:
    """The source panel (call inside `st.sidebar`); returns what the user picked."""
    st.session_state.setdefault(f"{key}_kind", JOB)
    kind = st.radio("Results from", (JOB, ARCHIVE, START), key=f"{key}_kind", horizontal=True)
    endpoint = _endpoint(key) if kind != ARCHIVE else loading.Endpoint()
    if kind == START:
        _start_job(endpoint, key=key)
    if kind in (JOB, START):
        job_id = st.text_input("JobId", key="job_id", placeholder="from StartPersonTracking").strip()
        if job_id and not contract.is_valid_job_id(job_id):
            st.error("A JobId is 1-64 characters of letters, digits, '-' and '_'.")
        return Source(kind=JOB, endpoint=endpoint, job_id=job_id, video=_video(key, optional=True))
    upload = st.file_uploader("GetPersonTracking JSON (one response, a list of pages, or AWS CLI output), "
                              "or another tracker's MOTChallenge txt (with its video)",
                              type=["json", "txt"], key=f"{key}_archive")
    path_text = st.text_input("... or a path to one", key=f"{key}_archive_path").strip()
    content, name = None, ""
    if upload is not None:
        content, name = upload.getvalue(), upload.name
    elif path_text:
        path = Path(path_text).expanduser()
        if path.is_file():
            content, name = path.read_bytes(), path.name
        else:
            st.error(f"No such file: {path}")
    return Source(kind=ARCHIVE, endpoint=endpoint, archive=content, archive_name=name, video=_video(key, optional=False))


def _endpoint(key: str) -> loading.Endpoint:
    st.session_state.setdefault(f"{key}_mode", loading.default_endpoint_mode())
    with st.expander("Endpoint", expanded=False):
        mode = st.selectbox("API endpoint", loading.ENDPOINT_MODES, key=f"{key}_mode")
        url = st.text_input("Endpoint URL", key=f"{key}_url", placeholder="http://127.0.0.1:8765") if mode == loading.CUSTOM else ""
        profile = region = ""
        if mode != loading.EMBEDDED:
            profile = st.text_input("AWS profile (optional)", key=f"{key}_profile")
            region = st.text_input("AWS region (optional)", key=f"{key}_region")
        if mode == loading.EMBEDDED:
            st.caption(f"Data folder: `{loading.data_dir()}`")
    return loading.Endpoint(mode, url, profile, region)


def _video(key: str, *, optional: bool) -> Path | None:
    label = "Video (optional: the job's own is used when found)" if optional else "The video these results are about"
    with st.expander(label, expanded=not optional):
        upload = st.file_uploader("Upload a video", type=VIDEO_TYPES, key=f"{key}_video_upload")
        text = st.text_input("... or a path", key=f"{key}_video_path").strip()
    if upload is not None:
        return loading.save_upload(upload.name, upload.getvalue())
    if text:
        path = Path(text).expanduser()
        if path.is_file():
            return path
        st.error(f"No such video file: {path}")
    return None


def _start_job(endpoint: loading.Endpoint, *, key: str) -> None:
    """Pick a video in the local bucket folder or upload one, then StartPersonTracking."""
    buckets = loading.data_dir() / "buckets"
    local = sorted(
        p.relative_to(buckets).as_posix() for p in buckets.glob("*/**/*") if p.is_file() and p.suffix.lower()[1:] in VIDEO_TYPES
    ) if buckets.is_dir() else []
    st.caption(f"Videos are read by the service from `{buckets}/<Bucket>/<Name>`; an upload is saved there "
               "(bucket `uploads`), so uploads work with a service on this machine.")
    choice = st.selectbox("Video in the local bucket folder", ["(upload one)"] + local, key=f"{key}_start_pick")
    upload = None
    if choice == "(upload one)":
        upload = st.file_uploader("Upload a video to analyse", type=VIDEO_TYPES, key=f"{key}_start_upload")
    if st.button("Start person tracking", key=f"{key}_start", type="primary",
                 disabled=choice == "(upload one)" and upload is None):
        if upload is not None:
            target = buckets / "uploads" / Path(upload.name).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(upload.getvalue())
            bucket, name = "uploads", target.name
        else:
            bucket, _, name = choice.partition("/")
        try:
            job_id = api.start_job(loading.get_client(endpoint), bucket, name)
        except api.ClientCallError as exc:
            st.error(f"**{exc.code}**: {exc.message}")
            return
        st.session_state["job_id"] = job_id
        st.session_state["t_ms"] = 0
        st.rerun()
