"""The engine's knobs, importable without loading any model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EngineSettings:
    """Every knob of a run, validated by the component that uses it."""

    max_fps: float = 30.0
    detector_score_threshold: float = 0.3
    tracker: dict[str, Any] = field(default_factory=dict)
    min_track_frames: int = 3
    max_gap_frames: int = 10
    faces: bool = True
    face_min_confidence: float = 70.0
