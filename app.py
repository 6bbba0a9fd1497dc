"""PeoplePath dashboard page (served by `streamlit run dashboard.py`). Page layout only;
the panels live in components/ and the work in the peoplepath core library."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from components import loading
from components.export import render_export
from components.ground_truth import compare_job, render_gt_source, render_gt_tables, render_scores
from components.people import render_people
from components.player import playable_url, wait_for_copy
from components.source import JOB, render_source
from components.status import render_progress, render_status, render_unfinished
from components.viewer import FRAME, frame_at_ms, render_viewer
from components.zones import crossing_marks, geometry_layers, render_zones
from peoplepath import client as api
from peoplepath import contract
from peoplepath.video import VideoError

KEPT_WIDGET_STATE = ("zones_on_video", "zones_name", "people_blur", "people_page", "people_path_person")
HINTS = {
    "ResourceNotFoundException": "No job with this JobId on this endpoint.",
    "AccessDeniedException": "The endpoint refused these credentials.",
    "ThrottlingException": "The endpoint is still throttling after retries; try again in a moment.",
    "ProvisionedThroughputExceededException": "The endpoint is still throttling after retries; try again in a moment.",
    "EndpointConnectionError": "No endpoint answered; check the endpoint settings in the sidebar.",
    "ConnectTimeoutError": "No endpoint answered in time; check the endpoint settings in the sidebar.",
    "NoCredentialsError": "No AWS credentials found: set a profile or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.",
    "NoRegionError": "No AWS region set: pick one in the sidebar or set AWS_REGION.",
}

# The icon ships with the app (assets/make_icon.py draws it): a material icon as page_icon
# would be fetched from a font host on every load.
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
st.set_page_config(page_title="PeoplePath", page_icon=str(ICON), layout="wide")
st.markdown(
    "<style>.block-container{padding-top:1.2rem;padding-bottom:1rem}"
    "[data-testid='stMetricValue']{font-size:1.5rem}</style>",
    unsafe_allow_html=True,
)
st.session_state.setdefault("job_id", st.query_params.get("job_id", ""))
st.session_state.setdefault("link_t", st.query_params.get("t"))


def show_call_error(exc: api.ClientCallError) -> None:
    hint = HINTS.get(exc.code, "")
    st.error(f"**{exc.code}**: {exc.message}" + (f"\n\n{hint}" if hint else ""))


@st.fragment(run_every=2)
def poll(endpoint: loading.Endpoint, job_id: str) -> None:
    """Refresh a running job's status until it finishes, then reload the page."""
    try:
        job = loading.job_status(endpoint, job_id)
    except api.ClientCallError as exc:
        show_call_error(exc)
        return
    if job.job_status != "IN_PROGRESS":
        st.rerun()
    render_progress(loading.job_progress(endpoint, job_id), key="progress")
    st.caption(f"Still IN_PROGRESS at {time.strftime('%H:%M:%S')}")


def load(source) -> loading.JobData | None:
    """The results the sidebar points at, or a message saying why there are none."""
    try:
        if source.kind == JOB:
            if not source.job_id:
                st.markdown("## PeoplePath\nEnter a **JobId** in the sidebar, open an **archived file**, or "
                            "**start a job**. Links of the form `?job_id=<JobId>&t=<ms>` open a job at a moment.")
                return None
            if not contract.is_valid_job_id(source.job_id):
                st.error(f"**{source.job_id[:80]!r} is not a JobId.** A JobId is 1-64 characters of letters, "
                         "digits, '-' and '_' (StartPersonTracking returns one); correct it in the sidebar.")
                return None
            return loading.fetch(source.endpoint, source.job_id)
        if not source.archive:
            st.info("Upload or point at archived results in the sidebar: GetPersonTracking JSON (one response, "
                    "AWS CLI output, pages, JSON lines, a list of PersonDetection objects, or several page files), "
                    "or a MOTChallenge txt file with its video.")
            return None
        if source.archive_names[0].lower().endswith(".txt"):
            if len(source.archive) > 1:
                st.error("Open one MOTChallenge txt file at a time.")
                return None
            if source.video is None:
                st.info("A MOTChallenge file is timed in frames: supply its video in the sidebar.")
                return None
            info = loading.reader_for(source.video).info
            return loading.load_mot(source.archive[0], info.width, info.height, info.fps, info.duration_ms)
        return loading.load_archive(source.archive, loading.video_metadata_of(source.video))
    except loading.NotFinished as exc:
        render_unfinished(exc.job, key="status")
        if exc.job.job_status == "IN_PROGRESS":
            poll(source.endpoint, source.job_id)
    except api.ClientCallError as exc:
        show_call_error(exc)
    except (api.ArchiveError, ValueError) as exc:
        st.error(f"These results cannot be read: {exc}")
    except VideoError as exc:
        st.error(f"The video cannot be read: {exc}")
    except (RuntimeError, TimeoutError, OSError) as exc:
        st.error(f"The local PeoplePath service is not available: {exc}")
    return None


with st.sidebar:
    st.markdown("## :material/directions_walk: PeoplePath")
    source = render_source(key="source")
    gt_file = render_gt_source(key="gt")

data = load(source)
if data is None:
    st.stop()

render_status(data, key="status")
try:
    video_path, video_note = loading.video_for_job(data, source.endpoint, source.video)
except api.ClientCallError as exc:
    video_path, video_note = None, f"The job's video could not be downloaded: {exc.code}: {exc.message}"
reader, warnings = loading.open_frames(data, video_path)
for warning in warnings:
    st.warning(warning)
st.sidebar.caption(video_note + (" · drawing on blank frames" if video_path is None else ""))

# A new job or video starts at the deep link's time (once), else at the start.
loaded = f"{data.cache_key}|{video_path}"
if st.session_state.get("loaded") != loaded:
    st.session_state["loaded"] = loaded
    link_t = st.session_state.pop("link_t", None)
    try:
        start_ms = int(float(link_t)) if link_t is not None else 0
    except ValueError:
        st.warning(f"Ignoring the link's time t={link_t!r}: it must be milliseconds")
        start_ms = 0
    st.session_state[FRAME] = frame_at_ms(reader, start_ms)

player_url, player_note = None, ""
if video_path is not None and not isinstance(reader, loading.BlankFrames):
    try:
        player_url, player_note = playable_url(Path(video_path), reader)
    except (VideoError, OSError) as exc:
        player_note = f"The video cannot be played in the browser ({exc}); the exact frame view still works"
if player_note:
    st.sidebar.caption(player_note)
if player_url is None and getattr(reader, "building_proxy", False):
    with st.sidebar:
        wait_for_copy(reader)

comparison = compare_job(data, reader, gt_file, video_key=str(video_path)) if gt_file else None
if comparison:
    render_scores(comparison, key="gt_scores")
t_ms = render_viewer(data, reader, key="viewer", gt=comparison, player_url=player_url,
                     extra_layers=geometry_layers(key="zones"), marks=crossing_marks(data))
# Only the open tab runs (and reaches the browser): the others' charts, frames and tables
# would cost every step. Settings that the page uses outside their tab are kept.
for kept in KEPT_WIDGET_STATE:
    if kept in st.session_state:
        st.session_state[kept] = st.session_state[kept]
tabs = st.tabs(["People", "Export", "Lines & zones"] + (["Ground truth"] if comparison else []),
               key="tabs", on_change="rerun")
if tabs[0].open:
    with tabs[0]:
        render_people(data, reader, key="people", video_key=str(video_path))
if tabs[1].open:
    with tabs[1]:
        render_export(data, reader, key="export", t_ms=t_ms or 0)
if tabs[2].open:
    with tabs[2]:
        render_zones(data, reader, key="zones")
if comparison and tabs[3].open:
    with tabs[3]:
        render_gt_tables(comparison, key="gt_tables")
