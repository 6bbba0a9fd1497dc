"""The embedded default stops the service it started when its process exits (as the
dashboard's process does when it is stopped), and leaves one it found running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from peoplepath.service.embedded import service_answers
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[1]


def test_started_service_stops_with_its_starter(tmp_path, running_service):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    script = ("import sys; from pathlib import Path; from peoplepath.service.embedded import ensure_local_service;"
              f"print(ensure_local_service(Path({str(tmp_path / 'data')!r}), {port}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == url, done.stderr
    assert not service_answers(url)  # stopped when the starter exited
    # A service it did not start is left alone.
    script = ("from peoplepath.service.embedded import ensure_local_service;"
              f"print(ensure_local_service(port={running_service.port}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and service_answers(running_service.endpoint_url)
