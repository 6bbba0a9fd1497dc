"""A real Dask cluster on 127.0.0.1 for tests and benches: `dask scheduler` and
`dask worker` processes from this environment, with this repository importable."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).with_name("dask"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DaskCluster:
    """A scheduler and `workers` single-threaded workers (no nanny: a killed worker stays dead)."""

    log_dir: Path
    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=_free_port)
    scheduler: subprocess.Popen | None = None
    worker_processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": str(REPO), "DASK_DISTRIBUTED__WORKER__DAEMON": "False", **self.env}
        env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        return env

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        return subprocess.Popen(command, cwd=self.log_dir, env=self._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self) -> "DaskCluster":
        self.start_scheduler()
        for _ in range(self.workers):
            self.add_worker()
        self.wait_for_workers(self.workers)
        return self

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn(
            "scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"]
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.scheduler.poll() is not None:
                    raise RuntimeError(f"the scheduler exited; see {self.log_dir / 'scheduler.log'}")
                time.sleep(0.2)
        raise TimeoutError("the scheduler did not start")

    def add_worker(self, nthreads: int = 1, env: dict[str, str] | None = None) -> subprocess.Popen:
        name = f"worker-{len(self.worker_processes)}"
        command = [DASK, "worker", self.address, "--nworkers", "1", "--nthreads", str(nthreads), "--no-nanny",
                   "--no-dashboard", "--name", name, "--memory-limit", "0"]
        process = self._spawn(name, command)
        self.worker_processes.append(process)
        return process

    def wait_for_workers(self, n: int, timeout: float = 90) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=timeout)

    def kill_worker(self, i: int) -> None:
        _kill(self.worker_processes[i], signal.SIGKILL)

    def kill_scheduler(self) -> None:
        if self.scheduler is not None:
            _kill(self.scheduler, signal.SIGKILL)

    def stop(self) -> None:
        for process in self.worker_processes:
            _kill(process, signal.SIGTERM)
        if self.scheduler is not None:
            _kill(self.scheduler, signal.SIGTERM)


def _kill(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
