"""The engine on the robustness suite (bench/robustness.py): each transformed version of
each shared clip scored (TrackEval HOTA / MOTA / IDF1) beside its source clip, the drop,
and the mean and worst drop. Faces are off: they do not change tracks.

    python bench/bench_robustness.py [--set knob=value ...] [--variant "k=v,k=v" ...]
        [--only NAME ...] [--json OUT]

`--set` overrides EngineSettings fields (numbers, true/false or text), so settings are
compared on the whole suite at once. Each `--variant` (repeatable) runs the suite again
with its own overrides on top of `--set`; variants whose detector knobs agree share the
detector's boxes (memoised by frame content), so tracker and offline knobs are cheap to
compare.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import pickle
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_engine import CLIPS, quality_of  # noqa: E402
from bench.robustness import TRANSFORMS, cache_dir, make_version  # noqa: E402
from peoplepath.engine.pipeline import EngineSettings, Pipeline  # noqa: E402
from peoplepath.engine.types import Detections  # noqa: E402

KEYS = ("HOTA", "MOTA", "IDF1")
DETECTOR_KNOBS = ("detector", "detector_input_long_side", "detector_score_threshold", "detector_int8", "detector_low_light")


class MemoDetector:
    """A detector whose boxes are remembered by the frame's pixels (blake2b digest), kept
    on disk in `path` between runs (`save`)."""

    def __init__(self, detector, path: Path) -> None:
        self.detector, self.path = detector, path
        self.memo: dict[bytes, Detections] = pickle.loads(path.read_bytes()) if path.is_file() else {}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        part = self.path.with_suffix(".part")
        part.write_bytes(pickle.dumps(self.memo))
        part.rename(self.path)

    def detect(self, image) -> Detections:
        key = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).digest()
        if key not in self.memo:
            self.memo[key] = self.detector.detect(image)
        found = self.memo[key]
        return Detections(found.xyxy.copy(), found.scores.copy())


def parse_settings(pairs: list[str], base: dict[str, object] | None = None) -> EngineSettings:
    fields = {f.name: f for f in dataclasses.fields(EngineSettings)}
    values: dict[str, object] = {"faces": False, **(base or {})}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"unknown setting {name!r}; known: {', '.join(fields)}")
        default = getattr(EngineSettings(), name)
        if isinstance(default, bool):
            values[name] = text.lower() in ("1", "true", "yes", "on")
        elif isinstance(default, (int, float)):
            values[name] = type(default)(float(text)) if isinstance(default, int) else float(text)
        else:
            values[name] = text
    return EngineSettings(**values)


def run_suite(
    settings: EngineSettings,
    only: list[str] | None = None,
    log=print,
    pipeline: Pipeline | None = None,
    clips: list[str] | None = None,
) -> list[dict]:
    """Score every clip and every version; returns one row per (clip, version)."""
    pipeline = pipeline or Pipeline(settings)
    rows = []
    for clip, (video, gt_dir) in CLIPS.items():
        if clips and clip not in clips:
            continue
        t0 = time.perf_counter()
        source = {k: round(quality_of(pipeline.run(video), gt_dir)[k], 2) for k in KEYS}
        log(f"{clip} source {source} ({time.perf_counter() - t0:.0f} s)")
        for name, transform in TRANSFORMS.items():
            if only and name not in only:
                continue
            t0 = time.perf_counter()
            made_video, made_gt = make_version(clip, video, gt_dir, transform)
            quality = {k: round(quality_of(pipeline.run(made_video), made_gt)[k], 2) for k in KEYS}
            rows.append({"clip": clip, "version": name, "source": source, **quality})
            if isinstance(pipeline.detector, MemoDetector):
                pipeline.detector.save()
            log(f"{clip} {name} {quality} ({time.perf_counter() - t0:.0f} s)")
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'clip':15s} {'version':20s} {'HOTA':>6s} {'source':>6s} {'drop':>6s}   MOTA   IDF1"]
    for r in rows:
        drop = r["source"]["HOTA"] - r["HOTA"]
        lines.append(
            f"{r['clip']:15s} {r['version']:20s} {r['HOTA']:6.2f} {r['source']['HOTA']:6.2f} {drop:6.2f} "
            f"{r['MOTA']:6.2f} {r['IDF1']:6.2f}"
        )
    if not rows:
        return "\n".join(lines)
    drops = [r["source"]["HOTA"] - r["HOTA"] for r in rows]
    sources = {r["clip"]: r["source"]["HOTA"] for r in rows}
    worst = max(rows, key=lambda r: r["source"]["HOTA"] - r["HOTA"])
    lines.append(
        f"sources HOTA {', '.join(f'{c} {h:.2f}' for c, h in sources.items())}; "
        f"versions mean HOTA {statistics.mean(r['HOTA'] for r in rows):.2f}, mean drop {statistics.mean(drops):.2f}, "
        f"worst drop {max(drops):.2f} ({worst['clip']} {worst['version']})"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE")
    parser.add_argument("--variant", action="append", default=[], metavar="K=V,K=V")
    parser.add_argument("--clip", action="append", help="run only these source clips")
    parser.add_argument("--only", action="append", help="run only these versions (names as in the table)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base = dataclasses.asdict(parse_settings(args.set))
    variants = [[p for p in v.split(",") if p] for v in args.variant] or [[]]
    detectors: dict[tuple, MemoDetector] = {}
    results = []
    for variant in variants:
        settings = parse_settings(variant, base)
        knobs = tuple(getattr(settings, k) for k in DETECTOR_KNOBS)
        pipeline = Pipeline(settings)
        if knobs not in detectors:
            model = getattr(pipeline.detector, "_model_path", "")
            ident = hashlib.sha1(repr((knobs, str(model), Path(model).stat().st_mtime_ns if model else 0)).encode())
            detectors[knobs] = MemoDetector(pipeline.detector, cache_dir() / f"detections-{ident.hexdigest()[:16]}.pkl")
        pipeline.detector = detectors[knobs]
        print(f"== variant {variant or 'defaults'}", flush=True)
        rows = run_suite(settings, args.only, log=lambda s: print(s, flush=True), pipeline=pipeline, clips=args.clip)
        results.append({"variant": variant, "settings": dataclasses.asdict(settings), "rows": rows})
    for result in results:
        print(f"== variant {result['variant'] or 'defaults'}")
        print(table(result["rows"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
