"""The engine's internal shapes: pixel boxes as (x1, y1, x2, y2), time in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class Detections:
    """Person boxes found in one frame: `xyxy` (N, 4) float32 pixels, `scores` (N,) in 0..1."""

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.xyxy) != len(self.scores):
            raise ValueError(f"{len(self.xyxy)} boxes but {len(self.scores)} scores")

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, mask: np.ndarray) -> "Detections":
        return Detections(self.xyxy[mask], self.scores[mask])


@dataclass(frozen=True, slots=True)
class TrackedBox:
    """A tracker's output for one frame: its track id, box and detection score (0..1)."""

    track_id: int
    xyxy: np.ndarray
    score: float


@dataclass(frozen=True, slots=True)
class Face:
    """A face found inside a person: pixels in the whole frame's coordinates.

    `landmarks` maps Rekognition landmark types (eyeLeft = the eye with the smaller x)
    to (x, y); `pose` is (roll, yaw, pitch) in degrees; `confidence`, `brightness` and
    `sharpness` are 0..100.
    """

    xyxy: np.ndarray
    confidence: float
    landmarks: dict[str, tuple[float, float]]
    pose: tuple[float, float, float]
    brightness: float
    sharpness: float
