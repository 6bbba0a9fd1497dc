"""The embedded default: reach the local service, starting it if none answers."""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .config import DEFAULT_DATA_DIR, DEFAULT_PORT


def service_answers(endpoint_url: str, timeout: float = 1.0) -> bool:
    """True when a PeoplePath service answers /ping at `endpoint_url`."""
    try:
        with urllib.request.urlopen(f"{endpoint_url.rstrip('/')}/ping", timeout=timeout) as reply:
            return json.loads(reply.read()).get("service") == "peoplepath"
    except (OSError, ValueError, urllib.error.URLError):
        return False


def start_service(data_dir: Path, port: int, host: str = "127.0.0.1", log_path: Path | None = None) -> subprocess.Popen:
    """Start `python -m peoplepath serve` as a child process (it keeps running in the
    background); returns the process without waiting for it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_path or data_dir / "service.log", "ab")
    command = [sys.executable, "-m", "peoplepath", "serve", "--host", host, "--port", str(port), "--data-dir", str(data_dir)]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def wait_until_up(endpoint_url: str, process: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service_answers(endpoint_url):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the PeoplePath service exited with code {process.returncode}; see its service.log")
        time.sleep(0.2)
    raise TimeoutError(f"no PeoplePath service answered at {endpoint_url} within {timeout:.0f} s")


def ensure_local_service(data_dir: Path | None = None, port: int | None = None) -> str:
    """The endpoint URL of the local service on `port` (default $PEOPLEPATH_PORT or 8765),
    started on `data_dir` (default $PEOPLEPATH_DATA_DIR or ./.peoplepath) when nothing
    answers there yet."""
    port = port or int(os.environ.get("PEOPLEPATH_PORT") or DEFAULT_PORT)
    endpoint_url = f"http://127.0.0.1:{port}"
    if not service_answers(endpoint_url):
        data_dir = data_dir or Path(os.environ.get("PEOPLEPATH_DATA_DIR") or DEFAULT_DATA_DIR)
        process = start_service(data_dir.resolve(), port)
        atexit.register(stop_service, process)  # the dashboard stops what it started
        wait_until_up(endpoint_url, process)
    return endpoint_url


def stop_service(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Stop a service `start_service` started (SIGTERM to its process group: its job
    workers too; jobs left IN_PROGRESS resume when a service starts again)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
