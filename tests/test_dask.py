"""`serve --scheduler`: jobs whose chunks run on a real Dask cluster (a scheduler and two
single-threaded workers as processes on 127.0.0.1), through boto3 over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from conftest import REPO, ServiceHandle, free_port
from dask_cluster import DaskCluster
from test_service_chunks import job_row
from test_service_jobs import all_pages

TUD = "tud_stadtmitte/tud_stadtmitte_h264.mp4"  # 7.16 s at 25 fps
CHUNK = ["--chunk-seconds", "4", "--no-faces"]  # cores of 0-4 s and 4-7.16 s with a lead-in


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    handle = DaskCluster(tmp_path_factory.mktemp("dask"), workers=2).start()
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> list[dict]:
    """TUD through the local runner with the same chunks: what the cluster must match."""
    service = ServiceHandle(tmp_path_factory.mktemp("local"), free_port(), args=CHUNK)
    service.link_shared_bucket(shared_data)
    service.start()
    try:
        job_id = service.start_job(TUD)
        assert service.wait(job_id, timeout=300)["JobStatus"] == "SUCCEEDED"
        return all_pages(service.client(), job_id)[0]
    finally:
        service.stop()


def _service(tmp_path: Path, shared_data: Path, cluster: DaskCluster) -> ServiceHandle:
    service = ServiceHandle(tmp_path / "svc", free_port(), args=[*CHUNK, "--scheduler", cluster.address])
    service.link_shared_bucket(shared_data)
    return service.start()


def _close(a: list[dict], b: list[dict]) -> None:
    assert len(b) > 300
    assert abs(len(a) - len(b)) <= len(b) // 100, (len(a), len(b))
    assert abs(len({p["Person"]["Index"] for p in a}) - len({p["Person"]["Index"] for p in b})) <= 1


@pytest.mark.slow
def test_cluster_results_match_the_local_runner(tmp_path: Path, shared_data: Path, cluster: DaskCluster, local_run: list[dict]) -> None:
    service = _service(tmp_path, shared_data, cluster)
    try:
        client = service.client()
        job_id = service.start_job(TUD, ClientRequestToken="same-request")
        assert service.start_job(TUD, ClientRequestToken="same-request") == job_id  # idempotent as ever
        page = service.wait(job_id, timeout=300)
        assert page["JobStatus"] == "SUCCEEDED", page.get("StatusMessage")
        persons, pages = all_pages(client, job_id, MaxResults=100)
        assert len(pages) > 1 and pages[0]["VideoMetadata"]["DurationMillis"] == 7160
        _close(persons, local_run)
        log = (service.data_dir / "service.log").read_text()
        assert f"job {job_id}: chunk 1 of 2 analysed" in log and f"job {job_id}: chunk 2 of 2 analysed" in log
    finally:
        service.stop()


@pytest.mark.slow
def test_a_worker_killed_mid_chunk_costs_that_chunk_only(tmp_path: Path, shared_data: Path, local_run: list[dict]) -> None:
    cluster = DaskCluster(tmp_path / "dask", workers=2).start()  # its own: one worker dies here
    try:
        service = _service(tmp_path, shared_data, cluster)
        try:
            job_id = service.start_job(TUD)
            deadline = time.monotonic() + 120
            while not job_row(service, job_id)["running"] and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(3)  # the probe done, both chunks under way
            assert job_row(service, job_id)["status"] == "IN_PROGRESS"
            cluster.kill_worker(0)
            page = service.wait(job_id, timeout=300)
            assert page["JobStatus"] == "SUCCEEDED", page.get("StatusMessage")
            _close(all_pages(service.client(), job_id)[0], local_run)
        finally:
            service.stop()
    finally:
        cluster.stop()


@pytest.mark.slow
def test_a_video_only_the_worker_cannot_read_fails_the_job_with_a_message(tmp_path: Path, cluster: DaskCluster, shared_data: Path) -> None:
    service = _service(tmp_path, shared_data, cluster)
    try:
        bucket = service.data_dir / "buckets" / "clips"
        bucket.mkdir(parents=True)
        (bucket / "noise.mp4").write_bytes(bytes(range(256)) * 400)  # exists, has a size: the service accepts it
        page = service.wait(service.start_job("noise.mp4", bucket="clips"), timeout=120)
        assert page["JobStatus"] == "FAILED"
        message = page["StatusMessage"]
        assert "clips/noise.mp4" in message and "could not be decoded" in message and str(service.data_dir) not in message
        assert service.wait(service.start_job(TUD), timeout=300)["JobStatus"] == "SUCCEEDED"  # the cluster still serves
    finally:
        service.stop()


@pytest.mark.slow
def test_losing_the_scheduler_fails_running_jobs_with_a_message(tmp_path: Path, shared_data: Path) -> None:
    cluster = DaskCluster(tmp_path / "dask", workers=1).start()
    try:
        service = _service(tmp_path, shared_data, cluster)
        try:
            job_id = service.start_job(TUD)
            while not job_row(service, job_id)["running"]:
                time.sleep(0.1)
            cluster.kill_scheduler()
            page = service.wait(job_id, timeout=180)
            assert page["JobStatus"] == "FAILED"
            assert "Dask scheduler" in page["StatusMessage"] and "went away" in page["StatusMessage"]
            assert service.client().get_person_tracking(JobId=job_id)["JobStatus"] == "FAILED"  # still answering
        finally:
            service.stop()
    finally:
        cluster.stop()


@pytest.mark.slow
def test_track_offline_on_the_cluster(tmp_path: Path, shared_data: Path, cluster: DaskCluster, local_run: list[dict]) -> None:
    out = tmp_path / "tud.json"
    subprocess.run(
        [sys.executable, "-m", "peoplepath", "track", str(shared_data / TUD), "--out", str(out), "--no-faces",
         "--chunk-seconds", "4", "--scheduler", cluster.address],
        cwd=REPO, check=True, timeout=300, capture_output=True,
    )
    document = json.loads(out.read_text())
    assert document["JobStatus"] == "SUCCEEDED"
    _close(document["Persons"], local_run)
