"""Durable jobs and detections in SQLite.

Each detection is kept as its finished Rekognition JSON text beside the columns that
order it, so a page is a keyset range scan plus string joins: no page loads the whole
job, and nothing is parsed and re-serialised on the way out.

While a job runs, each finished chunk of its video is kept (the engine's compact result
bytes), so a stopped job resumes from its finished chunks; they are deleted when the job ends.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .contract import SORT_INDEX, SORT_TIMESTAMP

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    status_message TEXT,
    request TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    client_token TEXT UNIQUE,
    video_metadata TEXT,
    progress REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    finished_at REAL,
    running INTEGER NOT NULL DEFAULT 0,
    frames_analysed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS chunks (
    job_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    spec TEXT NOT NULL,
    result BLOB NOT NULL,
    frames INTEGER NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (job_id, chunk_index)
);
CREATE TABLE IF NOT EXISTS detections (
    job_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    person_index INTEGER NOT NULL,
    neg_confidence REAL NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (job_id, ts, person_index)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS detections_by_index
    ON detections (job_id, person_index, neg_confidence, ts);
"""

# Columns added after the first release, for data folders made before them.
_ADDED_JOB_COLUMNS = {
    "running": "INTEGER NOT NULL DEFAULT 0",
    "frames_analysed": "INTEGER NOT NULL DEFAULT 0",
}

# Keyset ordering per sort: the columns a NextToken remembers, in order.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    SORT_TIMESTAMP: ("ts", "person_index"),
    SORT_INDEX: ("person_index", "neg_confidence", "ts"),
}


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    status: str
    status_message: str | None
    request: dict[str, Any]
    request_hash: str
    client_token: str | None
    video_metadata: dict[str, Any] | None
    progress: float
    attempts: int
    created_at: float
    finished_at: float | None
    running: bool = False
    frames_analysed: int = 0


@dataclass(frozen=True, slots=True)
class DetectionRow:
    """One detection ready to store: its order keys and its Rekognition JSON text."""

    timestamp_ms: int
    person_index: int
    confidence: float
    record: str


class Store:
    """Jobs and detections under one SQLite file; safe to share between threads, and
    between processes (WAL mode), each opening its own Store on the same path."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        db = self._db()
        db.executescript(_SCHEMA)
        have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        for name, declaration in _ADDED_JOB_COLUMNS.items():
            if name not in have:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {declaration}")

    # ------------------------------------------------------------------ connections
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def _tx(self) -> "_Transaction":
        return _Transaction(self._db())

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # ------------------------------------------------------------------------- jobs
    def create_job(self, job_id: str, request: dict[str, Any], request_hash: str, client_token: str | None) -> Job:
        """Insert a new IN_PROGRESS job. If `client_token` is taken, return that job
        instead (the caller compares request hashes)."""
        with self._tx() as db:
            if client_token is not None:
                existing = self._get(db, "client_token = ?", client_token)
                if existing is not None:
                    return existing
            db.execute(
                "INSERT INTO jobs (job_id, status, request, request_hash, client_token, created_at)"
                " VALUES (?, 'IN_PROGRESS', ?, ?, ?, ?)",
                (job_id, json.dumps(request), request_hash, client_token, time.time()),
            )
            job = self._get(db, "job_id = ?", job_id)
        assert job is not None
        return job

    def get_job(self, job_id: str) -> Job | None:
        return self._get(self._db(), "job_id = ?", job_id)

    def get_job_by_token(self, client_token: str) -> Job | None:
        return self._get(self._db(), "client_token = ?", client_token)

    def jobs_in_progress(self) -> list[Job]:
        rows = self._db().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'IN_PROGRESS' ORDER BY created_at"
        ).fetchall()
        return [_job(r) for r in rows]

    def count_in_progress(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM jobs WHERE status = 'IN_PROGRESS'").fetchone()[0]

    def mark_started(self, job_id: str) -> int:
        """The job's analysis begins (again): count the run, flag it running; returns the
        number of runs so far."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET attempts = attempts + 1, running = 1 WHERE job_id = ?", (job_id,))
            return db.execute("SELECT attempts FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0]

    def mark_queued(self, job_id: str) -> None:
        """The job waits for a slot again (a restart found it running)."""
        self._db().execute("UPDATE jobs SET running = 0 WHERE job_id = ?", (job_id,))

    def set_progress(self, job_id: str, progress: float) -> None:
        self._db().execute("UPDATE jobs SET progress = ? WHERE job_id = ?", (float(progress), job_id))

    # ----------------------------------------------------------------------- chunks
    def save_chunk(
        self, job_id: str, index: int, spec: dict[str, Any], result: bytes, frames: int, progress: float
    ) -> None:
        """Keep one finished chunk of a running job and advance the job's progress (and its
        count of analysed frames) in the same transaction. Saving a chunk again replaces it."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM jobs WHERE job_id = ? AND status = 'IN_PROGRESS'", (job_id,)).fetchone() is None:
                return  # the job has ended meanwhile: nothing to keep
            db.execute(
                "INSERT OR REPLACE INTO chunks (job_id, chunk_index, spec, result, frames, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, int(index), json.dumps(spec), sqlite3.Binary(result), int(frames), time.time()),
            )
            db.execute(
                "UPDATE jobs SET progress = MAX(progress, ?),"
                " frames_analysed = (SELECT COALESCE(SUM(frames), 0) FROM chunks WHERE job_id = ?) WHERE job_id = ?",
                (float(progress), job_id, job_id),
            )

    def finished_chunks(self, job_id: str) -> dict[int, bytes]:
        """{chunk index: result bytes} of the job's finished chunks."""
        rows = self._db().execute("SELECT chunk_index, result FROM chunks WHERE job_id = ?", (job_id,)).fetchall()
        return {index: bytes(result) for index, result in rows}

    def chunk_specs(self, job_id: str) -> dict[int, dict[str, Any]]:
        """{chunk index: spec} of the job's finished chunks, without their results."""
        rows = self._db().execute("SELECT chunk_index, spec FROM chunks WHERE job_id = ?", (job_id,)).fetchall()
        return {index: json.loads(spec) for index, spec in rows}

    def forget_chunks(self, job_id: str) -> None:
        """Drop a job's finished chunks (its video changed: they no longer apply)."""
        self._db().execute("DELETE FROM chunks WHERE job_id = ?", (job_id,))

    def fail_job(self, job_id: str, message: str) -> bool:
        """End an IN_PROGRESS job FAILED with `message`; False if it had already ended."""
        with self._tx() as db:
            ended = db.execute(
                "UPDATE jobs SET status = 'FAILED', status_message = ?, finished_at = ?"
                " WHERE job_id = ? AND status = 'IN_PROGRESS'",
                (message[:4000], time.time(), job_id),
            ).rowcount
            if ended:
                db.execute("DELETE FROM detections WHERE job_id = ?", (job_id,))
                db.execute("DELETE FROM chunks WHERE job_id = ?", (job_id,))
                db.execute("UPDATE jobs SET running = 0 WHERE job_id = ?", (job_id,))
        return bool(ended)

    def complete_job(
        self,
        job_id: str,
        video_metadata: dict[str, Any],
        batches: Iterable[Sequence[DetectionRow]],
        status_message: str | None = None,
    ) -> bool:
        """Write the job's detections batch by batch (one executemany each, never the whole
        job in memory), drop its chunks and mark it SUCCEEDED, all in one transaction.
        False (and nothing written) if the job had already ended."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM jobs WHERE job_id = ? AND status = 'IN_PROGRESS'", (job_id,)).fetchone() is None:
                return False
            db.execute("DELETE FROM detections WHERE job_id = ?", (job_id,))
            for batch in batches:
                db.executemany(
                    "INSERT INTO detections (job_id, ts, person_index, neg_confidence, record) VALUES (?, ?, ?, ?, ?)",
                    [(job_id, r.timestamp_ms, r.person_index, -float(r.confidence), r.record) for r in batch],
                )
            db.execute("DELETE FROM chunks WHERE job_id = ?", (job_id,))
            db.execute(
                "UPDATE jobs SET status = 'SUCCEEDED', status_message = ?, progress = 1, running = 0,"
                " video_metadata = ?, finished_at = ? WHERE job_id = ?",
                (status_message[:4000] if status_message else None, json.dumps(video_metadata), time.time(), job_id),
            )
        return True

    # ----------------------------------------------------------------------- pages
    def page(self, job_id: str, sort: str, after: Sequence[Any] | None, limit: int) -> list[tuple[tuple[Any, ...], str]]:
        """Up to `limit` detections after the keyset position `after` in `sort` order:
        [(key, record JSON text)]."""
        keys = SORT_KEYS[sort]
        columns = ", ".join(keys)
        where, args = "job_id = ?", [job_id]
        if after is not None:
            where += f" AND ({columns}) > ({', '.join('?' * len(keys))})"
            args.extend(after)
        rows = self._db().execute(
            f"SELECT {columns}, record FROM detections WHERE {where} ORDER BY {columns} LIMIT ?",
            (*args, int(limit)),
        ).fetchall()
        return [(tuple(r[:-1]), r[-1]) for r in rows]

    def count_detections(self, job_id: str) -> int:
        return self._db().execute("SELECT COUNT(*) FROM detections WHERE job_id = ?", (job_id,)).fetchone()[0]

    @staticmethod
    def _get(db: sqlite3.Connection, where: str, value: Any) -> Job | None:
        row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where}", (value,)).fetchone()
        return _job(row) if row else None


_JOB_COLUMNS = (
    "job_id, status, status_message, request, request_hash, client_token, video_metadata,"
    " progress, attempts, created_at, finished_at, running, frames_analysed"
)


def _job(row: Sequence[Any]) -> Job:
    return Job(
        job_id=row[0],
        status=row[1],
        status_message=row[2],
        request=json.loads(row[3]),
        request_hash=row[4],
        client_token=row[5],
        video_metadata=json.loads(row[6]) if row[6] else None,
        progress=row[7],
        attempts=row[8],
        created_at=row[9],
        finished_at=row[10],
        running=bool(row[11]),
        frames_analysed=row[12],
    )


class _Transaction:
    """`with` block: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
