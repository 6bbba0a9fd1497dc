"""Loading benchmark: detections per second from GetPersonTracking pages to the results
table, for a made-up job of about 100,000 detections, against pandas.json_normalize of
the same pages in the same run. Prints the ratio (target: at least 5x).

    python bench/bench_loading.py [--detections 100000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peoplepath import client, results  # noqa: E402
from tests.dash_helpers import make_pages, make_persons  # noqa: E402


def timed(fn) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detections", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    people = 20
    n_frames = int(args.detections / (people * 0.8)) + 1
    persons = make_persons(people, n_frames, width=1280, height=720)[: args.detections]
    pages = make_pages(persons, page_size=1000, width=1280, height=720, n_frames=n_frames)
    n = len(persons)
    print(f"{n} detections in {len(pages)} pages")

    def ours() -> pd.DataFrame:
        return results.table_from_job(client.load_archive(pages))

    def normalize_pages() -> pd.DataFrame:
        return pd.json_normalize(pages, record_path="Persons")

    def normalize_flat() -> pd.DataFrame:
        return pd.json_normalize([p for page in pages for p in page["Persons"]])

    runs = {"results.table_from_job": ours, "json_normalize(pages, 'Persons')": normalize_pages,
            "json_normalize(all Persons)": normalize_flat}
    # Interleaved runs, best of each: the machine is shared and timings are noisy.
    best = dict.fromkeys(runs, math.inf)
    for _ in range(args.repeat):
        for name, fn in runs.items():
            best[name] = min(best[name], timed(fn))
    for name, fn in runs.items():
        print(f"{name:34s}: {best[name] * 1000:8.1f} ms {n / best[name]:11,.0f} detections/s  ({fn().shape[1]} columns)")
    t_ours = best["results.table_from_job"]
    for name in list(runs)[1:]:
        print(f"speed-up vs {name}: {best[name] / t_ours:.1f}x (target >= 5x)")
    print("(json_normalize leaves Landmarks as a column of lists and computes no pixel boxes or frames)")


if __name__ == "__main__":
    main()
