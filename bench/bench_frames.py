"""Frame access latency on the shared clips: FrameReader against naive OpenCV seeking
(CAP_PROP_POS_FRAMES) and against sequential decode, all measured in this run.

    python bench/bench_frames.py [--seeks 60] [--clips pets_h264,vtest,opera]

Each (clip, method) runs in its own process so that its peak RSS is its own. Reported:
median / p95 ms of random seeks, next-frame steps and next-detection jumps (forward by
1-10 frames), how many returned frames were not the requested one (checked against
thumbnails of a sequential decode), peak RSS, and the proxy build time.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
CLIPS = {
    "pets_h264": DATA / "pets09_s2l1" / "pets09_s2l1_h264.mp4",
    "vtest": DATA / "pets09_s2l1" / "vtest.avi",
    "opera": DATA / "faces_royal_opera_house" / "video.mp4",
}
METHODS = ("sequential", "cv2_naive", "reader_original", "reader_proxy")


def thumb(image: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float32)


def plan(n: int, seeks: int, seed: int = 7) -> dict[str, list[int]]:
    """The same frame indexes for every method: random seeks, steps, forward jumps."""
    rng = random.Random(seed)
    start = rng.randrange(n // 2)
    jumps = [rng.randrange(n // 4)]
    while len(jumps) < seeks and jumps[-1] + 10 < n:
        jumps.append(jumps[-1] + rng.randint(1, 10))
    return {
        "seek": [rng.randrange(n) for _ in range(seeks)],
        "step": list(range(start, min(n, start + seeks + 1))),
        "jump": jumps,
    }


def run_one(clip: str, method: str, seeks: int, cache_dir: str) -> dict[str, object]:
    """Time one method on one clip (in a child process)."""
    import cv2

    from peoplepath.video import FrameReader, build_proxy, iter_frames

    path = CLIPS[clip]
    t0 = time.perf_counter()
    refs = [thumb(f.image) for f in iter_frames(path, max_fps=1000)]
    sequential_ms = (time.perf_counter() - t0) / len(refs) * 1000
    out: dict[str, object] = {"frames": len(refs), "sequential_ms": sequential_ms}
    if method == "sequential":
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return out
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wrong = 0

    if method == "cv2_naive":
        cap = cv2.VideoCapture(str(path))

        def get(i: int, previous: int | None) -> np.ndarray:
            if previous != i - 1:
                cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, image = cap.read()
            if not ok:
                raise RuntimeError(f"cv2 could not read frame {i}")
            return image

    else:
        if method == "reader_proxy":
            t = time.perf_counter()
            build_proxy(path, cache_dir)
            out["proxy_build_s"] = time.perf_counter() - t
            out["proxy_mb"] = sum(p.stat().st_size for p in Path(cache_dir).glob("*.mp4")) / 2**20
        mode = "wait" if method == "reader_proxy" else "off"
        reader = FrameReader(path, cache_bytes=0, cache_dir=cache_dir, proxy=mode)
        out["using_proxy"] = reader.using_proxy

        def get(i: int, previous: int | None) -> np.ndarray:
            return reader.frame_at_index(i).image

    for kind, indexes in plan(len(refs), seeks).items():
        times = []
        previous: int | None = None
        for n, i in enumerate(indexes):
            t = time.perf_counter()
            image = get(i, previous)
            dt = time.perf_counter() - t
            if kind == "seek" or n > 0:  # steps and jumps time the moves, not the first seek
                times.append(dt * 1000)
            previous = i
            d = [float(np.abs(thumb(image) - r).mean()) for r in refs]
            wrong += int(np.argmin(d)) != i and d[i] > min(d)
        out[kind] = (float(np.median(times)), float(np.percentile(times, 95)))
    out["wrong_frames"] = wrong
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_growth_mb"] = out["rss_mb"] - rss_before  # type: ignore[operator]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeks", type=int, default=60)
    ap.add_argument("--clips", default=",".join(CLIPS))
    ap.add_argument("--one", nargs=2, metavar=("CLIP", "METHOD"), help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one, args.seeks, args.cache_dir)))
        return
    from tabulate import tabulate

    rows = []
    for clip in args.clips.split(","):
        res = {}
        for method in METHODS:
            with tempfile.TemporaryDirectory(prefix="pp-proxy-") as cache:
                cmd = [sys.executable, __file__, "--one", clip, method, "--seeks", str(args.seeks)]
                cmd += ["--cache-dir", cache]
                res[method] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        seq = res["sequential"]["sequential_ms"]
        for method in METHODS[1:]:
            r = res[method]
            rows.append([
                clip, method,
                "%.1f / %.1f" % tuple(r["seek"]), "%.1f / %.1f" % tuple(r["step"]), "%.1f / %.1f" % tuple(r["jump"]),
                "%.1fx" % (res["cv2_naive"]["seek"][0] / r["seek"][0]),
                "%.1fx" % (r["seek"][0] / seq),
                r["wrong_frames"], "%.0f" % r["rss_mb"],
                "%.1f s, %.0f MB" % (r["proxy_build_s"], r["proxy_mb"]) if "proxy_build_s" in r else "",
            ])
        seq_rss = "%.0f" % res["sequential"]["rss_mb"]
        rows.append([clip, "sequential", "", "%.1f ms/frame" % seq, "", "", "", "", seq_rss, ""])
    print(tabulate(rows, headers=[
        "clip", "method", "seek med/p95 ms", "step med/p95", "jump 1-10 med/p95", "seek speedup vs cv2",
        "seek / sequential frame", "wrong frames", "peak RSS MB", "proxy build",
    ]))


if __name__ == "__main__":
    main()
