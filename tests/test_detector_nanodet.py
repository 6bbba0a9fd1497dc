"""The NanoDet person detector on real PETS09-S2L1 frames, against the MOT ground truth
and against the SSDLite detector it replaces as the default."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from detector_checks import FRAMES, check_output_contract, count_matches, pets_frames, recall_precision

from peoplepath.engine.detector import PersonDetector
from peoplepath.engine.detector_nanodet import (
    DEFAULT_MODEL_PATH,
    INT8_MODEL_PATH,
    NanoDetPersonDetector,
    brighten,
    input_size,
)

# Frames 100, 110, ..., 290 (0-based): 117 people. Measured (onnxruntime 1.32, 2 threads,
# IoU 0.5): score >= 0.3 recall 0.93 (SSDLite 0.68); score >= 0.5 recall 0.89, precision 0.81.
MIN_RECALL, MIN_GAIN_OVER_SSDLITE, MIN_PRECISION_AT_HALF = 0.88, 0.15, 0.75








@pytest.fixture(scope="module")
def pets(shared_data: Path) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    return pets_frames(shared_data)


@pytest.fixture(scope="module")
def detector() -> NanoDetPersonDetector:
    return NanoDetPersonDetector()




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
    check_output_contract(detector, frames[FRAMES[0]])


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


def test_the_int8_model_finds_the_people_the_fp32_one_does(detector: NanoDetPersonDetector, pets: tuple) -> None:
    """peoplepath/models/nanodet_coco_int8.onnx (assets/quantize_nanodet.py): the same recall
    bar as fp32 and within 0.03 of it."""
    int8 = NanoDetPersonDetector(INT8_MODEL_PATH)
    recall8, _ = recall_precision(int8, *pets)
    recall32, _ = recall_precision(detector, *pets)
    assert recall8 >= MIN_RECALL and abs(recall8 - recall32) <= 0.03, (recall8, recall32)
    frames, _ = pets
    check_output_contract(int8, frames[FRAMES[0]])


def test_clahe_brightens_only_dark_frames(pets: tuple) -> None:
    frames, _ = pets
    image = frames[FRAMES[0]]
    assert brighten(image) is image  # PETS daylight: mean luma about 118
    dark = ((image / 255.0) ** 2.5 * 200).astype(np.uint8)
    lifted = brighten(dark)
    assert lifted.shape == dark.shape and lifted.mean() > dark.mean() + 10
    # With denoise, a median filter goes first: CLAHE lifts less of the sensor noise.
    noisy = np.clip(dark + np.random.default_rng(0).normal(0, 6, dark.shape), 0, 255).astype(np.uint8)
    grain = lambda im: float(np.abs(im.astype(np.float32) - cv2.blur(im, (3, 3))).mean())  # noqa: E731
    assert grain(brighten(noisy, denoise=True)) < 0.7 * grain(brighten(noisy))
    assert brighten(image, denoise=True) is image
    with pytest.raises(ValueError, match="low_light"):
        NanoDetPersonDetector(low_light="auto")


def test_the_engine_default_finds_more_people_at_dusk(pets: tuple) -> None:
    """The engine's default low-light handling (a median filter and CLAHE on dark frames)
    recovers people a dusk frame hides from the plain detector, at the tracker's
    first-stage threshold."""
    from bench.robustness import _dark
    from peoplepath.engine.settings import EngineSettings

    frames, truth = pets
    assert EngineSettings().detector_low_light == "denoise-clahe"
    found = {}
    for mode in ("off", "denoise-clahe"):
        detector = NanoDetPersonDetector(score_threshold=0.45, low_light=mode)
        found[mode] = sum(count_matches(detector.detect(_dark(frames[f], f)), truth[f]) for f in FRAMES)
    assert found["denoise-clahe"] > found["off"], found
