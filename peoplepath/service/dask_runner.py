"""Jobs on a Dask cluster: the service plans each job's chunks and sends one task per
unfinished chunk to the scheduler; workers (plain `dask worker tcp://HOST:PORT` processes
from this project's environment) read the video themselves and send back a chunk's
compact result bytes, which the service alone writes to the store.

A worker reads a video from the local bucket folder at the same path as the service
(a shared mount), or from S3 / an S3-compatible endpoint with its own AWS settings
(downloaded once per machine into PEOPLEPATH_WORKER_CACHE, default
~/.cache/peoplepath/videos). Each worker thread keeps one Pipeline per settings, so the
models load once per thread and serve every chunk after.

Faults: Dask reruns the chunks of a worker that died on another worker; a chunk that
raises is retried `retries` times, then fails its job. When the scheduler goes away, the
jobs it was running end FAILED with a message saying so (their finished chunks are
dropped with them); the service reconnects for the next job.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import Client, as_completed

from ..engine.settings import EngineSettings
from ..store import Store
from .runner import JobRunner, OnCrash
from .sources import VideoObject, VideoSource
from .worker import ChunkPlan, JobFailed, JobOptions, conclude, guarded, public_message, video_name

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20
_local = threading.local()


@dataclass(frozen=True)
class VideoRef:
    """Where a worker finds a job's video: the client's Bucket/Name/Version and the
    service's bucket folder (read at the same path on every machine)."""

    bucket: str
    name: str
    version: str | None
    buckets_dir: str
    path: str | None = None  # a file at this path on every machine instead (the `track` command)

    @property
    def obj(self) -> VideoObject:
        return VideoObject(self.bucket, self.name, self.version)


def _worker_path(ref: VideoRef) -> Path:
    """The video as a local file on this worker (one download per machine for S3; a file
    lock keeps worker processes from fetching the same object at once)."""
    if ref.path is not None:
        return Path(ref.path)
    cache = Path(os.environ.get("PEOPLEPATH_WORKER_CACHE") or Path.home() / ".cache" / "peoplepath" / "videos")
    cache.mkdir(parents=True, exist_ok=True)
    source = VideoSource(Path(ref.buckets_dir), cache)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return source.fetch(ref.obj)


def _pipeline(settings: EngineSettings) -> Any:
    """This worker thread's Pipeline for `settings`, loaded on first use. Unless
    PEOPLEPATH_ORT_THREADS says otherwise, each thread's models run single-threaded
    (a worker per core, `--nthreads 1`, is the intended layout)."""
    os.environ.setdefault("PEOPLEPATH_ORT_THREADS", "1")
    pipelines = _local.__dict__.setdefault("pipelines", {})
    if settings not in pipelines:
        from ..engine.pipeline import Pipeline

        pipelines[settings] = Pipeline(settings)
    return pipelines[settings]


def _public(exc: Exception, ref: VideoRef, path: Path | None) -> Exception:
    """`exc` with this machine's paths taken out of its message (same type if possible)."""
    text = public_message(str(exc), ref.name if ref.path else video_name(ref.obj), (path,) if path else ())
    try:
        return type(exc)(text)
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {text}")


def probe_task(ref: VideoRef) -> Any:
    """On a worker: the video's VideoInfo."""
    from ..video import probe

    path = None
    try:
        path = _worker_path(ref)
        return probe(path)
    except Exception as exc:
        raise _public(exc, ref, path) from None


def analyse_chunk_task(ref: VideoRef, spec: Any, settings: EngineSettings) -> bytes:
    """On a worker: one chunk's ChunkResult as bytes."""
    path = None
    try:
        path = _worker_path(ref)
        return _pipeline(settings).analyse(path, spec).to_bytes()
    except Exception as exc:
        raise _public(exc, ref, path) from None


class SchedulerLost(JobFailed):
    pass


class DaskJobRunner(JobRunner):
    """`workers` jobs coordinated at once (each by a thread of the service); their chunks
    run wherever the cluster has room."""

    def __init__(
        self,
        db_path: str,
        source: VideoSource,
        options: JobOptions,
        *,
        scheduler: str,
        workers: int,
        on_crash: OnCrash,
        retries: int = 2,
    ) -> None:
        self._db_path, self._source, self._options = db_path, source, options
        self._scheduler, self._retries, self._on_crash = scheduler, retries, on_crash
        self._client_lock = threading.Lock()
        self._client: Client | None = None
        self._connect()  # a wrong address stops the service at start, with its message
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._slots = [threading.Thread(target=self._serve, daemon=True, name=f"dask-job-{i}") for i in range(workers)]
        for slot in self._slots:
            slot.start()

    def _connect(self) -> Client:
        with self._client_lock:
            if self._client is None or self._client.status != "running":
                if self._client is not None:
                    self._client.close(timeout=5)
                try:
                    self._client = Client(self._scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
                except (OSError, TimeoutError) as exc:
                    self._client = None
                    raise SchedulerLost(f"The Dask scheduler at {self._scheduler} cannot be reached: {exc}") from None
            return self._client

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def _serve(self) -> None:
        store = Store(self._db_path)
        while not self._stopping.is_set():
            job_id = self._queue.get()
            if job_id is None:
                break
            try:
                self._run(store, job_id)
            except Exception as exc:  # never lose a slot
                log.exception("job %s: coordination failed", job_id)
                self._on_crash(job_id, f"Internal error while coordinating the job: {type(exc).__name__}")
        store.close()

    def _run(self, store: Store, job_id: str) -> None:
        job = store.get_job(job_id)
        if job is None or job.status != "IN_PROGRESS":
            return
        store.mark_started(job_id)
        obj = VideoObject.from_request(job.request["Video"])
        ref = VideoRef(obj.bucket, obj.name, obj.version, str(self._source.buckets_dir.resolve()))
        options = self._options

        def body(paths: list[Path]) -> str:
            client = self._connect()
            tag = uuid.uuid4().hex[:8]
            try:
                info = client.submit(probe_task, ref, retries=self._retries, pure=False, key=f"probe-{job_id[:16]}-{tag}")
                plan = ChunkPlan(store, job_id, info.result(), options)
                if plan.done:
                    log.info("job %s: resumed with %d of %d chunks already analysed", job_id, len(plan.done), len(plan.specs))
                futures = [
                    client.submit(
                        analyse_chunk_task, ref, spec, options.settings, retries=self._retries, pure=False,
                        key=f"chunk-{job_id[:16]}-{spec.index}-{tag}",
                    )
                    for spec in plan.pending
                ]
                started = time.perf_counter()
                try:
                    for future in as_completed(futures, loop=client.loop):
                        if self._stopping.is_set():
                            return "IN_PROGRESS"
                        data = future.result()
                        future.release()
                        from ..engine.chunking import ChunkResult

                        plan.save(ChunkResult.from_bytes(data), data, time.perf_counter() - started)
                finally:
                    client.cancel([f for f in futures if not f.done()])
            except Exception as exc:
                if self._stopping.is_set():
                    return "IN_PROGRESS"  # the service is stopping: resumed at the next start
                if client.status != "running" or _lost(exc):
                    raise SchedulerLost(
                        f"The Dask scheduler at {self._scheduler} went away while analysing the video"
                        f" {video_name(obj)}; start the job again"
                    ) from None
                raise
            return conclude(store, job, plan, options)

        status = guarded(store, job, options, body)
        log.info("job %s: %s", job_id, status)

    def shutdown(self) -> None:
        self._stopping.set()
        for _ in self._slots:
            self._queue.put(None)
        with self._client_lock:
            if self._client is not None:
                try:
                    self._client.close(timeout=5)
                except Exception:  # closing a client whose scheduler is gone
                    pass


def track_on_cluster(
    scheduler: str, path: Path, settings: EngineSettings, chunk_seconds: float, progress: Any = None
) -> tuple[Any, Any, Any]:
    """The `track` command on a cluster: (VideoInfo, JobTracks, Timings) of the video at
    `path`, which every worker reads at the same path."""
    from ..engine.chunking import ChunkResult, Timings, finish, plan_chunks

    path = Path(path).resolve()
    ref = VideoRef("", path.name, None, "", str(path))
    with Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False) as client:
        info = client.submit(probe_task, ref, pure=False).result()
        specs = plan_chunks(info.duration_ms, chunk_seconds)
        futures = [client.submit(analyse_chunk_task, ref, spec, settings, retries=2, pure=False) for spec in specs]
        results = []
        for future in as_completed(futures, loop=client.loop):
            results.append(ChunkResult.from_bytes(future.result()))
            future.release()
            if progress is not None:
                progress(len(results) / len(specs))
    timings = sum((r.timings for r in results), Timings())
    return info, finish(info, results, settings), timings


def _lost(exc: BaseException) -> bool:
    """A failure of the connection to the scheduler, not of a task."""
    from distributed.comm.core import CommClosedError

    return isinstance(exc, (CommClosedError, TimeoutError)) or type(exc).__name__ in (
        "CancelledError", "FutureCancelledError",
    )
