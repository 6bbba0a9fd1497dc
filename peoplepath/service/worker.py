"""A job's flow, whatever runs its chunks: probe the video, plan its chunks, keep each
finished chunk in the store, then stitch them, check the video was read to its end and
store the detections. `run_job` runs a whole job in one local worker process. Every
failure ends the job FAILED with a message that names the video as the client gave it
(Bucket/Name), never a path of this host; nothing escapes to crash the service."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..engine.settings import EngineSettings
from ..errors import ApiError
from ..store import Job, Store
from .notify import publish_completion
from .sources import VideoObject, VideoSource

if TYPE_CHECKING:
    from ..engine.chunking import ChunkResult, ChunkSpec
    from ..video import VideoInfo

log = logging.getLogger(__name__)

# An absolute path of two or more parts (not the tail of a relative name or a URL).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\":,;()\[\]]+/)+[^\s/'\":,;()\[\]]*")


@dataclass(frozen=True)
class JobOptions:
    """What every job of a service is run with."""

    settings: EngineSettings
    chunk_seconds: float = 120.0
    allow_partial: bool = False
    notify: bool = False


class JobFailed(Exception):
    """Ends the job FAILED with this (already public) message."""


def video_name(obj: VideoObject) -> str:
    """The video as the client named it."""
    return f"{obj.bucket}/{obj.name}"


def public_message(text: str, name: str, local_paths: tuple[str | Path, ...] = ()) -> str:
    """`text` with the local file's path replaced by the client's name for it and any
    other absolute path of this host removed."""
    marker = "\x00video\x00"
    for path in sorted({str(q) for p in local_paths for q in (p, Path(p).resolve())}, key=len, reverse=True):
        if text.startswith(f"{path}: "):  # "PATH: what is wrong" -> "what is wrong"
            text = text[len(path) + 2 :]
        text = text.replace(path, marker)
    return _ABSOLUTE_PATH.sub("(a server path)", text).replace(marker, name)


def failure_message(exc: BaseException, name: str, local_paths: tuple[str | Path, ...] = ()) -> str:
    """The StatusMessage of a job that raised `exc`."""
    from ..video import VideoError

    if isinstance(exc, JobFailed):
        return str(exc)
    if isinstance(exc, VideoError):
        return f"The video {name} could not be decoded: {public_message(str(exc), name, local_paths)}"
    if isinstance(exc, ApiError):
        return public_message(exc.message, name, local_paths)
    detail = public_message(f"{type(exc).__name__}: {exc}", name, local_paths)
    return f"Internal error while analysing the video {name}: {detail}"


def settings_digest(settings: EngineSettings) -> str:
    return hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode()).hexdigest()[:16]


class ChunkPlan:
    """One job's chunks: which are finished (in the store), which are left, the job's
    progress (the share of the video's time line in finished chunks)."""

    def __init__(self, store: Store, job_id: str, info: "VideoInfo", options: JobOptions) -> None:
        from ..engine.chunking import plan_chunks

        self.store, self.job_id, self.info = store, job_id, info
        self.specs = plan_chunks(info.duration_ms, options.chunk_seconds)
        self._digest = settings_digest(options.settings)
        kept = store.chunk_specs(job_id)
        if any(kept[i] != self.record(self.specs[i]) if i < len(self.specs) else True for i in kept):
            log.info("job %s: the chunk plan or the settings changed; its finished chunks are dropped", job_id)
            store.forget_chunks(job_id)
            kept = {}
        self.done = set(kept)
        self.chunks_analysed = 0

    def record(self, spec: "ChunkSpec") -> dict[str, object]:
        """What the store keeps beside a chunk's result, to recognise it on resume."""
        return {**asdict(spec), "settings": self._digest}

    @property
    def pending(self) -> list["ChunkSpec"]:
        return [spec for spec in self.specs if spec.index not in self.done]

    def share(self, spec: "ChunkSpec") -> float:
        """The share of the video's time line in `spec`'s core."""
        total = max(1.0, float(self.info.duration_ms))
        end = total if spec.core_end_ms is None else min(float(spec.core_end_ms), total)
        return max(0.0, end - spec.core_start_ms) / total

    def progress(self, running: dict[int, float] | None = None) -> float:
        """Finished chunks, plus the given fractions of running ones; below 1 until the job ends."""
        done = sum(self.share(s) for s in self.specs if s.index in self.done)
        done += sum(self.share(self.specs[i]) * f for i, f in (running or {}).items())
        return min(0.99, done)

    def save(self, result: "ChunkResult", data: bytes | None = None, seconds: float | None = None) -> None:
        """Keep a finished chunk (its bytes, `data`, if already made) and advance the progress."""
        spec = result.spec
        frames = int(spec.owns(result.frame_ms).sum())
        self.done.add(spec.index)
        self.chunks_analysed += 1
        self.store.save_chunk(
            self.job_id, spec.index, self.record(spec), data or result.to_bytes(), frames, self.progress()
        )
        took = f" in {seconds:.1f} s" if seconds is not None else ""
        log.info("job %s: chunk %d of %d analysed (%d frames)%s", self.job_id, spec.index + 1, len(self.specs), frames, took)

    def results(self) -> list["ChunkResult"]:
        from ..engine.chunking import ChunkResult

        stored = self.store.finished_chunks(self.job_id)
        missing = [s.index for s in self.specs if s.index not in stored]
        if missing:
            raise RuntimeError(f"chunks {missing} of job {self.job_id} are not in the store")
        return [ChunkResult.from_bytes(stored[s.index]) for s in self.specs]


def conclude(store: Store, job: Job, plan: ChunkPlan, options: JobOptions) -> str:
    """Stitch the finished chunks, apply the coverage rule and store the detections
    (streamed batch by batch); returns the job's final status."""
    from ..coverage import coverage
    from ..engine.chunking import finish
    from ..engine.pipeline import video_metadata

    name = video_name(VideoObject.from_request(job.request["Video"]))
    results = plan.results()
    import numpy as np

    frame_ms = np.unique(np.concatenate([r.frame_ms[r.spec.owns(r.frame_ms)] for r in results]))
    covered = coverage(plan.info, frame_ms, options.settings.max_fps)
    if not covered.ok and not options.allow_partial:
        raise JobFailed(covered.message(name))
    tracks = finish(plan.info, results, options.settings)
    note = None if covered.ok else covered.message(name)
    if not store.complete_job(job.job_id, video_metadata(plan.info), tracks.rows(), note):
        return store.get_job(job.job_id).status  # type: ignore[union-attr]
    log.info("job %s: %d persons, %d detections", job.job_id, tracks.persons, tracks.detections)
    return "SUCCEEDED"


def guarded(store: Store, job: Job, options: JobOptions, body: Callable[[list[Path]], str]) -> str:
    """Run `body(local_paths)` (it appends the paths it reads the video from) and turn any
    failure into a FAILED job with a public message; publish the completion."""
    name = video_name(VideoObject.from_request(job.request["Video"]))
    paths: list[Path] = []
    try:
        status = body(paths)
    except Exception as exc:
        from ..video import VideoError

        if not isinstance(exc, (JobFailed, ApiError, VideoError)):
            log.exception("job %s failed", job.job_id)
        store.fail_job(job.job_id, failure_message(exc, name, tuple(paths)))
        ended = store.get_job(job.job_id)
        status = ended.status if ended else "FAILED"
    if status != "IN_PROGRESS":
        publish_completion(job.job_id, status, job.request, options.notify)
    return status


def run_job(db_path: str, job_id: str, source: VideoSource, options: JobOptions) -> str:
    """Run job `job_id` in this process, its chunks one after another with one Pipeline,
    skipping those already in the store; returns its final status."""
    store = Store(db_path)
    try:
        job = store.get_job(job_id)
        if job is None or job.status != "IN_PROGRESS":
            return job.status if job else "FAILED"
        store.mark_started(job_id)

        def body(paths: list[Path]) -> str:
            from ..engine.pipeline import Pipeline  # the models load in the job's process only
            from ..video import probe

            path = source.fetch(VideoObject.from_request(job.request["Video"]))
            paths.append(path)
            plan = ChunkPlan(store, job_id, probe(path), options)
            if plan.done:
                log.info("job %s: resumed with %d of %d chunks already analysed", job_id, len(plan.done), len(plan.specs))
            pipeline = Pipeline(options.settings) if plan.pending else None
            for spec in plan.pending:
                started = time.perf_counter()
                result = pipeline.analyse(  # type: ignore[union-attr]
                    path, spec, progress=lambda f, i=spec.index: store.set_progress(job_id, plan.progress({i: f}))
                )
                plan.save(result, seconds=time.perf_counter() - started)
            return conclude(store, job, plan, options)

        return guarded(store, job, options, body)
    finally:
        store.close()
