"""The embedded default: the dashboard's way to reach (or start) the local service."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import free_port, rekognition

from peoplepath.service.embedded import ensure_local_service, service_answers


def serving_on(port: int) -> list[int]:
    """Pids of `python -m peoplepath serve ... --port PORT` processes (from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"peoplepath" in args and b"serve" in args and str(port).encode() in args:
            pids.append(int(entry.name))
    return pids


def test_starts_the_service_once_then_reuses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("PEOPLEPATH_PORT", str(port))
    try:
        url = ensure_local_service(tmp_path / "data")
        assert url == f"http://127.0.0.1:{port}" and service_answers(url)
        started = serving_on(port)
        assert len(started) == 1
        assert ensure_local_service(tmp_path / "elsewhere") == url  # it answered: nothing new started
        assert serving_on(port) == started and not (tmp_path / "elsewhere").exists()
        assert (tmp_path / "data" / "peoplepath.sqlite3").is_file()
        with pytest.raises(ClientError) as error:
            rekognition(url).get_person_tracking(JobId="no-such-job")
        assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    finally:
        for pid in serving_on(port):
            os.kill(pid, signal.SIGTERM)
