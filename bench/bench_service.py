"""Cost of serving a 1000-item GetPersonTracking page, against just serialising it.

Baseline (same run): `json.dumps` of the same 1000 Persons as Python objects, which is
what any server must at least do. Measured: the backend building the page body from the
store (keyset scan + stored JSON text), and a whole boto3 call over HTTP on 127.0.0.1
(server + botocore parsing).
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peoplepath import contract  # noqa: E402
from peoplepath.engine.types import Face  # noqa: E402
from peoplepath.service.backend import Backend  # noqa: E402
from peoplepath.service.config import ServiceConfig  # noqa: E402
from peoplepath.service.runner import JobRunner  # noqa: E402
from peoplepath.store import DetectionRow  # noqa: E402

DETECTIONS = 20_000


class NoRunner(JobRunner):
    def submit(self, job_id: str) -> None: ...

    def shutdown(self) -> None: ...


def made_rows(n: int) -> list[DetectionRow]:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        ts, idx = (i // 8) * 40, i % 8
        x, y = rng.uniform(0, 500), rng.uniform(0, 300)
        face = None
        if i % 3 == 0:
            face = Face(np.array([x + 10, y + 5, x + 40, y + 40]), 99.1, {t: (x + 20, y + 20) for t in contract.BASIC_LANDMARKS}, (1.0, -3.0, 2.0), 55.0, 70.0)
        record = contract.person_detection(ts, idx, [x, y, x + 60, y + 150], face, 768, 576)
        rows.append(DetectionRow(ts, idx, float(rng.uniform(30, 99)), json.dumps(record, separators=(",", ":"))))
    return rows


def timed(fn, repeat: int = 30) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, float(np.percentile(times, 95)) * 1000


def http_call(data_dir: Path) -> tuple[float, float]:
    import boto3

    from peoplepath.service.embedded import start_service, wait_until_up

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = start_service(data_dir, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process)
        client = boto3.client("rekognition", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
        return timed(lambda: client.get_person_tracking(JobId="bench"), repeat=15)
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        backend = Backend(ServiceConfig(data_dir=Path(tmp)), runner=NoRunner())
        rows = made_rows(DETECTIONS)
        backend.store.create_job("bench", {"Video": {"S3Object": {"Bucket": "b", "Name": "n"}}}, "h", None)
        backend.store.complete_job("bench", {"Codec": "h264", "DurationMillis": 1, "Format": "mp4", "FrameRate": 25.0, "FrameHeight": 576, "FrameWidth": 768, "ColorRange": "LIMITED"}, [rows])
        first = backend.get_person_tracking({"JobId": "bench"})
        token = json.loads(first)["NextToken"]
        page_objects = json.loads(first)  # the same page as Python objects

        baseline = timed(lambda: json.dumps(page_objects).encode())
        results = {
            "serialise 1000 Persons (json.dumps, baseline)": baseline,
            "serve first page (store -> body)": timed(lambda: backend.get_person_tracking({"JobId": "bench"})),
            "serve a middle page (NextToken)": timed(lambda: backend.get_person_tracking({"JobId": "bench", "NextToken": token})),
            "serve INDEX-sorted page": timed(lambda: backend.get_person_tracking({"JobId": "bench", "SortBy": "INDEX"})),
        }
        backend.close()
        results["whole boto3 call over HTTP (server + botocore parse)"] = http_call(Path(tmp))
        print(f"GetPersonTracking page of 1000 from a job of {DETECTIONS} detections")
        for name, (median, p95) in results.items():
            print(f"  {name:55s} median {median:7.2f} ms  p95 {p95:7.2f} ms  ratio {median / baseline[0]:5.2f}x")


if __name__ == "__main__":
    main()
