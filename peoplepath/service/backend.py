"""The service's state and logic: jobs, idempotency, limits, pages."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from pathlib import Path
from typing import Any

from .. import contract
from ..engine.settings import EngineSettings
from ..errors import (
    IdempotentParameterMismatchException,
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
)
from ..store import Store
from .config import ServiceConfig
from .notify import publish_completion
from .runner import JobRunner, ProcessJobRunner
from .sources import VideoObject, VideoSource, s3_configured
from .tokens import TokenCodec
from .worker import JobOptions

log = logging.getLogger(__name__)


class Backend:
    """StartPersonTracking and GetPersonTracking over the store and a job runner."""

    def __init__(self, config: ServiceConfig, runner: JobRunner | None = None) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        config.buckets_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.db_path)
        self.tokens = TokenCodec(_secret(config.data_dir / "token-secret"))
        aws = s3_configured()
        self.notify = aws
        self.source = VideoSource(config.buckets_dir, config.data_dir / "cache", config.max_video_bytes, use_s3=aws)
        options = JobOptions(
            settings=EngineSettings(max_fps=config.max_fps, faces=config.faces),
            chunk_seconds=config.chunk_seconds,
            allow_partial=config.allow_partial,
            notify=aws,
        )
        if runner is not None:
            self.runner = runner
        elif config.scheduler:
            from .dask_runner import DaskJobRunner  # distributed is imported only for a cluster

            self.runner = DaskJobRunner(
                str(config.db_path), self.source, options, scheduler=config.scheduler, workers=config.workers,
                on_crash=self._crashed,
            )
        else:
            self.runner = ProcessJobRunner(
                str(config.db_path), self.source, options, workers=config.workers, on_crash=self._crashed
            )

    def resume(self) -> list[str]:
        """Queue again, in their order, the jobs a stopped service left IN_PROGRESS: each
        goes on from its finished chunks. Only a job whose analysis had started counts the
        stop as an interruption; one interrupted three times ends FAILED instead."""
        resumed = []
        for job in self.store.jobs_in_progress():
            if job.running:
                if job.attempts >= 3:
                    self.store.fail_job(job.job_id, "The job was interrupted three times and was not resumed again")
                    publish_completion(job.job_id, "FAILED", job.request, self.notify)
                    continue
                self.store.mark_queued(job.job_id)
            self.runner.submit(job.job_id)
            resumed.append(job.job_id)
        return resumed

    def close(self) -> None:
        self.runner.shutdown()
        self.store.close()

    def _crashed(self, job_id: str, message: str) -> None:
        job = self.store.get_job(job_id)
        if job is not None and job.status == "IN_PROGRESS":
            self.store.fail_job(job_id, message)
            publish_completion(job_id, "FAILED", job.request, self.notify)

    # --------------------------------------------------------------- operations
    def start_person_tracking(self, params: dict[str, Any]) -> dict[str, Any]:
        contract.validate_request("StartPersonTracking", params)
        video = VideoObject.from_request(params["Video"])
        request = {k: params[k] for k in ("Video", "NotificationChannel", "JobTag") if params.get(k) is not None}
        request_hash = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        token = params.get("ClientRequestToken")
        if token is not None:
            existing = self.store.get_job_by_token(token)
            if existing is not None:
                return self._same_request(existing, request_hash)
        self.source.check(video)
        if self.store.count_in_progress() >= self.config.max_concurrent_jobs:
            raise LimitExceededException(
                f"There are already {self.config.max_concurrent_jobs} jobs in progress; try again when one finishes"
            )
        job_id = secrets.token_hex(32)
        job = self.store.create_job(job_id, request, request_hash, token)
        if job.job_id != job_id:  # another request with the same token got in first
            return self._same_request(job, request_hash)
        self.runner.submit(job.job_id)
        return {"JobId": job.job_id}

    @staticmethod
    def _same_request(job: Any, request_hash: str) -> dict[str, Any]:
        if job.request_hash != request_hash:
            raise IdempotentParameterMismatchException(
                "A different StartPersonTracking request was made with the same ClientRequestToken"
            )
        return {"JobId": job.job_id}

    def get_person_tracking(self, params: dict[str, Any]) -> bytes:
        """The response body, built from stored JSON text without re-serialising it."""
        contract.validate_request("GetPersonTracking", params)
        job_id = params["JobId"]
        sort = params.get("SortBy") or contract.SORT_TIMESTAMP
        limit = min(int(params.get("MaxResults") or contract.MAX_RESULTS_DEFAULT), contract.MAX_RESULTS_CAP)
        job = self.store.get_job(job_id)
        if job is None:
            raise ResourceNotFoundException(f"No job with JobId {job_id}")
        token = params.get("NextToken")
        after = self.tokens.decode(job_id, sort, token) if token else None
        head: dict[str, Any] = {"JobStatus": job.status}
        if job.status_message:
            head["StatusMessage"] = job.status_message
        if job.video_metadata:
            head["VideoMetadata"] = job.video_metadata
        head["JobId"] = job.job_id
        head["Video"] = job.request["Video"]
        if job.request.get("JobTag"):
            head["JobTag"] = job.request["JobTag"]
        records: list[str] = []
        if job.status == "SUCCEEDED":
            page = self.store.page(job_id, sort, after, limit + 1)
            if len(page) > limit:
                page = page[:limit]
                head["NextToken"] = self.tokens.encode(job_id, sort, page[-1][0])
            records = [record for _, record in page]
        elif token:
            raise InvalidParameterException("NextToken can only be used once the job has SUCCEEDED")
        body = json.dumps(head, separators=(",", ":"))
        return f'{body[:-1]},"Persons":[{",".join(records)}]}}'.encode()


def _secret(path: Path) -> bytes:
    """The NextToken signing key, made once per data folder so tokens survive restarts."""
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()
