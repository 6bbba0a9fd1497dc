"""PersonDetector.detect() against baselines measured in the same run, plus its quality.

On ~100 PETS09-S2L1 frames (every `--step`-th, decoded sequentially), per frame and in turn:
sequential decode (per decoded frame), resize to the 300x300 input, onnxruntime network
only, cv2.dnn running the same ONNX, detect() on the full frame and detect(tiles=2).
Prints median / p95 ms, ratios against cv2.dnn and decode, recall and precision at IoU 0.5
against gt/gt.txt (consider==1; unmatched boxes on consider==0 regions are not counted),
and the score ranges of true people and false positives (to set a tracker's thresholds).

    python bench/bench_detector.py [--frames 100] [--step 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere
from peoplepath.engine.detector import DEFAULT_MODEL_PATH, INPUT_SIZE, PersonDetector  # noqa: E402
from peoplepath.engine.types import Detections  # noqa: E402

PETS = REPO.parent / "shared" / "data" / "pets09_s2l1"
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def read_frames(count: int, step: int) -> tuple[list[tuple[int, np.ndarray]], list[float]]:
    """Every `step`-th frame (0-based index, image) and the wall time of every decode."""
    capture = cv2.VideoCapture(str(PETS / "pets09_s2l1_h264.mp4"))
    frames, decode, index = [], [], 0
    while len(frames) < count:
        start = time.perf_counter()
        ok, image = capture.read()
        decode.append(time.perf_counter() - start)
        if not ok:
            break
        if index % step == 0:
            frames.append((index, image))
        index += 1
    return frames, decode[:-1] if not ok else decode


def read_gt() -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """(consider==1 boxes, consider==0 boxes) per 0-based frame, as xyxy."""
    rows = np.loadtxt(PETS / "gt" / "gt.txt", delimiter=",")
    out: tuple[dict[int, np.ndarray], dict[int, np.ndarray]] = ({}, {})
    for consider, table in ((1, out[0]), (0, out[1])):
        part = rows[rows[:, 6] == consider]
        for frame in np.unique(part[:, 0]).astype(int):
            r = part[part[:, 0] == frame]
            table[frame - 1] = np.column_stack([r[:, 2:4], r[:, 2:4] + r[:, 4:6]])
    return out


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def label(det: Detections, gt: np.ndarray, ignore: np.ndarray) -> np.ndarray:
    """Per box: 1 matched a person (greedy by score, IoU >= 0.5), 0 false, -1 on an ignore region."""
    labels = np.zeros(len(det), int)
    ious = iou_matrix(det.xyxy, gt) if len(gt) else np.zeros((len(det), 0))
    free = np.ones(len(gt), bool)
    for i in np.argsort(-det.scores):
        candidates = np.where(free & (ious[i] >= 0.5))[0]
        if candidates.size:
            free[candidates[np.argmax(ious[i, candidates])]] = False
            labels[i] = 1
        elif len(ignore) and iou_matrix(det.xyxy[i : i + 1], ignore).max() >= 0.5:
            labels[i] = -1
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--step", type=int, default=8, help="use every n-th frame")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    frames, decode = read_frames(args.frames, args.step)
    gt, ignore = read_gt()
    low = min(THRESHOLDS)
    full = PersonDetector(score_threshold=low, threads=args.threads)
    tiled = PersonDetector(score_threshold=low, threads=args.threads, tiles=2)
    dnn = cv2.dnn.readNetFromONNX(str(DEFAULT_MODEL_PATH))
    cv2.setNumThreads(args.threads)
    session = full._session  # the same onnxruntime session, network only

    def preprocess(image: np.ndarray) -> np.ndarray:
        small = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        return small[None, :, :, ::-1].astype(np.float32)

    def run_dnn(image: np.ndarray) -> object:
        dnn.setInput(preprocess(image))
        return dnn.forward(dnn.getUnconnectedOutLayersNames())

    methods: dict[str, Callable[[np.ndarray], object]] = {
        "resize to 300x300": preprocess,
        "onnxruntime network only": lambda image: session.run(None, {"image_rgb": preprocess(image)}),
        "cv2.dnn same ONNX (baseline)": run_dnn,
        "detect() full frame": full.detect,
        "detect(tiles=2)": tiled.detect,
    }
    for method in methods.values():  # warm up
        method(frames[0][1])
    times: dict[str, list[float]] = {name: [] for name in methods}
    outputs: dict[str, list[Detections]] = {"full frame": [], "tiles=2": []}
    for _, image in frames:
        for name, method in methods.items():
            start = time.perf_counter()
            result = method(image)
            times[name].append(time.perf_counter() - start)
            if name.startswith("detect"):
                outputs["full frame" if name == "detect() full frame" else "tiles=2"].append(result)

    base = np.median(times["cv2.dnn same ONNX (baseline)"])
    dec = np.median(decode)
    rows = [["sequential decode (per frame)", f"{dec * 1e3:.1f}", f"{np.percentile(decode, 95) * 1e3:.1f}", f"{dec / base:.2f}", "1.00"]]
    for name, values in times.items():
        median = np.median(values)
        rows.append([name, f"{median * 1e3:.1f}", f"{np.percentile(values, 95) * 1e3:.1f}", f"{median / base:.2f}", f"{median / dec:.1f}"])
    print(f"{len(frames)} PETS09-S2L1 frames (768x576, every {args.step}th), {args.threads} threads")
    print(tabulate(rows, headers=["step", "median ms", "p95 ms", "x cv2.dnn", "x decode"]))

    people = sum(len(gt.get(index, [])) for index, _ in frames)
    quality, tp_scores, fp_scores = [], [], []
    for config, detections in outputs.items():
        labelled = [
            (det.scores, label(det, gt.get(index, np.zeros((0, 4))), ignore.get(index, np.zeros((0, 4)))))
            for (index, _), det in zip(frames, detections)
        ]
        scores = np.concatenate([s for s, _ in labelled])
        labels = np.concatenate([lab for _, lab in labelled])
        if config == "full frame":
            tp_scores, fp_scores = scores[labels == 1], scores[labels == 0]
        for threshold in THRESHOLDS:
            keep = scores >= threshold
            tp, fp = int((labels[keep] == 1).sum()), int((labels[keep] == 0).sum())
            quality.append([config, threshold, f"{tp / people:.3f}", f"{tp / max(tp + fp, 1):.3f}", tp, fp])
    print(f"\nquality at IoU 0.5 against {people} ground-truth people (NMS IoU {full.nms_iou})")
    print(tabulate(quality, headers=["config", "score >=", "recall", "precision", "TP", "FP"]))

    bins = np.array([*THRESHOLDS, 0.7, 0.8, 0.9, 1.0001])
    hist = [
        ["true people", *np.histogram(tp_scores, bins)[0]],
        ["false positives", *np.histogram(fp_scores, bins)[0]],
    ]
    print("\nscore histogram, full frame (bin lower edges)")
    print(tabulate(hist, headers=["", *[f"{b:.1f}" for b in bins[:-1]]]))
    q = (5, 25, 50, 75, 95)
    print(f"true-people score percentiles {q}: {np.round(np.percentile(tp_scores, q), 2).tolist()}")
    print(f"false-positive score percentiles {q}: {np.round(np.percentile(fp_scores, q), 2).tolist()}")


if __name__ == "__main__":
    main()
