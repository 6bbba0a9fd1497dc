"""The person detector on real PETS09-S2L1 frames, scored against the MOT ground truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from peoplepath.engine.detector import DEFAULT_MODEL_PATH, PersonDetector, nms, strips
from peoplepath.engine.types import Detections

# Frames 100, 110, ..., 290 (0-based): 117 people. Measured (onnxruntime 1.32, 2 threads):
# full frame recall 0.68 / precision 0.70, tiles=2 recall 0.84, at IoU 0.5.
FRAMES = range(100, 300, 10)
MIN_RECALL, MIN_PRECISION, MIN_TILING_GAIN = 0.55, 0.55, 0.05


def read_frames(video: Path, wanted: range) -> dict[int, np.ndarray]:
    """Decode sequentially (seeking is slow and inexact on this clip) and keep `wanted`."""
    capture = cv2.VideoCapture(str(video))
    frames: dict[int, np.ndarray] = {}
    index = 0
    while index <= wanted[-1]:
        ok, image = capture.read()
        assert ok, f"{video} ended at frame {index}"
        if index in wanted:
            frames[index] = image
        index += 1
    capture.release()
    return frames


def read_gt(path: Path) -> dict[int, np.ndarray]:
    """consider==1 boxes per 0-based frame, as (x1, y1, x2, y2)."""
    rows = np.loadtxt(path, delimiter=",")
    rows = rows[rows[:, 6] == 1]
    boxes: dict[int, np.ndarray] = {}
    for frame in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == frame]
        boxes[frame - 1] = np.stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]], axis=1)
    return boxes


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def count_matches(det: Detections, gt: np.ndarray, threshold: float = 0.5) -> int:
    """One-to-one greedy matches, highest score first, at IoU >= threshold."""
    if len(det) == 0 or len(gt) == 0:
        return 0
    ious = iou_matrix(det.xyxy, gt)
    free = np.ones(len(gt), bool)
    for i in np.argsort(-det.scores):
        candidates = np.where(free & (ious[i] >= threshold))[0]
        if candidates.size:
            free[candidates[np.argmax(ious[i, candidates])]] = False
    return int((~free).sum())


@pytest.fixture(scope="module")
def pets(shared_data: Path) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    folder = shared_data / "pets09_s2l1"
    return read_frames(folder / "pets09_s2l1_h264.mp4", FRAMES), read_gt(folder / "gt" / "gt.txt")


@pytest.fixture(scope="module")
def detector() -> PersonDetector:
    return PersonDetector()


def recall_precision(detector: PersonDetector, frames: dict, gt: dict) -> tuple[float, float]:
    matched = found = people = 0
    for index, image in frames.items():
        det = detector.detect(image)
        matched += count_matches(det, gt[index])
        found += len(det)
        people += len(gt[index])
    return matched / people, matched / max(found, 1)


def test_finds_the_ground_truth_people(detector: PersonDetector, pets: tuple) -> None:
    recall, precision = recall_precision(detector, *pets)
    assert recall >= MIN_RECALL, f"recall {recall:.3f}"
    assert precision >= MIN_PRECISION, f"precision {precision:.3f}"


def test_tiling_finds_more_people(pets: tuple) -> None:
    full, _ = recall_precision(PersonDetector(), *pets)
    tiled, precision = recall_precision(PersonDetector(tiles=2), *pets)
    assert tiled >= full + MIN_TILING_GAIN, f"tiles=2 recall {tiled:.3f} vs full frame {full:.3f}"
    assert precision >= MIN_PRECISION


def test_boxes_are_inside_the_frame_and_scores_in_range(detector: PersonDetector, pets: tuple) -> None:
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
    # the second NMS leaves no pair of boxes overlapping more than nms_iou
    ious = iou_matrix(det.xyxy, det.xyxy)
    assert (ious[~np.eye(len(det), dtype=bool)] <= detector.nms_iou + 1e-6).all()


def test_boxes_scale_with_the_frame(detector: PersonDetector, pets: tuple) -> None:
    """Pixel mapping: a frame stretched 2x wide gives (nearly) the same boxes, 2x wide."""
    frames, _ = pets
    for image in list(frames.values())[:3]:
        height, width = image.shape[:2]
        det = detector.detect(image)
        stretched = detector.detect(cv2.resize(image, (2 * width, height), interpolation=cv2.INTER_LINEAR))
        assert count_matches(det, stretched.xyxy / [2, 1, 2, 1], 0.8) >= max(1, len(det) - 1)


def test_a_black_frame_has_no_people(detector: PersonDetector) -> None:
    assert len(detector.detect(np.zeros((576, 768, 3), np.uint8))) == 0
    assert len(PersonDetector(tiles=3).detect(np.zeros((480, 360, 3), np.uint8))) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"score_threshold": 0},
        {"score_threshold": 1.5},
        {"score_threshold": float("nan")},
        {"score_threshold": "0.3"},
        {"nms_iou": 0},
        {"nms_iou": 1.01},
        {"threads": 0},
        {"threads": 2.0},
        {"threads": True},
        {"tiles": 1},
        {"tiles": -1},
        {"tiles": 9},
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        PersonDetector(**kwargs)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((10, 10, 3), np.float32),
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((0, 10, 3), np.uint8),
        [[0, 0, 0]],
    ],
)
def test_bad_images_raise_value_error(detector: PersonDetector, image: object) -> None:
    with pytest.raises(ValueError, match="image_bgr"):
        detector.detect(image)  # type: ignore[arg-type]


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        PersonDetector(tmp_path / "nope.onnx")
    assert DEFAULT_MODEL_PATH.is_file()


def test_nms_drops_duplicates_and_keeps_the_best() -> None:
    boxes = np.array([[0, 0, 10, 20], [1, 0, 11, 20], [30, 0, 40, 20], [0, 0, 10, 20]], np.float32)
    scores = np.array([0.5, 0.9, 0.4, 0.2], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 1.0).tolist() == [1, 0, 2, 3]
    assert nms(boxes[:0], scores[:0], 0.5).tolist() == []


def test_strips_cover_the_long_side_with_overlap() -> None:
    assert strips(768, 576, 0) == []
    for width, height, count in [(768, 576, 2), (1920, 1080, 3), (480, 640, 4)]:
        tiles = strips(width, height, count)
        assert len(tiles) == count
        long_side = max(width, height)
        axis = 0 if width >= height else 1
        assert tiles[0][axis] == 0 and tiles[-1][axis + 2] == long_side
        for before, after in zip(tiles, tiles[1:]):
            assert after[axis] < before[axis + 2]  # neighbours overlap
        for x0, y0, x1, y1 in tiles:
            assert (x1 - x0, y1 - y0)[1 - axis] == (width, height)[1 - axis]
