"""The engine's knobs, importable without loading any model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineSettings:
    """Every knob of a run, validated by the component that uses it.

    The defaults were tuned on PETS09-S2L1 and TUD-Stadtmitte together (bench/bench_engine.py)
    for the SSDLite detector's score range: true people score 0.19-0.98 (5th-95th
    percentile), so the detector keeps boxes from 0.1 and ByteTrack's second stage uses
    them to extend tracks, while only boxes from 0.5 start new tracks.
    """

    max_fps: float = 30.0
    detector_score_threshold: float = 0.1
    # SSDLite's boxes are about a quarter wider than tight person boxes; narrowing them
    # (about their centre) improves both association and overlap with annotations.
    box_width_scale: float = 0.9
    track_high_threshold: float = 0.3
    track_low_threshold: float = 0.1
    track_new_threshold: float = 0.5
    track_match_iou: float = 0.1
    track_lost_seconds: float = 1.0
    track_min_hits: int = 2
    min_track_frames: int = 3
    max_gap_frames: int = 10
    faces: bool = True
    face_min_confidence: float = 70.0

    def __post_init__(self) -> None:
        if not 0 < self.max_fps <= 240:
            raise ValueError(f"max_fps must be in (0, 240]; got {self.max_fps}")
        if not 0.2 <= self.box_width_scale <= 2.0:
            raise ValueError(f"box_width_scale must be in [0.2, 2]; got {self.box_width_scale}")
