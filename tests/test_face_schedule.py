"""FaceSchedule: faces looked for on some frames of a track, carried along in between,
on the real 1080p clip with frontal faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from peoplepath.engine.detector_nanodet import NanoDetPersonDetector
from peoplepath.engine.face_schedule import FaceSchedule, follow
from peoplepath.engine.faces import FaceAnalyzer
from peoplepath.engine.tracker import ByteTracker, iou_matrix
from peoplepath.engine.types import Face
from peoplepath.video import iter_frames


def test_follow_moves_and_scales_a_face_with_its_person() -> None:
    face = Face(np.array([40.0, 10, 60, 30]), 90.0, {"nose": (50.0, 20.0)}, (1.0, 2.0, 3.0), 50.0, 60.0)
    moved = follow(face, np.array([0.0, 0, 100, 200]), np.array([100.0, 50, 300, 450]))  # 2x taller, moved
    np.testing.assert_allclose(moved.xyxy, [180, 70, 220, 110])
    assert moved.landmarks["nose"] == pytest.approx((200.0, 90.0))
    assert (moved.pose, moved.confidence, moved.sharpness) == (face.pose, face.confidence, face.sharpness)


@pytest.mark.slow
def test_faces_are_looked_for_every_third_frame_and_follow_their_person(shared_data: Path) -> None:
    frames = [f.image for f in iter_frames(shared_data / "faces_royal_opera_house" / "video.mp4")][:9]
    detector = NanoDetPersonDetector(score_threshold=0.4, input_long_side=640)
    tracker = ByteTracker(high_threshold=0.4, low_threshold=0.2, new_track_threshold=0.5, min_hits=1, frame_rate=25)
    tracked = [tracker.update(detector.detect(image)) for image in frames]
    analyzer = FaceAnalyzer()
    looked: list[int] = []
    plain_analyse = analyzer.analyse

    def counting(image, boxes, only=None):  # the real analyzer, counting the heads it looks at
        looked.append(len(boxes) if only is None else len(only))
        return plain_analyse(image, boxes, only=only)

    analyzer.analyse = counting  # type: ignore[method-assign]
    schedule = FaceSchedule(analyzer, every=3)
    scheduled = [schedule.faces(i, image, boxes) for i, (image, boxes) in enumerate(zip(frames, tracked))]
    every_frame = [plain_analyse(image, np.stack([b.xyxy for b in boxes])) for image, boxes in zip(frames, tracked)]
    assert sum(looked) < 0.6 * sum(len(b) for b in tracked)
    fresh = [(s, e) for ss, es in zip(scheduled, every_frame) for s, e in zip(ss, es) if e is not None]
    assert len(fresh) >= 10
    found = [s for s, _ in fresh if s is not None]
    assert len(found) >= 0.8 * len(fresh)  # a face found on every frame is reported on (nearly) every frame
    overlaps = [iou_matrix(s.xyxy, e.xyxy)[0, 0] for s, e in fresh if s is not None]
    assert np.median(overlaps) > 0.6
