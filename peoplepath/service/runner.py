"""The job-runner interface and its local implementation: a queue served by a bounded
number of slots, each job in a process of its own.

A distributed runner (dask_runner.DaskJobRunner) implements the same two methods."""

from __future__ import annotations

import ctypes
import logging
import os
import multiprocessing
import queue
import signal
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable

from .sources import VideoSource
from .worker import JobOptions, run_job

log = logging.getLogger(__name__)

#: Called with (job_id, message) when a job's process died without finishing the job.
OnCrash = Callable[[str, str], None]


class JobRunner(ABC):
    """Runs jobs in the background with bounded concurrency."""

    @abstractmethod
    def submit(self, job_id: str) -> None:
        """Run `job_id` (already stored IN_PROGRESS) when a slot is free."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop now; unfinished jobs stay IN_PROGRESS in the store and are resumed."""


def _child(*args: Any) -> None:
    """A job's process: out of the terminal's process group (a Ctrl-C or a group signal
    reaches the service, which then stops its jobs itself), dying with the service
    (Linux), then running the job; its log lines go to the service's stderr."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_job(*args)


class ProcessJobRunner(JobRunner):
    """`workers` slots; each job runs in a spawned process, so a crash in native code
    fails that one job and never the service or the jobs beside it."""

    def __init__(
        self, db_path: str, source: VideoSource, options: JobOptions, *, workers: int, on_crash: OnCrash
    ) -> None:
        self._args = (db_path, source, options)
        self._on_crash = on_crash
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._running: dict[str, multiprocessing.process.BaseProcess] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._context = multiprocessing.get_context("spawn")
        self._slots = [threading.Thread(target=self._serve, daemon=True, name=f"job-slot-{i}") for i in range(workers)]
        for slot in self._slots:
            slot.start()

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            job_id = self._queue.get()
            if job_id is None:
                return
            db_path, source, options = self._args
            process = self._context.Process(
                target=_child, args=(db_path, job_id, source, options), name=f"job-{job_id[:12]}", daemon=True
            )
            with self._lock:
                if self._stopping.is_set():
                    return
                process.start()
                self._running[job_id] = process
            process.join()
            with self._lock:
                self._running.pop(job_id, None)
            if process.exitcode != 0 and not self._stopping.is_set():
                log.error("job %s: worker exited with code %s", job_id, process.exitcode)
                self._on_crash(job_id, f"The worker analysing this video stopped unexpectedly (exit code {process.exitcode})")

    def shutdown(self) -> None:
        self._stopping.set()
        with self._lock:
            for process in self._running.values():
                process.kill()
        for _ in self._slots:
            self._queue.put(None)
