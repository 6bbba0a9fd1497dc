"""The store's chunks of running jobs, streamed completion, and its older data folders."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator

from peoplepath.store import DetectionRow, Store


def _rows(n: int, start: int = 0) -> list[DetectionRow]:
    return [DetectionRow(40 * i, 0, 90.0, f'{{"i":{i}}}') for i in range(start, start + n)]


def test_chunks_are_kept_while_running_and_dropped_when_the_job_ends(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    for job in ("ok", "bad"):
        store.create_job(job, {"Video": {}}, "h", None)
        assert store.mark_started(job) == 1 and store.get_job(job).running
        store.save_chunk(job, 0, {"index": 0}, b"first", frames=10, progress=0.4)
        store.save_chunk(job, 1, {"index": 1}, b"second", frames=5, progress=0.8)
    assert store.finished_chunks("ok") == {0: b"first", 1: b"second"}
    assert store.chunk_specs("ok") == {0: {"index": 0}, 1: {"index": 1}}
    job = store.get_job("ok")
    assert job.progress == 0.8 and job.frames_analysed == 15

    batches_made = []

    def batches() -> Iterator[list[DetectionRow]]:  # made one at a time, as the engine does
        for b in range(3):
            batches_made.append(b)
            yield _rows(4, 4 * b)

    assert store.complete_job("ok", {"FrameRate": 25.0}, batches(), "note")
    assert batches_made == [0, 1, 2] and store.count_detections("ok") == 12
    done = store.get_job("ok")
    assert done.status == "SUCCEEDED" and done.status_message == "note" and not done.running
    assert store.finished_chunks("ok") == {}
    assert not store.complete_job("ok", {}, [_rows(1)])  # ended jobs are not written again
    store.save_chunk("ok", 2, {"index": 2}, b"late", frames=1, progress=0.9)
    assert store.finished_chunks("ok") == {}  # nor given chunks

    assert store.fail_job("bad", "broken")
    assert store.finished_chunks("bad") == {} and store.get_job("bad").status == "FAILED"


def test_a_data_folder_from_before_chunks_opens_and_keeps_its_jobs(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, status TEXT NOT NULL, status_message TEXT, request TEXT NOT NULL,"
            " request_hash TEXT NOT NULL, client_token TEXT UNIQUE, video_metadata TEXT, progress REAL NOT NULL DEFAULT 0,"
            " attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, finished_at REAL);"
            "INSERT INTO jobs (job_id, status, request, request_hash, attempts, created_at)"
            " VALUES ('old', 'IN_PROGRESS', '{\"Video\": {}}', 'h', 1, 0);"
        )
    job = Store(path).get_job("old")
    assert job is not None and job.status == "IN_PROGRESS" and not job.running and job.frames_analysed == 0
