"""Throughput of a job on a Dask cluster with one worker and with two (each `--nthreads 1`,
onnxruntime single-threaded), on this machine, as a ratio measured in the same run.

Runs `track --scheduler` (the same chunks as `serve --scheduler`) on PETS09-S2L1 (795
frames, 113 s) in 10 s chunks, faces off by default (--faces to include them), and prints
analysed frames per second for each cluster size and the 2-worker / 1-worker ratio.
On 2 cores two single-threaded workers should approach 2x; other load on the machine
lowers it (the load average is printed before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from dask_cluster import REPO, DaskCluster  # noqa: E402

VIDEO = REPO.parent / "shared" / "data" / "pets09_s2l1" / "pets09_s2l1_h264.mp4"


def run(workers: int, args: argparse.Namespace, tmp: Path) -> tuple[float, int, int]:
    """(seconds, frames, detections) of one `track --scheduler` on a fresh cluster."""
    cluster = DaskCluster(tmp / f"cluster-{workers}", workers=workers, env={"PEOPLEPATH_ORT_THREADS": "1"}).start()
    try:
        out = tmp / f"out-{workers}.json"
        command = [sys.executable, "-m", "peoplepath", "track", str(args.video), "--out", str(out),
                   "--chunk-seconds", str(args.chunk_seconds), "--scheduler", cluster.address]
        if not args.faces:
            command.append("--no-faces")
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - start
        frames = int(done.stdout.split(" frames in ")[0].rsplit(" ", 1)[-1])
        return seconds, frames, len(json.loads(out.read_text())["Persons"])
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--chunk-seconds", type=float, default=10.0)
    parser.add_argument("--faces", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}, cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        one = run(1, args, Path(tmp))
        two = run(2, args, Path(tmp))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("| workers | seconds | frames | frames/s | detections |")
    print("|---|---|---|---|---|")
    for n, (seconds, frames, detections) in ((1, one), (2, two)):
        print(f"| {n} | {seconds:.1f} | {frames} | {frames / seconds:.1f} | {detections} |")
    print(f"2 workers / 1 worker throughput: {one[0] / two[0]:.2f}x (job time includes probing and stitching)")


if __name__ == "__main__":
    main()
