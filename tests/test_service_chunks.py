"""Jobs by chunks over real HTTP: a SIGKILLed service resumes from its finished chunks,
restarts count interruptions only against jobs that had started, a video not readable
to its end fails (or, allowed, succeeds with a note), and no message names a server path."""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import ServiceHandle, free_port
from test_service_jobs import all_pages
from videos import write_pyav

PETS = "pets09_s2l1/pets09_s2l1_h264.mp4"  # 113 s at 7 fps: six chunks of 20 s
TUD = "tud_stadtmitte/tud_stadtmitte_h264.mp4"


def job_row(service: ServiceHandle, job_id: str) -> dict:
    """The job's row in the service's store, read as an operator would (read-only)."""
    with sqlite3.connect(f"file:{service.data_dir / 'peoplepath.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone())


def chunk_times(service: ServiceHandle, job_id: str) -> dict[int, float]:
    with sqlite3.connect(f"file:{service.data_dir / 'peoplepath.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
        return dict(db.execute("SELECT chunk_index, finished_at FROM chunks WHERE job_id = ?", (job_id,)).fetchall())


def wait_for(condition, timeout: float = 300, every: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(every)


@pytest.mark.slow
def test_sigkilled_service_resumes_from_its_finished_chunks(tmp_path: Path, shared_data: Path) -> None:
    # every other frame (3.5 fps) and no faces: the flow is under test, not the engine
    service = ServiceHandle(tmp_path / "svc", free_port(), args=["--chunk-seconds", "20", "--no-faces", "--max-fps", "3.5"])
    service.link_shared_bucket(shared_data)
    service.start()
    try:
        job_id = service.start_job(PETS, JobTag="killed")
        wait_for(lambda: job_row(service, job_id)["progress"] >= 0.6)
        service.stop(signal.SIGKILL)  # the service's whole process group, its job process with it
        before = chunk_times(service, job_id)
        assert 3 <= len(before) < 6, before  # 20 s cores of 113 s: about 18% each
        row = job_row(service, job_id)
        assert row["status"] == "IN_PROGRESS" and row["frames_analysed"] > 0

        service.start()
        undisturbed = service.start_job(PETS, JobTag="undisturbed")
        kept: list[bool] = []  # at each look while the job runs again: are the earlier chunks as they were?

        def ended() -> bool:
            now = chunk_times(service, job_id)
            if now:
                kept.append(all(now.get(i) == t for i, t in before.items()))
            return job_row(service, job_id)["status"] != "IN_PROGRESS"

        wait_for(ended)
        assert kept and all(kept)
        assert service.wait(job_id, timeout=300)["JobStatus"] == "SUCCEEDED"
        assert service.wait(undisturbed, timeout=300)["JobStatus"] == "SUCCEEDED"
        assert chunk_times(service, job_id) == {}  # dropped once the job ended

        log = (service.data_dir / "service.log").read_text()
        analysed = Counter(int(i) for i in re.findall(rf"job {job_id}: chunk (\d+) of 6 analysed", log))
        assert analysed == Counter(range(1, 7)), analysed  # every chunk exactly once over both runs
        assert f"job {job_id}: resumed with {len(before)} of 6 chunks already analysed" in log

        client = service.client()
        resumed, _ = all_pages(client, job_id)
        plain, _ = all_pages(client, undisturbed)
        assert len(plain) > 1500
        assert abs(len(resumed) - len(plain)) <= len(plain) // 100
        assert len({p["Person"]["Index"] for p in resumed}) == pytest.approx(len({p["Person"]["Index"] for p in plain}), abs=2)
    finally:
        service.stop()


@pytest.mark.slow
def test_restarts_count_only_against_the_job_that_had_started(tmp_path: Path, shared_data: Path) -> None:
    service = ServiceHandle(tmp_path / "svc", free_port(), args=["--workers", "1", "--chunk-seconds", "20", "--no-faces"])
    service.link_shared_bucket(shared_data)
    service.start()
    try:
        running = service.start_job(PETS, JobTag="running")
        queued = [service.start_job(TUD, JobTag=f"queued-{i}") for i in range(2)]
        for restart in range(1, 4):
            wait_for(lambda: job_row(service, running)["attempts"] == restart and job_row(service, running)["running"])
            assert all(job_row(service, q)["attempts"] == 0 for q in queued)  # still waiting their turn
            service.stop()
            service.start()
        page = service.wait(running, timeout=60)
        assert page["JobStatus"] == "FAILED" and "interrupted three times" in page["StatusMessage"]
        for job_id in queued:
            assert service.wait(job_id, timeout=300)["JobStatus"] == "SUCCEEDED"
    finally:
        service.stop()


@pytest.fixture(scope="module")
def broken_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bucket `clips`: an empty file, a clip cut at 30%, a clip with bytes overwritten
    in its middle, and the intact clip (10 s at 25 fps, a keyframe every second)."""
    bucket = tmp_path_factory.mktemp("buckets") / "clips"
    bucket.mkdir()
    whole = write_pyav(bucket / "whole.mp4", frames=250, gop=25, container_options={"movflags": "faststart"})
    data = whole.read_bytes()
    (bucket / "zero.mp4").write_bytes(b"")
    (bucket / "cut.mp4").write_bytes(data[: int(len(data) * 0.3)])
    damaged = bytearray(data)
    middle = len(data) // 2
    damaged[middle : middle + len(data) // 12] = bytes(len(data) // 12)  # about 1 s of frames lost
    (bucket / "damaged.mp4").write_bytes(bytes(damaged))
    return bucket


def _service(tmp_path: Path, bucket: Path, *args: str) -> ServiceHandle:
    service = ServiceHandle(tmp_path / "svc", free_port(), args=["--no-faces", "--chunk-seconds", "4", *args])
    (service.data_dir / "buckets").mkdir(parents=True)
    (service.data_dir / "buckets" / "clips").symlink_to(bucket, target_is_directory=True)
    return service.start()


@pytest.mark.slow
def test_unreadable_videos_fail_with_messages_naming_only_the_clients_names(tmp_path: Path, broken_videos: Path) -> None:
    service = _service(tmp_path, broken_videos)
    try:
        jobs = {name: service.start_job(name, bucket="clips") for name in ("zero.mp4", "cut.mp4", "damaged.mp4", "whole.mp4")}
        pages = {name: service.wait(job_id, timeout=600) for name, job_id in jobs.items()}
        assert pages["whole.mp4"]["JobStatus"] == "SUCCEEDED" and "StatusMessage" not in pages["whole.mp4"]
        for name in ("zero.mp4", "cut.mp4", "damaged.mp4"):
            page = pages[name]
            assert page["JobStatus"] == "FAILED", (name, page.get("StatusMessage"))
            message = page["StatusMessage"]
            assert f"clips/{name}" in message, message
            assert str(tmp_path) not in message and str(broken_videos) not in message and "/tmp" not in message, message
            assert not re.search(r"(?<![\w.])/\w+/", message), message  # no absolute path at all
        assert "empty" in pages["zero.mp4"]["StatusMessage"]
        assert re.search(r"\d", pages["cut.mp4"]["StatusMessage"])  # says how much was read
    finally:
        service.stop()


@pytest.mark.slow
def test_allow_partial_succeeds_with_the_note(tmp_path: Path, broken_videos: Path) -> None:
    service = _service(tmp_path, broken_videos, "--allow-partial")
    try:
        for name in ("cut.mp4", "damaged.mp4"):
            page = service.wait(service.start_job(name, bucket="clips"), timeout=600)
            assert page["JobStatus"] == "SUCCEEDED", page.get("StatusMessage")
            assert f"clips/{name}" in page["StatusMessage"] and str(broken_videos) not in page["StatusMessage"]
        assert service.wait(service.start_job("zero.mp4", bucket="clips"), timeout=300)["JobStatus"] == "FAILED"
    finally:
        service.stop()
