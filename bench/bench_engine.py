"""The whole engine on the shared clips: quality against ground truth and speed.

Quality: HOTA / MOTA / IDF1 (TrackEval) of the engine's GetPersonTracking output against
gt/gt.txt. Speed: analysed frames per second and real-time factor on this machine, the
time split into decode / detect / track / faces, against a baseline measured in the same
run: decoding alone.

    python bench/bench_engine.py [--no-faces] [--json OUT] [--update-baseline]
    python bench/bench_engine.py --speed [--repeat N]

`--speed` times the engine before and after issue 9's speed-ups on PETS09-S2L1, faces
on, and after with the int8 detector (not the default: it costs TUD-Stadtmitte 7.5 HOTA), alternating the two `--repeat` times in one run with bare decoding, and prints the
median time per stage, frames per second and the ratio to bare decoding.

`--update-baseline` writes the quality scores to bench/quality_baseline.json, which
tests/test_quality_baseline.py holds the engine to (within 1 point) in CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peoplepath.engine.pipeline import EngineSettings, Pipeline, TrackingResult  # noqa: E402
from peoplepath.metrics import persons_to_mot, score  # noqa: E402
from peoplepath.video import iter_frames  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BASELINE = Path(__file__).resolve().parent / "quality_baseline.json"
CLIPS = {
    "PETS09-S2L1": (SHARED / "pets09_s2l1" / "pets09_s2l1_h264.mp4", SHARED / "pets09_s2l1"),
    "TUD-Stadtmitte": (SHARED / "tud_stadtmitte" / "tud_stadtmitte_h264.mp4", SHARED / "tud_stadtmitte"),
}


def decode_only(path: Path, max_fps: float) -> float:
    t0 = time.perf_counter()
    n = sum(1 for _ in iter_frames(path, max_fps=max_fps))
    return n / (time.perf_counter() - t0)


def quality_of(result: TrackingResult, gt_dir: Path) -> dict:
    """TrackEval scores of an engine run against the clip's ground truth."""
    meta = result.video_metadata()
    rows = persons_to_mot(result.persons_records(), meta["FrameRate"], meta["FrameWidth"], meta["FrameHeight"])
    return score(rows, gt_dir, num_frames=result.info.frame_count)


def run_clip(pipeline: Pipeline, name: str, video: Path, gt_dir: Path) -> dict:
    result = pipeline.run(video)
    quality = quality_of(result, gt_dir)
    t = result.timings
    fps = t.frames / t.total
    return {
        "clip": name,
        "HOTA": round(quality["HOTA"], 2),
        "MOTA": round(quality["MOTA"], 2),
        "IDF1": round(quality["IDF1"], 2),
        "IDSW": quality["IDSW"],
        "FP": quality["FP"],
        "FN": quality["FN"],
        "ids": f"{quality['predicted_ids']}/{quality['true_ids']}",
        "frames": t.frames,
        "fps": round(fps, 1),
        "realtime_x": round(result.info.duration_ms / 1000 / t.total, 2),
        "decode_only_fps": round(decode_only(video, pipeline.settings.max_fps), 1),
        "ms_per_frame": {k: round(1000 * getattr(t, k) / t.frames, 2) for k in ("decode", "detect", "track", "faces")},
    }


# The engine as it was before issue 9's speed-ups (fp32 detector, faces on every frame, detector
# on the main thread).
BEFORE_SPEEDUPS = {"detector_int8": False, "face_every": 1, "detect_ahead": 0}
STAGES = ("decode", "detect", "track", "faces")


def speed(repeat: int) -> None:
    """Median ms per stage, frames/s and ratio to bare decoding, before and after."""
    video = CLIPS["PETS09-S2L1"][0]
    after = EngineSettings()
    pipelines = {
        "before": Pipeline(dataclasses.replace(after, **BEFORE_SPEEDUPS)),
        "after": Pipeline(after),
        "+int8": Pipeline(dataclasses.replace(after, detector_int8=True)),
    }
    for pipeline in pipelines.values():  # warm-up: sessions' first inference, the faces' O-Net
        pipeline.detector.detect(next(iter_frames(video)).image)
    runs: dict[str, list[dict]] = {name: [] for name in pipelines}
    decode: list[float] = []
    for _ in range(repeat):
        decode.append(decode_only(video, after.max_fps))
        for name, pipeline in pipelines.items():
            t = pipeline.run(video).timings
            runs[name].append({**{k: 1000 * getattr(t, k) / t.frames for k in STAGES}, "fps": t.frames / t.total})
    bare = statistics.median(decode)
    print(f"PETS09-S2L1, median of {repeat}; bare decoding {bare:.0f} frames/s")
    for name, rows in runs.items():
        ms = {k: statistics.median(r[k] for r in rows) for k in STAGES}
        fps = statistics.median(r["fps"] for r in rows)
        split = ", ".join(f"{k} {v:.2f}" for k, v in ms.items())
        print(f"{name:6s} {fps:5.1f} frames/s (1/{bare / fps:.1f} of bare decoding) ms/frame: {split}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-faces", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--update-baseline", action="store_true", help=f"write the quality scores to {BASELINE.name}")
    parser.add_argument("--speed", action="store_true", help="time the stages before and after the speed-ups")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.speed:
        speed(args.repeat)
        return
    pipeline = Pipeline(EngineSettings(faces=not args.no_faces))
    pipeline.run(CLIPS["TUD-Stadtmitte"][0])  # warm-up: model sessions, caches
    report = [run_clip(pipeline, name, video, gt) for name, (video, gt) in CLIPS.items()]
    for r in report:
        split = ", ".join(f"{k} {v}" for k, v in r["ms_per_frame"].items())
        print(
            f"{r['clip']:15s} HOTA {r['HOTA']:5.1f} MOTA {r['MOTA']:5.1f} IDF1 {r['IDF1']:5.1f} IDSW {r['IDSW']:3d} "
            f"ids {r['ids']:>7s} | {r['fps']:5.1f} frames/s ({r['realtime_x']:.2f}x real time; decode alone "
            f"{r['decode_only_fps']:.0f} frames/s, engine/decode-only time ratio {r['decode_only_fps'] / r['fps']:.1f}x) "
            f"ms/frame: {split}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.update_baseline:
        baseline = {r["clip"]: {k: r[k] for k in ("HOTA", "MOTA", "IDF1")} for r in report}
        BASELINE.write_text(json.dumps(baseline, indent=1) + "\n")
        print(f"wrote {BASELINE}")


if __name__ == "__main__":
    main()
