"""ByteTracker and postprocess: synthetic behaviour and quality on public detections."""

from __future__ import annotations

import numpy as np
import pytest

from bench.bench_tracking_quality import CLIPS, load_detections, run_online, score_clip
from peoplepath.engine.tracker import ByteTracker, postprocess
from peoplepath.engine.types import Detections


def _box(cx: float, cy: float, w: float = 40, h: float = 100) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _dets(*boxes: list[float], score: float = 0.9) -> Detections:
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), score, np.float32))


def _id_at(out, x: float, y: float) -> int:
    """Id of the returned box whose centre is nearest (x, y)."""
    return min(out, key=lambda t: np.hypot((t.xyxy[0] + t.xyxy[2]) / 2 - x, (t.xyxy[1] + t.xyxy[3]) / 2 - y)).track_id


def test_crossing_boxes_keep_their_ids() -> None:
    tracker = ByteTracker(frame_rate=25)
    seen_a, seen_b = set(), set()
    for f in range(60):
        xa, xb = 100 + 6 * f, 460 - 6 * f  # they pass through each other around frame 30
        boxes = [_box(xa, 200), _box(xb, 200)]  # identical boxes at frame 30
        out = tracker.update(_dets(*(boxes[::-1] if f % 2 else boxes)))  # detection order must not matter
        assert len(out) == 2
        if f != 30:
            seen_a.add(_id_at(out, xa, 200))
            seen_b.add(_id_at(out, xb, 200))
    assert seen_a == {1} and seen_b == {2}


def test_box_that_vanishes_for_a_few_frames_keeps_its_id() -> None:
    tracker = ByteTracker(frame_rate=25, lost_track_seconds=1.0)
    ids = []
    for f in range(40):
        box = _box(100 + 4 * f, 200)
        out = tracker.update(_dets() if 15 <= f < 22 else _dets(box))
        if 15 <= f < 22:
            assert out == []
        else:
            ids += [t.track_id for t in out]
    assert set(ids) == {1} and len(ids) == 33


def test_long_absence_starts_a_new_id() -> None:
    tracker = ByteTracker(frame_rate=10, lost_track_seconds=0.5)
    for _ in range(5):
        tracker.update(_dets(_box(100, 200)))
    for _ in range(10):
        tracker.update(_dets())
    out = [tracker.update(_dets(_box(100, 200))) for _ in range(3)]
    assert out[0] == [] and [t.track_id for t in out[-1]] == [2]  # tentative first, then confirmed


def test_ids_start_at_one_in_each_instance() -> None:
    frames = [_dets(_box(100 + 3 * f, 200), _box(400, 200)) for f in range(10)]
    for _ in range(2):
        tracker = ByteTracker()
        ids = {t.track_id for d in frames for t in tracker.update(d)}
        assert ids == {1, 2}


def test_low_score_detection_extends_but_never_starts_a_track() -> None:
    tracker = ByteTracker(frame_rate=25)
    assert tracker.update(_dets(_box(100, 200), score=0.3)) == []
    assert tracker.update(_dets(_box(100, 200), score=0.3)) == []
    for f in range(3):
        tracker.update(_dets(_box(200 + f, 200)))
    out = tracker.update(_dets(_box(203, 200), score=0.3))
    assert [t.track_id for t in out] == [1] and out[0].score == pytest.approx(0.3)


def test_single_frame_false_positive_is_not_reported() -> None:
    tracker = ByteTracker(frame_rate=25, min_hits=2)
    tracker.update(_dets(_box(100, 200)))
    out = tracker.update(_dets(_box(100, 200), _box(400, 200)))
    assert [t.track_id for t in out] == [1]
    out = tracker.update(_dets(_box(100, 200)))
    assert [t.track_id for t in out] == [1]


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"high_threshold": 1.5}, ["high_threshold=1.5", "low_threshold <= high_threshold <= 1"]),
        ({"low_threshold": 0.7, "high_threshold": 0.5}, ["high_threshold=0.5"]),
        ({"new_track_threshold": 0.1}, ["new_track_threshold=0.1", "high_threshold <= new_track_threshold"]),
        ({"match_iou": 0}, ["match_iou=0", "0 < match_iou <= 1"]),
        ({"lost_track_seconds": -1, "min_hits": 0}, ["lost_track_seconds=-1", "min_hits=0"]),
        ({"min_hits": 2.5}, ["min_hits=2.5", "integer"]),
        ({"frame_rate": 0}, ["frame_rate=0", "0 < frame_rate <= 1000"]),
    ],
)
def test_bad_knobs_raise_with_valid_ranges(kwargs: dict, names: list[str]) -> None:
    with pytest.raises(ValueError) as err:
        ByteTracker(**kwargs)
    for name in names:
        assert name in str(err.value)
    assert "valid:" in str(err.value)


def test_postprocess_fills_gaps_and_drops_short_tracks() -> None:
    b = lambda x: np.array([x, 0, x + 10, 20], np.float32)  # noqa: E731
    tracks = {
        1: [(0, b(0), 0.9), (1, b(10), 0.8), (4, b(40), 0.6), (5, b(50), 0.9), (20, b(200), 0.9)],
        2: [(3, b(0), 0.9), (4, b(0), 0.9)],
    }
    out = postprocess(tracks, min_track_frames=3, max_gap_frames=5)
    assert list(out) == [1]
    frames = [f for f, _, _ in out[1]]
    assert frames == [0, 1, 2, 3, 4, 5, 20]  # the 2-frame gap is filled, the 14-frame gap is not
    f2, box2, s2 = out[1][2]
    assert np.allclose(box2, b(20)) and s2 == pytest.approx(0.6)
    assert np.allclose(out[1][3][1], b(30))
    with pytest.raises(ValueError, match="min_track_frames"):
        postprocess(tracks, min_track_frames=0)


# Measured on the public Faster R-CNN detections with the default knobs (HOTA / MOTA / IDF1,
# bench/bench_tracking_quality.py): PETS09-S2L1 42.0 / 64.7 / 55.7 (44.3 / 66.7 / 56.5 after
# postprocess), TUD-Stadtmitte 55.0 / 70.2 / 79.4 (56.2 / 73.1 / 81.0). Floors ~2 points under.
FLOORS = {
    "PETS09-S2L1": {"HOTA": 40.0, "MOTA": 62.5, "IDF1": 53.5},
    "TUD-Stadtmitte": {"HOTA": 53.0, "MOTA": 68.0, "IDF1": 77.0},
}


@pytest.mark.parametrize("name", list(CLIPS))
def test_quality_on_public_frcnn_detections(name: str) -> None:
    clip = CLIPS[name]
    tracker = ByteTracker(frame_rate=clip.fps)
    tracks, _ = run_online(tracker.update, load_detections(clip.frcnn, clip.num_frames))
    r = score_clip(name, tracks)
    for key, floor in FLOORS[name].items():
        assert r[key] >= floor, (key, r)
    assert min(tracks) == 1 and r["predicted_ids"] <= 2 * r["true_ids"]
    post = score_clip(name, postprocess(tracks))
    assert post["HOTA"] >= r["HOTA"] + 0.5 and post["IDSW"] <= r["IDSW"], (post, r)


def test_empty_and_degenerate_detections_are_ignored() -> None:
    tracker = ByteTracker(frame_rate=25, min_hits=1)
    assert tracker.update(Detections()) == []
    bad = Detections(np.array([[10, 10, 10, 50], [np.nan, 0, 5, 5], [0, 0, 40, 100]], np.float32),
                     np.array([0.99, 0.99, 0.99], np.float32))
    out = tracker.update(bad)
    assert [t.track_id for t in out] == [1] and np.allclose(out[0].xyxy, [0, 0, 40, 100])
