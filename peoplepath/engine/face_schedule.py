"""Face analysis on some frames of a track, not every one.

A face found in frame t is near the same place in frame t+1, so running the face
detector on every person in every frame spends most of its time re-finding what is
already known. `FaceSchedule` runs `FaceAnalyzer` on a track's head only when the track
is due: every `every` analysed frames, or sooner when its box has moved or changed size
(IoU with the box the face was found in below `max_drift_iou`). In between, the face found
last follows its person: its box and landmarks are moved and scaled with the person box's
top centre and height; pose and quality are kept. A track whose last attempt found no face
is retried every `every` frames as well. Persons shorter than the analyzer's
`min_person_height` are never analysed (their face is too small to find).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .faces import FaceAnalyzer
from .tracker import iou_matrix
from .types import Face, TrackedBox


@dataclass(slots=True)
class _Seen:
    """A track's last face attempt: when, in which person box, and the face found (if any)."""

    ordinal: int
    person: np.ndarray
    face: Face | None


def follow(face: Face, before: np.ndarray, after: np.ndarray) -> Face:
    """`face` found in person box `before`, moved to where it sits in person box `after`:
    positions relative to the box's top centre, scaled by the ratio of box heights."""
    scale = float(after[3] - after[1]) / max(float(before[3] - before[1]), 1e-6)
    origin_before = np.array([(before[0] + before[2]) / 2, before[1]], np.float64)
    origin_after = np.array([(after[0] + after[2]) / 2, after[1]], np.float64)

    def move(xy: np.ndarray) -> np.ndarray:
        return (np.asarray(xy, np.float64) - origin_before) * scale + origin_after

    box = move(np.asarray(face.xyxy, np.float64).reshape(2, 2)).reshape(4)
    landmarks = {name: tuple(float(v) for v in move(np.array(xy))) for name, xy in face.landmarks.items()}
    return replace(face, xyxy=box.astype(np.asarray(face.xyxy).dtype), landmarks=landmarks)


class FaceSchedule:
    """Faces for one video's tracked boxes, frame by frame; one instance per video."""

    def __init__(self, analyzer: FaceAnalyzer, *, every: int = 3, max_drift_iou: float = 0.6) -> None:
        if not 1 <= every <= 1000:
            raise ValueError(f"every must be in 1..1000, got {every}")
        if not 0.0 < max_drift_iou <= 1.0:
            raise ValueError(f"max_drift_iou must be in (0, 1], got {max_drift_iou}")
        self.analyzer, self.every, self.max_drift_iou = analyzer, every, max_drift_iou
        self._seen: dict[int, _Seen] = {}

    def faces(self, ordinal: int, image_bgr: np.ndarray, tracked: list[TrackedBox]) -> list[Face | None]:
        """The face of each tracked box in analysed frame `ordinal` (None: no face)."""
        if not tracked:
            return []
        boxes = np.stack([np.asarray(b.xyxy, np.float64) for b in tracked])
        due = [i for i, b in enumerate(tracked) if self._due(ordinal, b.track_id, boxes[i])]
        out: list[Face | None] = [None] * len(tracked)
        if due:
            found = self.analyzer.analyse(image_bgr, boxes, only=due)
            for i in due:
                self._seen[tracked[i].track_id] = _Seen(ordinal, boxes[i], found[i])
                out[i] = found[i]
        for i, b in enumerate(tracked):
            seen = self._seen.get(b.track_id)
            if out[i] is None and seen is not None and seen.face is not None and seen.ordinal != ordinal:
                out[i] = follow(seen.face, seen.person, boxes[i])
        return out

    def _due(self, ordinal: int, track_id: int, box: np.ndarray) -> bool:
        seen = self._seen.get(track_id)
        if seen is None or ordinal - seen.ordinal >= self.every:
            return True
        tall_enough = box[3] - box[1] >= self.analyzer.min_person_height
        if seen.face is None or not tall_enough:
            return False
        return float(iou_matrix(seen.person, box)[0, 0]) < self.max_drift_iou
