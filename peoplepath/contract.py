"""The API's shapes in one place: request validation against botocore's own service
model, the PersonDetection record, and the ratio <-> pixel and ms <-> frame conversions.

Inside PeoplePath a box is a pixel ``(x1, y1, x2, y2)`` array and time is integer
milliseconds from the video's start; Rekognition's ratios of the frame are spoken only
here, at the edge.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import InvalidParameterException, SerializationException, shorten

SERVICE_NAME = "rekognition"
TARGET_PREFIX = "RekognitionService."
OPERATIONS = ("StartPersonTracking", "GetPersonTracking")
MAX_RESULTS_DEFAULT = 1000
MAX_RESULTS_CAP = 1000
NEXT_TOKEN_MAX_LENGTH = 255
SORT_TIMESTAMP, SORT_INDEX = "TIMESTAMP", "INDEX"
JOB_ID_PATTERN = re.compile(r"^[a-zA-Z0-9-_]+$")
JOB_STATUSES = ("IN_PROGRESS", "SUCCEEDED", "FAILED")

# The five landmarks every face detector here gives. Rekognition's `eyeLeft` is the eye
# on the image's left (the smaller X), as in AWS's published sample outputs; likewise
# `mouthLeft`. This is the viewer's left, not the person's.
BASIC_LANDMARKS = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")


@lru_cache(maxsize=1)
def service_model() -> Any:
    """botocore's model of Rekognition: the judge of every shape this product speaks."""
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def is_valid_job_id(job_id: str) -> bool:
    return isinstance(job_id, str) and 1 <= len(job_id) <= 64 and bool(JOB_ID_PATTERN.match(job_id))


# --------------------------------------------------------------------------- validation
def validate_request(operation: str, params: Any) -> dict[str, Any]:
    """Check `params` against the operation's input shape in botocore's model.

    Wrong JSON types raise SerializationException (as AWS does); a broken constraint
    (required, length, range, pattern, enum) raises InvalidParameterException naming the
    field. Returns the params unchanged.
    """
    shape = service_model().operation_model(operation).input_shape
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object")
    validate_shape(shape, params)
    return params


def validate_shape(shape: Any, value: Any, path: str = "") -> None:
    """Check `value` against a botocore shape (input or output) and its constraints."""
    kind = shape.type_name
    meta = shape.metadata
    where = path or shape.name
    if kind == "structure":
        if not isinstance(value, dict):
            raise SerializationException(f"{where} must be a JSON object")
        for name in meta.get("required", []):
            if value.get(name) is None:
                raise InvalidParameterException(f"{_join(path, name)} is required")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                validate_shape(member, value[name], _join(path, name))
    elif kind == "list":
        if not isinstance(value, list):
            raise SerializationException(f"{where} must be a JSON array")
        _check_range(len(value), meta, where, "length")
        for i, item in enumerate(value):
            validate_shape(shape.member, item, f"{where}[{i}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise SerializationException(f"{where} must be a string")
        _check_range(len(value), meta, where, "length")
        enum = meta.get("enum")
        if enum and value not in enum:
            raise InvalidParameterException(f"{where} must be one of {', '.join(enum)}; got {shorten(value)!r}")
        pattern = meta.get("pattern")
        if pattern and not _compiled(pattern).fullmatch(value):
            raise InvalidParameterException(f"{where} must match the pattern {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SerializationException(f"{where} must be an integer")
        _check_range(value, meta, where, "value")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SerializationException(f"{where} must be a number")
        _check_range(value, meta, where, "value")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise SerializationException(f"{where} must be a boolean")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_range(n: float, meta: Mapping[str, Any], where: str, what: str) -> None:
    if "min" in meta and n < meta["min"]:
        raise InvalidParameterException(f"{where} {what} must be at least {meta['min']}; got {shorten(n)}")
    if "max" in meta and n > meta["max"]:
        raise InvalidParameterException(f"{where} {what} must be at most {meta['max']}; got {shorten(n)}")


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# ------------------------------------------------------------------------- conversions
def box_to_ratio(xyxy: Sequence[float], width: int, height: int) -> dict[str, float]:
    """Pixel (x1, y1, x2, y2) -> Rekognition BoundingBox (ratios of the frame), clipped
    to the frame."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
    y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
    return {
        "Width": _r((x2 - x1) / width),
        "Height": _r((y2 - y1) / height),
        "Left": _r(x1 / width),
        "Top": _r(y1 / height),
    }


def ratio_to_box(box: Mapping[str, float], width: int, height: int) -> np.ndarray:
    """Rekognition BoundingBox -> pixel (x1, y1, x2, y2) float array."""
    left, top = float(box.get("Left", 0.0)), float(box.get("Top", 0.0))
    w, h = float(box.get("Width", 0.0)), float(box.get("Height", 0.0))
    return np.array([left * width, top * height, (left + w) * width, (top + h) * height], dtype=np.float64)


def point_to_ratio(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    return _r(float(x) / width), _r(float(y) / height)


def frame_to_ms(index: int, fps: float) -> int:
    """Milliseconds of 0-based frame `index` in a constant-rate video."""
    return int(round(index * 1000.0 / fps))


def ms_to_frame(ms: float, fps: float) -> int:
    """0-based index of the frame on screen at `ms` in a constant-rate video (the frame
    whose timestamp, rounded as `frame_to_ms` rounds, is the last one not after `ms`)."""
    index = int(math.floor(ms * fps / 1000.0 + 1e-6))
    # frame_to_ms rounds to the nearest millisecond; step forward if the next frame's
    # rounded timestamp is already <= ms.
    while frame_to_ms(index + 1, fps) <= ms:
        index += 1
    while index > 0 and frame_to_ms(index, fps) > ms:
        index -= 1
    return max(index, 0)


def _r(v: float) -> float:
    return round(v, 6)


# ----------------------------------------------------------------------------- records
def face_detail(face: Any, width: int, height: int) -> dict[str, Any]:
    """An engine Face (pixels) -> Rekognition FaceDetail (ratios, percentages, degrees)."""
    landmarks = [
        {"Type": name, "X": x, "Y": y}
        for name, (px, py) in face.landmarks.items()
        for x, y in [point_to_ratio(px, py, width, height)]
    ]
    roll, yaw, pitch = (max(-180.0, min(180.0, float(v))) for v in face.pose)
    return {
        "BoundingBox": box_to_ratio(face.xyxy, width, height),
        "Confidence": _pct(face.confidence),
        "Landmarks": landmarks,
        "Pose": {"Roll": round(roll, 3), "Yaw": round(yaw, 3), "Pitch": round(pitch, 3)},
        "Quality": {"Brightness": _pct(face.brightness), "Sharpness": _pct(face.sharpness)},
    }


def person_detection(
    timestamp_ms: int,
    index: int,
    xyxy: Sequence[float] | None,
    face: Any | None,
    width: int,
    height: int,
) -> dict[str, Any]:
    """One `PersonDetection` element of GetPersonTracking's `Persons` array."""
    person: dict[str, Any] = {"Index": int(index)}
    if xyxy is not None:
        person["BoundingBox"] = box_to_ratio(xyxy, width, height)
    if face is not None:
        person["Face"] = face_detail(face, width, height)
    return {"Timestamp": int(timestamp_ms), "Person": person}


def _pct(v: float) -> float:
    return round(max(0.0, min(100.0, float(v))), 3)
