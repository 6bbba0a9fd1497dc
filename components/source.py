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
    archive: tuple[bytes, ...] = ()  # one file's content, or several page files in order
    archive_names: tuple[str, ...] = ()
    video: Path | None = None

    @property
    def archive_name(self) -> str:
        return ", ".join(self.archive_names)


ARCHIVE_TYPES = ["json", "jsonl", "ndjson", "txt"]


def render_source(*, key: str) -> Source:
    """The source panel (call inside `st.sidebar`); returns what the user picked."""
    linked = st.query_params.get("archive", "")  # a reloaded page keeps its archived file
    st.session_state.setdefault(f"{key}_kind", ARCHIVE if linked else JOB)
    st.session_state.setdefault(f"{key}_archive_path", linked)
    st.session_state.setdefault(f"{key}_video_path", st.query_params.get("video", ""))
    kind = st.radio("Results from", (JOB, ARCHIVE, START), key=f"{key}_kind", horizontal=True)
    endpoint = _endpoint(key) if kind != ARCHIVE else loading.Endpoint()
    if kind == START:
        _start_job(endpoint, key=key)
    if kind in (JOB, START):
        job_id = st.text_input("JobId", key="job_id", placeholder="from StartPersonTracking").strip()
        if job_id and not contract.is_valid_job_id(job_id):
            st.error("A JobId is 1-64 characters of letters, digits, '-' and '_'.")
        _link("archive", "")
        return Source(kind=JOB, endpoint=endpoint, job_id=job_id, video=_video(key, optional=True))
    uploads = st.file_uploader(
        "GetPersonTracking JSON: one response, AWS CLI output, a list of pages, a list of PersonDetection "
        "objects, JSON lines, or several page files at once (in order); or another tracker's MOTChallenge "
        "txt (with its video)", type=ARCHIVE_TYPES, key=f"{key}_archive", accept_multiple_files=True)
    path_text = st.text_input("... or a path to one (or a folder of page files)", key=f"{key}_archive_path").strip()
    contents: tuple[bytes, ...] = ()
    names: tuple[str, ...] = ()
    if uploads:
        contents, names = tuple(u.getvalue() for u in uploads), tuple(u.name for u in uploads)
        st.caption("Uploaded files are not kept when the page reloads: upload them again then, "
                   "or give a path, which the page's link keeps.")
        _link("archive", "")
    elif path_text:
        paths = _archive_paths(Path(path_text).expanduser())
        if paths:
            contents, names = tuple(p.read_bytes() for p in paths), tuple(p.name for p in paths)
            _link("archive", path_text)
        else:
            st.error(f"No such file (or no .json / .jsonl files in that folder): {path_text}")
    video = _video(key, optional=False)
    return Source(kind=ARCHIVE, endpoint=endpoint, archive=contents, archive_names=names, video=video)


def _archive_paths(path: Path) -> list[Path]:
    """The file, or a folder's page files in name order."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".jsonl", ".ndjson"))
    return []


def _link(name: str, value: str) -> None:
    """Keep `name=value` in the page's link (removed when empty)."""
    if value and st.query_params.get(name) != value:
        st.query_params[name] = value
    elif not value and name in st.query_params:
        del st.query_params[name]


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
        _link("video", "")
        return loading.save_upload(upload.name, upload.getvalue())
    if text:
        path = Path(text).expanduser()
        if path.is_file():
            _link("video", text)
            return path
        st.error(f"No such video file: {path}")
    _link("video", "")
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
