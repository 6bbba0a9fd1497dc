"""The person detector on real PETS09-S2L1 frames, scored against the MOT ground truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from detector_checks import FRAMES, check_output_contract, count_matches, pets_frames, recall_precision

from peoplepath.engine.detector import DEFAULT_MODEL_PATH, PersonDetector, nms, strips

# Frames 100, 110, ..., 290 (0-based): 117 people. Measured (onnxruntime 1.32, 2 threads):
# full frame recall 0.68 / precision 0.70, tiles=2 recall 0.84, at IoU 0.5.
MIN_RECALL, MIN_PRECISION, MIN_TILING_GAIN = 0.55, 0.55, 0.05










@pytest.fixture(scope="module")
def pets(shared_data: Path) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    return pets_frames(shared_data)


@pytest.fixture(scope="module")
def detector() -> PersonDetector:
    return PersonDetector()




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
    check_output_contract(detector, frames[FRAMES[0]])


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
