"""FaceAnalyzer on real 1080p frames: faces, landmark order, pose signs, quality, errors."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import yuface

from peoplepath.contract import BASIC_LANDMARKS
from peoplepath.engine.faces import FaceAnalyzer, _FACE_3D, head_pose
from peoplepath.engine.types import Face

CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces_royal_opera_house" / "video.mp4"
FRAMES = (0, 30)


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    """Frames of the 1080p clip, read sequentially."""
    capture = cv2.VideoCapture(str(CLIP))
    assert capture.isOpened(), f"cannot open {CLIP}"
    out: dict[int, np.ndarray] = {}
    index = 0
    while index <= max(FRAMES):
        ok, image = capture.read()
        assert ok, f"frame {index} unreadable"
        if index in FRAMES:
            out[index] = image
        index += 1
    capture.release()
    return out


def coarse_faces(image: np.ndarray) -> np.ndarray:
    """Faces (x1, y1, x2, y2) from one yuface pass over the half-size frame, score >= 85."""
    raw = yuface.c_detect(cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    raw = raw[raw[:, 0] >= 85, 1:5].astype(np.float64) * 2
    return np.column_stack([raw[:, :2], raw[:, :2] + raw[:, 2:4]])


def person_boxes(faces: np.ndarray, height: int) -> np.ndarray:
    """A person box around each face as a person detector would draw it: head at the top,
    shoulders beside, cut by the frame's bottom."""
    w = faces[:, 2] - faces[:, 0]
    h = faces[:, 3] - faces[:, 1]
    cx = (faces[:, 0] + faces[:, 2]) / 2
    top = faces[:, 1] - 0.4 * h
    return np.column_stack([cx - 1.8 * w, top, cx + 1.8 * w, np.minimum(top + 7.5 * h, height)])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


@pytest.fixture(scope="module")
def scene(frames: dict[int, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, list[Face | None]]]:
    """Per frame: image, expected faces, person boxes, analyse() result."""
    analyzer = FaceAnalyzer()
    out = []
    for image in frames.values():
        faces = coarse_faces(image)
        assert len(faces) >= 4, "the clip shows several large faces"
        boxes = person_boxes(faces, image.shape[0])
        out.append((image, faces, boxes, analyzer.analyse(image, boxes)))
    return out


def test_finds_each_persons_own_face(scene) -> None:
    for _, expected, boxes, result in scene:
        assert len(result) == len(boxes)
        found = [i for i, face in enumerate(result) if face is not None]
        assert len(found) >= 0.8 * len(boxes), f"only {len(found)} of {len(boxes)} faces"
        for i in found:
            assert iou(result[i].xyxy, expected[i]) > 0.5, f"person {i} got someone else's face"
        boxes_found = {tuple(np.round(result[i].xyxy)) for i in found}
        assert len(boxes_found) == len(found), "one face given to two persons"


def test_face_fields_and_landmark_order(scene) -> None:
    count = 0
    for image, _, _, result in scene:
        height, width = image.shape[:2]
        for face in filter(None, result):
            count += 1
            x1, y1, x2, y2 = face.xyxy
            assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
            assert 70 <= face.confidence <= 100
            assert tuple(face.landmarks) == BASIC_LANDMARKS
            for x, y in face.landmarks.values():
                assert x1 <= x <= x2 and y1 <= y <= y2, "landmark outside its face box"
            lm = face.landmarks
            # Rekognition's convention: eyeLeft / mouthLeft are on the image's left.
            assert lm["eyeLeft"][0] < lm["eyeRight"][0]
            assert lm["mouthLeft"][0] < lm["mouthRight"][0]
            assert max(lm["eyeLeft"][1], lm["eyeRight"][1]) < min(lm["mouthLeft"][1], lm["mouthRight"][1])
            assert all(-180 <= angle <= 180 for angle in face.pose)
            assert 0 <= face.brightness <= 100 and 0 <= face.sharpness <= 100
    assert count >= 8


def test_mirrored_frame_flips_yaw(scene) -> None:
    analyzer = FaceAnalyzer()
    turned = 0
    for image, _, boxes, result in scene:
        width = image.shape[1]
        mirrored_boxes = boxes.copy()
        mirrored_boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
        mirrored = analyzer.analyse(np.ascontiguousarray(image[:, ::-1]), mirrored_boxes)
        for face, flipped in zip(result, mirrored):
            if face is None or flipped is None or abs(face.pose[1]) < 25:
                continue
            turned += 1
            assert np.sign(flipped.pose[1]) == -np.sign(face.pose[1]), (face.pose, flipped.pose)
            assert abs(flipped.pose[1]) > 10
    assert turned >= 2, "the clip has faces turned well to the side"


def test_pose_of_projected_generic_face() -> None:
    """head_pose recovers the pose of the generic face projected at known angles, and a
    mirrored projection gives the opposite yaw and roll."""
    focal, size = 1000.0, (1000, 1000)
    camera = np.array([[focal, 0, 500], [0, focal, 500], [0, 0, 1]])
    for yaw, pitch, roll in ((0, 0, 0), (30, 0, 0), (-20, 10, 0), (0, 0, 15)):
        # The sign conventions of head_pose: yaw > 0 turns the nose toward the image's
        # right, pitch > 0 raises it, roll > 0 turns the face clockwise in the image.
        rotation = _rz(roll) @ _ry(-yaw) @ _rx(-pitch)
        rvec, _ = cv2.Rodrigues(rotation)
        points, _ = cv2.projectPoints(_FACE_3D, rvec, np.array([0.0, 0.0, 600.0]), camera, None)
        points = points.reshape(5, 2)
        got = head_pose(points, size)
        assert got == pytest.approx((roll, yaw, pitch), abs=2.5), (yaw, pitch, roll, got)
        mirrored = points.copy()
        mirrored[:, 0] = 1000 - mirrored[:, 0]
        mirrored = mirrored[[1, 0, 2, 4, 3]]  # image-left first again
        flipped = head_pose(mirrored, size)
        assert flipped == pytest.approx((-roll, -yaw, pitch), abs=2.5)


def _rx(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_rotated_faces_roll_follows_the_rotation(scene) -> None:
    """Turning a face 20 degrees counter-clockwise in the image lowers its roll by about
    20 (roll > 0 is clockwise); clockwise raises it. Profiles (|yaw| > 45), whose eye
    line says little, are left out."""
    analyzer = FaceAnalyzer()
    errors = []
    for image, _, boxes, result in scene:
        size = (image.shape[1], image.shape[0])
        for i, face in enumerate(result):
            if face is None or abs(face.pose[1]) > 45:
                continue
            centre = tuple(float(v) for v in (face.xyxy[:2] + face.xyxy[2:]) / 2)
            for angle in (20.0, -20.0):  # cv2: + = counter-clockwise
                turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
                rotated = cv2.warpAffine(image, turn, size, borderMode=cv2.BORDER_REFLECT)
                (turned,) = analyzer.analyse(rotated, boxes[i : i + 1])
                if turned is not None:
                    errors.append(turned.pose[0] - face.pose[0] + angle)
    assert len(errors) >= 6
    assert max(map(abs, errors)) < 16 and np.mean(np.abs(errors)) < 6, errors


def test_yuface_landmarks_alone_still_give_valid_faces(scene) -> None:
    image, expected, boxes, _ = scene[0]
    result = FaceAnalyzer(refine_landmarks=False).analyse(image, boxes)
    found = [(i, f) for i, f in enumerate(result) if f is not None]
    assert len(found) >= 0.8 * len(boxes)
    for i, face in found:
        assert iou(face.xyxy, expected[i]) > 0.5
        assert face.landmarks["eyeLeft"][0] < face.landmarks["eyeRight"][0]


def test_darker_frame_is_darker_and_blurred_frame_less_sharp(scene) -> None:
    image, _, boxes, result = scene[0]
    analyzer = FaceAnalyzer()
    dark = analyzer.analyse(cv2.convertScaleAbs(image, alpha=0.5), boxes)
    blurred = analyzer.analyse(cv2.GaussianBlur(image, (9, 9), 0), boxes)
    compared_dark = compared_blur = 0
    for face, darker, blurrier in zip(result, dark, blurred):
        if face is not None and darker is not None:
            compared_dark += 1
            assert darker.brightness < face.brightness - 10
        if face is not None and blurrier is not None:
            compared_blur += 1
            assert blurrier.sharpness < face.sharpness
    assert compared_dark >= 3 and compared_blur >= 3


def test_no_face_gives_none_for_every_person() -> None:
    rng = np.random.default_rng(1)
    image = np.clip(rng.normal(120, 20, (576, 768, 3)), 0, 255).astype(np.uint8)
    boxes = np.array([[100, 50, 180, 300], [300, 100, 420, 500], [500, 0, 760, 576]], np.float32)
    assert FaceAnalyzer().analyse(image, boxes) == [None, None, None]


def test_small_person_is_skipped(scene) -> None:
    image, expected, _, result = scene[0]
    i = next(i for i, f in enumerate(result) if f is not None)
    x1, y1, x2, y2 = expected[i]
    cx, half = (x1 + x2) / 2, 1.7 * (x2 - x1)
    tight = np.array([[cx - half, y1 - 5, cx + half, y2 + 5]])  # head and shoulders
    tall = int(y2 - y1) + 10
    assert FaceAnalyzer(min_person_height=tall + 1).analyse(image, tight) == [None]
    assert FaceAnalyzer(min_person_height=tall).analyse(image, tight)[0] is not None


def test_empty_person_boxes() -> None:
    image = np.zeros((120, 160, 3), np.uint8)
    assert FaceAnalyzer().analyse(image, np.zeros((0, 4), np.float32)) == []
    assert FaceAnalyzer().analyse(image, []) == []


@pytest.mark.parametrize(
    ("image", "boxes"),
    [
        (np.zeros((100, 100), np.uint8), [[0, 0, 50, 90]]),
        (np.zeros((100, 100, 3), np.float32), [[0, 0, 50, 90]]),
        (np.zeros((100, 100, 4), np.uint8), [[0, 0, 50, 90]]),
        (np.zeros((0, 100, 3), np.uint8), [[0, 0, 50, 90]]),
        ("not an image", [[0, 0, 50, 90]]),
        (np.zeros((100, 100, 3), np.uint8), [0, 0, 50, 90]),
        (np.zeros((100, 100, 3), np.uint8), [[0, 0, 50, 90, 1]]),
        (np.zeros((100, 100, 3), np.uint8), [[0, 0, np.nan, 90]]),
        (np.zeros((100, 100, 3), np.uint8), [[50, 0, 10, 90]]),
        (np.zeros((100, 100, 3), np.uint8), [["a", 0, 10, 90]]),
    ],
)
def test_bad_inputs_raise(image, boxes) -> None:
    with pytest.raises(ValueError):
        FaceAnalyzer().analyse(image, boxes)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_confidence": 101},
        {"min_confidence": -1},
        {"min_person_height": 0},
        {"face_target_px": 4},
        {"max_upscale": 0.5},
        {"threads": 0},
    ],
)
def test_bad_settings_raise(kwargs) -> None:
    with pytest.raises(ValueError):
        FaceAnalyzer(**kwargs)
