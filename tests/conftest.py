"""Shared fixtures: the shared test footage, and a real service on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config

from peoplepath.service.embedded import wait_until_up

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PEOPLEPATH_SHARED_DATA") or REPO.parent / "shared" / "data")
SHARED_BUCKET = "shared"  # DATA_DIR/buckets/shared is a link to the shared footage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").is_file():
        pytest.fail(f"the shared test footage is missing at {SHARED_DATA}")  # never a silent skip
    return SHARED_DATA


def rekognition(endpoint_url: str, **config: Any) -> Any:
    """A real boto3 client for the service, with throwaway credentials."""
    return boto3.client(
        "rekognition",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=config.pop("key", "AKIDTEST"),
        aws_secret_access_key=config.pop("secret", "secret"),
        config=Config(retries={"mode": "standard", "max_attempts": config.pop("attempts", 3)}, **config),
    )


@dataclass
class ServiceHandle:
    """A `python -m peoplepath serve` process on a free loopback port."""

    data_dir: Path
    port: int
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServiceHandle":
        env = {**os.environ, **self.env}
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            if name not in self.env:
                env.pop(name, None)
        env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "peoplepath", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *self.args]
        log = open(self.data_dir / "service.log", "ab")
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_up(self.endpoint_url, self.process, timeout=60)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def client(self, **config: Any) -> Any:
        return rekognition(self.endpoint_url, **config)

    def link_shared_bucket(self, shared: Path) -> None:
        link = self.data_dir / "buckets" / SHARED_BUCKET
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(shared, target_is_directory=True)

    def start_job(self, name: str, bucket: str = SHARED_BUCKET, **params: Any) -> str:
        video = {"S3Object": {"Bucket": bucket, "Name": name}}
        return self.client().start_person_tracking(Video=video, **params)["JobId"]

    def wait(self, job_id: str, timeout: float = 300) -> dict[str, Any]:
        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = client.get_person_tracking(JobId=job_id, MaxResults=1)
            if page["JobStatus"] != "IN_PROGRESS":
                return page
            time.sleep(0.5)
        raise TimeoutError(f"job {job_id} still IN_PROGRESS after {timeout} s")


@pytest.fixture(scope="session")
def running_service(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[ServiceHandle]:
    """One service for the session, its bucket `shared` linked to ../shared/data."""
    handle = ServiceHandle(tmp_path_factory.mktemp("service"), free_port())
    handle.link_shared_bucket(shared_data)
    handle.start()
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def tud_job(running_service: ServiceHandle) -> str:
    """A finished job on the TUD-Stadtmitte clip (179 frames)."""
    job_id = running_service.start_job("tud_stadtmitte/tud_stadtmitte_h264.mp4", JobTag="tud")
    page = running_service.wait(job_id)
    assert page["JobStatus"] == "SUCCEEDED", page.get("StatusMessage")
    return job_id
