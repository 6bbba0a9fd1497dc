"""Analytics benchmark: lines, zones, dwell, occupancy and flows of a made-up job of about
100,000 detections, `peoplepath.analytics` (vectorised) against a plain per-detection
Python loop of the same definitions (`loop_analyze`, below) in the same run; asserts both
give identical answers and prints both times and the ratio. Then, unless --no-engine,
accuracy as a user sees it: the engine's own tracks (faces off) on the shared clips
against their ground truth, counts per line and zone, printed as relative error.

    python bench/bench_analytics.py [--detections 100000] [--repeat 3] [--no-engine]
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from peoplepath import analytics, client, results  # noqa: E402

SHARED = REPO.parent / "shared" / "data"

# Lines across the walkways and zones on them (ratios; odd digits keep anchors off edges).
CLIPS = {
    "pets09_s2l1": dict(video="pets09_s2l1_h264.mp4", size=(768, 576), fps=7.0, geometry={
        "lines": [{"name": "west", "from": [0.3113, 0.2917], "to": [0.3071, 0.8533]},
                  {"name": "east", "from": [0.7117, 0.2617], "to": [0.7043, 0.8531]}],
        "zones": [{"name": "plaza west", "polygon": [[0.0113, 0.3117], [0.2813, 0.3117], [0.2813, 0.5417], [0.0113, 0.5417]]},
                  {"name": "centre", "polygon": [[0.4013, 0.3313], [0.6217, 0.3313], [0.6217, 0.6117], [0.4013, 0.6117]]},
                  {"name": "east path", "polygon": [[0.7513, 0.3813], [0.9917, 0.3813], [0.9917, 0.8017], [0.7513, 0.8017]]}],
    }),
    "tud_stadtmitte": dict(video="tud_stadtmitte_h264.mp4", size=(640, 480), fps=25.0, geometry={
        "lines": [{"name": "centre", "from": [0.5513, 0.4013], "to": [0.5521, 0.7517]},
                  {"name": "east", "from": [0.8017, 0.4013], "to": [0.8023, 0.7517]}],
        "zones": [{"name": "west", "polygon": [[0.0113, 0.4313], [0.4513, 0.4313], [0.4513, 0.7413], [0.0113, 0.7413]]},
                  {"name": "east", "polygon": [[0.6513, 0.4313], [0.9917, 0.4313], [0.9917, 0.7413], [0.6513, 0.7413]]}],
    }),
}


# --------------------------------------------------------------- the per-detection loop
def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def _inside(x: float, y: float, poly: list[tuple[float, float]]) -> bool:
    """Even-odd ray casting (agrees with shapely's interior off the boundary)."""
    hit = False
    j = len(poly) - 1
    for i in range(len(poly)):
        (xi, yi), (xj, yj) = poly[i], poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit


def loop_analyze(table: pd.DataFrame, geometry: analytics.Geometry, end_ms: int) -> dict[str, Any]:
    """The analyze report, plus occupancy per second up to `end_ms`, one detection at a time."""
    rows = [(i, t, left + w / 2, top + h) for i, t, b, left, top, w, h in zip(
        table["index"].tolist(), table["timestamp_ms"].tolist(), table["has_box"].tolist(), table["left"].tolist(),
        table["top"].tolist(), table["width"].tolist(), table["height"].tolist()) if b]
    rows.sort(key=lambda r: (r[0], r[1]))  # by person, then time (stable)
    lines = []
    for line in geometry.lines:
        (fx, fy), (tx, ty) = line.start, line.end
        dx, dy = tx - fx, ty - fy
        found = []
        for (ia, ta, ax, ay), (ib, tb, bx, by) in zip(rows, rows[1:]):
            if ia != ib:
                continue
            sa, sb = _sign(dx * (ay - fy) - dy * (ax - fx)), _sign(dx * (by - fy) - dy * (bx - fx))
            ex, ey = bx - ax, by - ay
            ef, et = _sign(ex * (fy - ay) - ey * (fx - ax)), _sign(ex * (ty - ay) - ey * (tx - ax))
            if sa * sb < 0 and ef * et < 0:
                s = ((fx - ax) * dy - (fy - ay) * dx) / (ex * dy - ey * dx)
                found.append((math.floor(ta + s * (tb - ta) + 0.5), ia, "in" if sb > 0 else "out"))
        found.sort(key=lambda c: (c[0], c[1]))
        lines.append({"name": line.name, "in": sum(c[2] == "in" for c in found),
                      "out": sum(c[2] == "out" for c in found),
                      "crossings": [{"index": i, "timestamp_ms": t, "direction": d} for t, i, d in found]})
    zones, occupancy, spans = [], [], []
    by_time = sorted(range(len(rows)), key=lambda k: rows[k][1])  # stable: ties keep person order
    seconds = list(range(0, end_ms // 1000 + 1))
    for zone in geometry.zones:
        poly = list(zone.polygon)
        ins = [_inside(x, y, poly) for _, _, x, y in rows]
        entries = exits = 0
        dwell: dict[int, int] = {}
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for k, (i, t, _, _) in enumerate(rows):
            if ins[k]:
                dwell.setdefault(i, 0)
                first.setdefault(i, t)
                last[i] = t
            if k and rows[k - 1][0] == i:
                entries += (not ins[k - 1]) and ins[k]
                exits += ins[k - 1] and not ins[k]
                if ins[k - 1] and ins[k]:
                    dwell[i] += t - rows[k - 1][1]
        # Occupancy: sweep the detections in time order, counting at every detection time.
        latest: dict[int, tuple[int, bool]] = {}
        peak, per_second, q = 0, [], 0
        for n, k in enumerate(by_time):
            i, t = rows[k][0], rows[k][1]
            while q < len(seconds) and seconds[q] * 1000 < t:
                per_second.append(sum(1 for tl, inn in latest.values() if inn and seconds[q] * 1000 - tl <= 1000))
                q += 1
            latest[i] = (t, ins[k])
            if n + 1 == len(by_time) or rows[by_time[n + 1]][1] != t:
                peak = max(peak, sum(1 for tl, inn in latest.values() if inn and t - tl <= 1000))
        for s in seconds[q:]:
            per_second.append(sum(1 for tl, inn in latest.values() if inn and s * 1000 - tl <= 1000))
        zones.append({"name": zone.name, "entries": entries, "exits": exits, "peak_occupancy": peak,
                      "dwell": [{"index": i, "ms": dwell[i]} for i in sorted(dwell)]})
        occupancy.append(per_second)
        spans.append((first, last))
    flows = []
    for a, za in enumerate(geometry.zones):
        for b, zb in enumerate(geometry.zones):
            if a != b:
                first, last = spans[a][0], spans[b][1]
                flows.append({"from": za.name, "to": zb.name,
                              "persons": sum(1 for p in first if p in last and first[p] < last[p])})
    return {"lines": lines, "zones": zones, "flows": flows, "occupancy": occupancy}


def vector_analyze(table: pd.DataFrame, geometry: analytics.Geometry, end_ms: int) -> dict[str, Any]:
    """`analytics.analyze` in the same shape as `loop_analyze`."""
    analysis = analytics.analyze(table, geometry)
    occ = analysis.occupancy_per_second(end_ms)
    return {**analysis.report(),
            "occupancy": [occ.loc[occ["zone"] == z.name, "persons"].tolist() for z in geometry.zones]}


# ------------------------------------------------------------------------- made-up job
def made_up_table(detections: int, *, fps: float = 25.0, seed: int = 1) -> pd.DataFrame:
    """People wandering over the frame: random walks that turn at the edges, each seen for
    8-30 s, about 5% of detections without a person box."""
    rng = np.random.default_rng(seed)
    persons, index, total = [], 0, 0
    while total < detections:
        n = int(min(rng.integers(200, 750), detections - total))
        start = int(rng.integers(0, 4000))
        pos, vel = rng.uniform(0.1, 0.9, 2), rng.normal(0, 0.004, 2)
        for f in range(start, start + n):
            vel = 0.97 * vel + rng.normal(0, 0.0008, 2)
            pos = pos + vel
            for axis in (0, 1):
                if not 0.05 < pos[axis] < 0.95:
                    vel[axis] = -vel[axis]
                    pos[axis] = min(max(pos[axis], 0.05), 0.95)
            person: dict[str, Any] = {"Index": index}
            if rng.random() > 0.05:
                w, h = 0.05, 0.15
                person["BoundingBox"] = {"Width": w, "Height": h, "Left": float(pos[0] - w / 2), "Top": float(pos[1] - h)}
            persons.append({"Timestamp": int(round(f * 1000 / fps)), "Person": person})
        index, total = index + 1, total + n
    return results.build_table(persons, width=1280, height=720, fps=fps)


MADE_UP_GEOMETRY = analytics.parse_geometry({
    "lines": [{"name": "door", "from": [0.1013, 0.5017], "to": [0.8971, 0.4933]},
              {"name": "aisle", "from": [0.4917, 0.0513], "to": [0.5083, 0.9517]},
              {"name": "short", "from": [0.2013, 0.2017], "to": [0.3519, 0.3511]}],
    "zones": [{"name": "till", "polygon": [[0.1013, 0.1017], [0.4019, 0.1213], [0.3817, 0.4511], [0.1211, 0.4313]]},
              {"name": "entrance", "polygon": [[0.5513, 0.5517], [0.9019, 0.5613], [0.8817, 0.9011]]},
              {"name": "middle", "polygon": [[0.3013, 0.3017], [0.7019, 0.3013], [0.7017, 0.7011], [0.5013, 0.8017],
                                             [0.3011, 0.7013]]}],
})


def timed(fn) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def speed(detections: int, repeat: int) -> None:
    table = made_up_table(detections)
    end_ms = int(table["timestamp_ms"].max())
    print(f"made-up job: {len(table):,} detections of {table['index'].nunique()} persons, "
          f"{len(MADE_UP_GEOMETRY.lines)} lines, {len(MADE_UP_GEOMETRY.zones)} zones")
    vec_times, loop_times = [], []
    for _ in range(repeat):
        tv, vec = timed(lambda: vector_analyze(table, MADE_UP_GEOMETRY, end_ms))
        tl, loop = timed(lambda: loop_analyze(table, MADE_UP_GEOMETRY, end_ms))
        assert vec == loop, "the vectorised and the loop answers differ"
        vec_times.append(tv)
        loop_times.append(tl)
    tv, tl = min(vec_times), min(loop_times)
    counts = {ln["name"]: (ln["in"], ln["out"]) for ln in vec["lines"]}
    print(f"identical answers (crossings in/out {counts}, entries "
          f"{[z['entries'] for z in vec['zones']]}, peaks {[z['peak_occupancy'] for z in vec['zones']]})")
    print(f"vectorised: {tv * 1000:8.1f} ms   per-detection loop: {tl * 1000:8.1f} ms   ratio: {tl / tv:6.1f}x "
          f"(best of {repeat})")


# ---------------------------------------------------------------------------- accuracy
def _counts(table: pd.DataFrame, geometry: analytics.Geometry) -> dict[str, float]:
    rep = analytics.analyze(table, geometry).report()
    out: dict[str, float] = {}
    for ln in rep["lines"]:
        out[f"line {ln['name']} in"], out[f"line {ln['name']} out"] = ln["in"], ln["out"]
    for z in rep["zones"]:
        out[f"zone {z['name']} entries"] = z["entries"]
        out[f"zone {z['name']} dwell s"] = sum(d["ms"] for d in z["dwell"]) / 1000
    return out


def accuracy() -> None:
    from peoplepath.engine.pipeline import EngineSettings, Pipeline

    pipeline = Pipeline(EngineSettings(faces=False))
    for name, clip in CLIPS.items():
        folder = SHARED / name
        (w, h), fps = clip["size"], clip["fps"]
        geometry = analytics.parse_geometry(clip["geometry"])
        truth = results.table_from_job(client.load_mot(folder / "gt" / "gt.txt", width=w, height=h, fps=fps))
        t0 = time.perf_counter()
        run = pipeline.run(folder / clip["video"])
        engine = results.build_table(run.persons_records(), width=w, height=h, fps=fps)
        print(f"\n{name}: engine {len(engine):,} detections of {engine['index'].nunique()} ids in "
              f"{time.perf_counter() - t0:.1f} s; ground truth {len(truth):,} of {truth['index'].nunique()} ids")
        got, want = _counts(engine, geometry), _counts(truth, geometry)
        errors = []
        for key in want:
            fmt = "{:8.1f}" if key.endswith(" s") else "{:8.0f}"
            rel = abs(got[key] - want[key]) / want[key] if want[key] else math.nan
            errors.append(rel)
            shown = f"{rel:6.1%}" if want[key] else "   n/a (none in the truth)"
            print(f"  {key:<28} engine {fmt.format(got[key])}  truth {fmt.format(want[key])}  relative error {shown}")
        finite = [e for e in errors if not math.isnan(e)]
        print(f"  mean relative error {np.mean(finite):.1%} over {len(finite)} counts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detections", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-engine", action="store_true", help="skip the accuracy runs on the shared clips")
    args = parser.parse_args()
    speed(args.detections, args.repeat)
    if not args.no_engine:
        accuracy()


if __name__ == "__main__":
    main()
