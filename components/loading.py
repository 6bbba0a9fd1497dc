"""Getting a job's results and its video into the page: cached per JobId / file, with
every failure turned into a message instead of a traceback."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from peoplepath import client as api
from peoplepath import contract, results
from peoplepath.convert import metadata_of
from peoplepath.video import Frame, FrameReader, VideoError, VideoInfo

# Arrow allocates from the system allocator here: its default (mimalloc) kept the freed
# buffers of a long job's fetch resident, about 50 MB of the peak (a 277,200-detection
# fetch and join: peak 323 -> 256 MB, from 135 MB; fetch time the same).
pa.set_memory_pool(pa.system_memory_pool())

EMBEDDED, BOTO, CUSTOM = "Local PeoplePath service", "boto3 settings (AWS or AWS_ENDPOINT_URL)", "Custom endpoint URL"
ENDPOINT_MODES = (EMBEDDED, BOTO, CUSTOM)
PROGRESS_EVERY_S = 0.25


@dataclass(frozen=True)
class Endpoint:
    """Where the API is: the embedded local service, boto3's own settings, or a URL."""

    mode: str = EMBEDDED
    url: str = ""
    profile: str = ""
    region: str = ""


@dataclass(frozen=True)
class JobData:
    """A loaded job: its metadata (JobResult without the Persons list, which lives on as
    the table), the detections table and what the panels derive from it."""

    job: api.JobResult
    table: pd.DataFrame
    summary: pd.DataFrame
    segments: pd.DataFrame
    per_second: pd.DataFrame
    source: str  # "api" or "archive"
    cache_key: str  # names these results (JobId, or a digest of the archive)

    @property
    def meta(self) -> dict[str, Any]:
        return self.job.video_metadata or {}


def default_endpoint_mode() -> str:
    if _env_url():
        return BOTO
    return EMBEDDED


def data_dir() -> Path:
    """The local service's data folder (its `buckets/` hold the videos)."""
    from peoplepath.service.config import DEFAULT_DATA_DIR

    return Path(os.environ.get("PEOPLEPATH_DATA_DIR") or DEFAULT_DATA_DIR).resolve()


@st.cache_resource(show_spinner="Starting the local PeoplePath service...")
def _embedded_url() -> str:
    from peoplepath.service.embedded import ensure_local_service

    return ensure_local_service(data_dir())


def get_client(endpoint: Endpoint) -> Any:
    """A boto3 client for `endpoint`: the embedded local service, a custom URL, or
    boto3's own settings (AWS_ENDPOINT_URL_REKOGNITION / AWS_ENDPOINT_URL, or AWS)."""
    if endpoint.mode == EMBEDDED:
        url: str | None = _embedded_url()
    elif endpoint.mode == CUSTOM:
        if not endpoint.url.strip():
            raise api.ClientCallError("NoEndpoint", "Enter an endpoint URL, or pick another source of results")
        url = endpoint.url.strip()
    else:
        url = _env_url() or None
    return _client(url, endpoint.profile or None, endpoint.region or None)


def _env_url() -> str:
    return os.environ.get("AWS_ENDPOINT_URL_REKOGNITION") or os.environ.get("AWS_ENDPOINT_URL") or ""


@st.cache_resource(max_entries=8, show_spinner=False)
def _client(url: str | None, profile: str | None, region: str | None) -> Any:
    """One client per setting (boto3 clients are thread-safe)."""
    return api.make_client(url, profile_name=profile, region_name=region)


def _derive(job: api.JobResult, table: pd.DataFrame, source: str, cache_key: str) -> JobData:
    return JobData(
        job=replace(job, persons=[]),
        table=table,
        summary=results.person_summary(table),
        segments=results.segments(table),
        per_second=results.detections_per_second(table),
        source=source,
        cache_key=cache_key,
    )


class NotFinished(Exception):
    """The job is not SUCCEEDED: nothing to cache yet (or ever, when FAILED)."""

    def __init__(self, job: api.JobResult) -> None:
        super().__init__(job.job_status)
        self.job = job


def fetch(endpoint: Endpoint, job_id: str) -> JobData:
    """All pages of a SUCCEEDED job, cached per endpoint and JobId. Raises NotFinished
    for IN_PROGRESS / FAILED jobs (exceptions are not cached) and ClientCallError."""
    return _fetch(endpoint, _env_url() if endpoint.mode == BOTO else "", job_id)


# Loaded jobs are cached as shared objects (st.cache_resource), not copies: the panels
# only read them, and unpickling a copy of a long job's table on every run would cost
# its size in memory and time at every step.
@st.cache_resource(max_entries=16, show_spinner=False)
def _fetch(endpoint: Endpoint, env_url: str, job_id: str) -> JobData:
    bar = st.progress(0.0, text=f"Fetching the results of {job_id}...")
    table = results.StreamedTable()  # compact parts; the pages' Arrow records are dropped
    shown = [0.0]

    def progress(n: int) -> None:
        # A few updates a second: one per page (hundreds of them) cost the page run and
        # the browser a redraw each, 0.5 s for a 278-page job.
        if time.monotonic() - shown[0] >= PROGRESS_EVERY_S:
            shown[0] = time.monotonic()
            bar.progress(min(0.95, 1 - 1 / (1 + n / 5000)), text=f"Fetched {n:,} detections...")

    try:
        job = api.fetch_job(get_client(endpoint), job_id, progress=progress, on_persons=table.add,
                            persons_schema=results.RECORD_SCHEMA)
    finally:
        bar.empty()
    if job.job_status != "SUCCEEDED":
        raise NotFinished(job)
    return _derive(job, table.table(job), "api", f"api:{job_id}")


def job_status(endpoint: Endpoint, job_id: str) -> api.JobResult:
    """The job's status and metadata, one small uncached call (for polling)."""
    return api.fetch_status(get_client(endpoint), job_id)


def job_progress(endpoint: Endpoint, job_id: str) -> float | None:
    """How far a running job is (0..1) when its endpoint is a PeoplePath service (which
    reports it), else None (GetPersonTracking does not say)."""
    client = get_client(endpoint)
    if not is_service(client.meta.endpoint_url):
        return None
    try:
        return api.service_progress(client, job_id)
    except api.ClientCallError:
        return None


@st.cache_resource(max_entries=8, show_spinner="Reading the archived results...")
def load_archive(content: bytes | tuple[bytes, ...], fallback_meta: dict[str, Any] | None = None) -> JobData:
    """Archived results: one file's content or several page files in order (raises
    ArchiveError / ValueError). Results without VideoMetadata (a bare list of
    PersonDetection objects) take `fallback_meta`, their video's."""
    files = content if isinstance(content, tuple) else (content,)
    job = api.load_archive(list(files) if len(files) > 1 else files[0])
    if not job.video_metadata and fallback_meta:
        job = replace(job, video_metadata=dict(fallback_meta))
    digest = hashlib.sha256(b"".join(hashlib.sha256(f).digest() for f in files)).hexdigest()[:16]
    return _derive(job, results.table_from_job(job), "archive", f"archive:{digest}")


def video_metadata_of(path: Path | None) -> dict[str, Any] | None:
    """VideoMetadata as GetPersonTracking would report it for the video at `path`."""
    if path is None:
        return None
    try:
        info = reader_for(path).info
    except (VideoError, OSError):
        return None
    return metadata_of(info)


@st.cache_resource(max_entries=8, show_spinner="Reading the MOTChallenge file...")
def load_mot(content: bytes, width: int, height: int, fps: float, duration_ms: int) -> JobData:
    """Another tracker's MOTChallenge results, timed and sized by their video."""
    job = api.load_mot(content, width=width, height=height, fps=fps, duration_ms=duration_ms)
    digest = hashlib.sha256(content).hexdigest()[:16]
    return _derive(job, results.table_from_job(job), "archive", f"mot:{digest}")


# ------------------------------------------------------------------------------ video
@st.cache_data(ttl=60, show_spinner=False)
def is_service(endpoint_url: str) -> bool:
    """True when the endpoint is a PeoplePath service (it answers /ping as one)."""
    return api.is_peoplepath_service(endpoint_url)


class BlankFrames:
    """Frames for a job without a video: dark frames at the VideoMetadata size and
    rate, so the detections can still be drawn and scrubbed."""

    def __init__(self, meta: dict[str, Any], table: pd.DataFrame) -> None:
        fps = float(meta.get("FrameRate") or 0) or 25.0
        last = int(table["timestamp_ms"].max()) if len(table) else 0
        duration = int(meta.get("DurationMillis") or 0) or last + 1
        n = max(contract.ms_to_frame(max(duration - 1, last), fps) + 1, 1)
        width, height = int(meta.get("FrameWidth") or 1280), int(meta.get("FrameHeight") or 720)
        self.info = VideoInfo("none", "none", duration, fps, width, height, "LIMITED", n)
        self.timestamps_ms = np.array([contract.frame_to_ms(i, fps) for i in range(n)], dtype=np.int64)
        self._image = np.full((height, width, 3), 32, np.uint8)
        self._image.setflags(write=False)

    def frame_at_index(self, index: int) -> Frame:
        if not 0 <= index < len(self.timestamps_ms):
            raise IndexError(f"frame {index} is outside 0..{len(self.timestamps_ms) - 1}")
        return Frame(index, int(self.timestamps_ms[index]), self._image)

    def frame_at_ms(self, ms: float) -> Frame:
        i = int(np.searchsorted(self.timestamps_ms, ms, side="right")) - 1
        return self.frame_at_index(min(max(i, 0), len(self.timestamps_ms) - 1))


@st.cache_resource(max_entries=4, show_spinner="Opening the video...")
def open_reader(path: str, mtime_ns: int) -> FrameReader:
    """One FrameReader per video file (thread-safe, never mutated by the page)."""
    return FrameReader(path, cache_bytes=192 * 2**20)


def reader_for(path: Path) -> FrameReader:
    return open_reader(str(path.resolve()), path.stat().st_mtime_ns)


def save_upload(name: str, content: bytes) -> Path:
    """An uploaded video on disk (FrameReader reads files), in a folder named by its
    content and under its own file name (which the page shows)."""
    digest = hashlib.sha256(content).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "peoplepath-uploads" / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (Path(name).name or "video.mp4")
    if not path.exists():
        path.write_bytes(content)
    return path


def video_for_job(data: JobData, endpoint: Endpoint, supplied: Path | None) -> tuple[Path | None, str]:
    """The job's video: the one the user supplied, else the job's own from the local
    bucket folder, else from its PeoplePath service (`GET /jobs/<JobId>/video`), else
    (AWS settings) downloaded from S3. Returns (path, note)."""
    if supplied is not None:
        return supplied, f"Video: {supplied.name} (supplied)"
    local = api.local_video_path(data.job, data_dir())
    if local is not None:
        return local, f"Video: {local.name} (local bucket)"
    s3 = data.job.s3_object
    if data.source == "api" and data.job.job_id:
        client = get_client(endpoint)
        if is_service(client.meta.endpoint_url):
            with st.spinner("Fetching the job's video from its PeoplePath service..."):
                path = api.download_service_video(client, data.job, Path(tempfile.gettempdir()) / "peoplepath-service")
            return path, f"Video: {path.name} (from the PeoplePath service at {client.meta.endpoint_url})"
    if s3 and data.source == "api" and endpoint.mode == BOTO:
        cache = Path(tempfile.gettempdir()) / "peoplepath-s3"
        path = api.download_video(data.job, cache)
        return path, f"Video: s3://{s3['Bucket']}/{s3['Name']} (downloaded)"
    if s3:
        return None, (f"The job's video s3://{s3['Bucket']}/{s3['Name']} is not in {data_dir() / 'buckets'}: "
                      "supply it to see the frames")
    return None, "No video: supply one to see the frames"


def metadata_warnings(meta: dict[str, Any], info: VideoInfo) -> list[str]:
    """Where the video disagrees with the job's VideoMetadata."""
    out = []
    w, h = meta.get("FrameWidth"), meta.get("FrameHeight")
    if w and h and (w, h) != (info.width, info.height):
        out.append(f"frame size {info.width}x{info.height} but the job says {w}x{h}")
    fps = meta.get("FrameRate")
    if fps and abs(float(fps) - info.fps) > 0.01 * float(fps):
        out.append(f"{info.fps:.3f} fps but the job says {float(fps):.3f}")
    dur = meta.get("DurationMillis")
    if dur and info.fps and abs(int(dur) - info.duration_ms) > max(1000.0 / info.fps * 1.5, 0.01 * int(dur)):
        out.append(f"{info.duration_ms / 1000:.2f} s long but the job says {int(dur) / 1000:.2f} s")
    return out


def open_frames(data: JobData, path: Path | None) -> tuple[Any, list[str]]:
    """A FrameReader for `path` (or BlankFrames) and the warnings to show."""
    if path is None:
        return BlankFrames(data.meta, data.table), []
    try:
        reader = reader_for(path)
    except (VideoError, OSError) as exc:
        return BlankFrames(data.meta, data.table), [f"The video cannot be read ({exc}); drawing on blank frames"]
    notes = metadata_warnings(data.meta, reader.info)
    return reader, ([f"The video does not match the job's VideoMetadata: {'; '.join(notes)}"] if notes else [])
