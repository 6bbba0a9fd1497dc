"""What the tests of every person detector share: PETS09-S2L1 frames and ground truth,
recall / precision at IoU 0.5, and the output contract of `detect`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from peoplepath.engine.tracker import iou_matrix
from peoplepath.engine.types import Detections

# Frames 100, 110, ..., 290 (0-based): 117 people.
FRAMES = range(100, 300, 10)


def read_frames(video: Path, wanted: range) -> dict[int, np.ndarray]:
    """Decode sequentially (seeking is slow on this clip) and keep `wanted`."""
    capture = cv2.VideoCapture(str(video))
    frames: dict[int, np.ndarray] = {}
    for index in range(wanted[-1] + 1):
        ok, image = capture.read()
        assert ok, f"{video} ended at frame {index}"
        if index in wanted:
            frames[index] = image
    capture.release()
    return frames


def read_gt(path: Path) -> dict[int, np.ndarray]:
    """consider==1 boxes per 0-based frame, as (x1, y1, x2, y2)."""
    rows = np.loadtxt(path, delimiter=",")
    rows = rows[rows[:, 6] == 1]
    return {
        int(f) - 1: np.c_[r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]]
        for f in np.unique(rows[:, 0])
        for r in [rows[rows[:, 0] == f]]
    }


def pets_frames(shared_data: Path) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    folder = shared_data / "pets09_s2l1"
    return read_frames(folder / "pets09_s2l1_h264.mp4", FRAMES), read_gt(folder / "gt" / "gt.txt")


def count_matches(det: Detections, gt: np.ndarray, threshold: float = 0.5) -> int:
    """One-to-one greedy matches, highest score first, at IoU >= threshold."""
    if len(det) == 0 or len(gt) == 0:
        return 0
    ious = iou_matrix(det.xyxy, gt)
    free = np.ones(len(gt), bool)
    for i in np.argsort(-det.scores):
        candidates = np.flatnonzero(free & (ious[i] >= threshold))
        if candidates.size:
            free[candidates[np.argmax(ious[i, candidates])]] = False
    return int((~free).sum())


def recall_precision(detector: Any, frames: dict, gt: dict) -> tuple[float, float]:
    matched = found = people = 0
    for index, image in frames.items():
        det = detector.detect(image)
        matched += count_matches(det, gt[index])
        found += len(det)
        people += len(gt[index])
    return matched / people, matched / max(found, 1)


def check_output_contract(detector: Any, image: np.ndarray) -> None:
    """Boxes inside the frame, float32, scores in [threshold, 1], no pair overlapping
    more than the detector's NMS IoU."""
    height, width = image.shape[:2]
    det = detector.detect(image)
    assert len(det) >= 3
    assert det.xyxy.dtype == np.float32 and det.scores.dtype == np.float32
    x1, y1, x2, y2 = det.xyxy.T
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= width).all() and (y2 <= height).all()
    assert (x2 > x1).all() and (y2 > y1).all()
    assert (det.scores >= detector.score_threshold).all() and (det.scores <= 1).all()
    ious = iou_matrix(det.xyxy, det.xyxy)
    assert (ious[~np.eye(len(det), dtype=bool)] <= detector.nms_iou + 1e-6).all()
