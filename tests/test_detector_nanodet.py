"""The NanoDet person detector on real PETS09-S2L1 frames, against the MOT ground truth
and against the SSDLite detector it replaces as the default."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from peoplepath.engine.detector import PersonDetector
from peoplepath.engine.detector_nanodet import DEFAULT_MODEL_PATH, NanoDetPersonDetector, input_size
from peoplepath.engine.tracker import iou_matrix
from peoplepath.engine.types import Detections

# Frames 100, 110, ..., 290 (0-based): 117 people. Measured (onnxruntime 1.32, 2 threads,
# IoU 0.5): score >= 0.3 recall 0.93 (SSDLite 0.68); score >= 0.5 recall 0.89, precision 0.81.
FRAMES = range(100, 300, 10)
MIN_RECALL, MIN_GAIN_OVER_SSDLITE, MIN_PRECISION_AT_HALF = 0.88, 0.15, 0.75


def read_frames(video: Path, wanted: range) -> dict[int, np.ndarray]:
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


@pytest.fixture(scope="module")
def pets(shared_data: Path) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    folder = shared_data / "pets09_s2l1"
    return read_frames(folder / "pets09_s2l1_h264.mp4", FRAMES), read_gt(folder / "gt" / "gt.txt")


@pytest.fixture(scope="module")
def detector() -> NanoDetPersonDetector:
    return NanoDetPersonDetector()


def recall_precision(detector, frames: dict, gt: dict) -> tuple[float, float]:
    matched = found = people = 0
    for index, image in frames.items():
        det = detector.detect(image)
        matched += count_matches(det, gt[index])
        found += len(det)
        people += len(gt[index])
    return matched / people, matched / max(found, 1)


def test_finds_more_people_than_ssdlite(detector: NanoDetPersonDetector, pets: tuple) -> None:
    recall, _ = recall_precision(detector, *pets)
    ssdlite, _ = recall_precision(PersonDetector(score_threshold=0.3), *pets)
    assert recall >= MIN_RECALL, f"recall {recall:.3f}"
    assert recall >= ssdlite + MIN_GAIN_OVER_SSDLITE, f"recall {recall:.3f} vs SSDLite {ssdlite:.3f}"


def test_confident_boxes_are_people(pets: tuple) -> None:
    recall, precision = recall_precision(NanoDetPersonDetector(score_threshold=0.5), *pets)
    assert precision >= MIN_PRECISION_AT_HALF, f"precision {precision:.3f} (recall {recall:.3f})"


def test_boxes_are_inside_the_frame_and_scores_in_range(detector: NanoDetPersonDetector, pets: tuple) -> None:
    frames, _ = pets
    image = frames[FRAMES[0]]
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


def test_boxes_follow_the_frame_size(detector: NanoDetPersonDetector, pets: tuple) -> None:
    """Pixel mapping: the same frame at half size gives (nearly) the same boxes, halved
    (the network input is the same 384x288 either way)."""
    frames, _ = pets
    for image in list(frames.values())[:3]:
        height, width = image.shape[:2]
        det = detector.detect(image)
        half = detector.detect(cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA))
        assert count_matches(det, half.xyxy * 2, 0.7) >= max(1, len(det) - 2)


def test_input_keeps_the_aspect_ratio_in_multiples_of_32() -> None:
    assert input_size(768, 576, 384) == (384, 288)
    assert input_size(640, 480, 384) == (384, 288)
    assert input_size(1920, 1080, 384) == (384, 224)
    assert input_size(480, 640, 320) == (256, 320)
    assert input_size(4000, 10, 64) == (64, 32)


def test_a_black_frame_has_no_people(detector: NanoDetPersonDetector) -> None:
    assert len(detector.detect(np.zeros((576, 768, 3), np.uint8))) == 0
    assert len(NanoDetPersonDetector(input_long_side=256).detect(np.zeros((100, 50, 3), np.uint8))) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"score_threshold": 0},
        {"score_threshold": 1.5},
        {"nms_iou": 0},
        {"threads": 0},
        {"input_long_side": 400},
        {"input_long_side": 32},
        {"input_long_side": 384.0},
    ],
)
def test_bad_settings_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        NanoDetPersonDetector(**kwargs)


def test_missing_model_and_bad_images_raise(detector: NanoDetPersonDetector, tmp_path: Path) -> None:
    assert DEFAULT_MODEL_PATH.is_file()
    with pytest.raises(FileNotFoundError):
        NanoDetPersonDetector(tmp_path / "none.onnx")
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10), np.uint8))
