"""Tracking that holds where frames are far apart in time (buffered IoU) and tracks that
reach back to where their person first appears (extend.py)."""

from __future__ import annotations

import numpy as np
import pytest

from peoplepath.engine.chunking import WHOLE_VIDEO, ChunkBuilder, Timings
from peoplepath.engine.extend import extend_tracks
from peoplepath.engine.settings import EngineSettings
from peoplepath.engine.tracker import ByteTracker, buffered, confirm_hits
from peoplepath.engine.types import Detections


def test_buffered_boxes_grow_by_their_height_on_every_side() -> None:
    boxes = np.array([[10, 20, 30, 120], [0, 0, 10, 50]], np.float32)
    out = buffered(boxes, np.array([0.1, 0.2]))
    np.testing.assert_allclose(out, [[0, 10, 40, 130], [-10, -10, 20, 60]])
    np.testing.assert_allclose(buffered(boxes, 0.0), boxes)


def _walker(step_px: float, frames: int) -> list[Detections]:
    """One person (50 x 100 px) walking right `step_px` a frame."""
    return [Detections(np.array([[100 + i * step_px, 100, 150 + i * step_px, 200]], np.float32),
                       np.array([0.9], np.float32)) for i in range(frames)]


def _ids(tracker: ByteTracker, frames: list[Detections]) -> set[int]:
    return {box.track_id for dets in frames for box in tracker.update(dets)}


def test_confirmation_asks_no_more_hits_than_frames_in_its_time() -> None:
    """track_confirm_seconds caps track_min_hits by the frames within that long of a
    track's first: unchanged at video rates, one hit where frames are seconds apart."""
    assert [confirm_hits(2, 0.4, fps) for fps in (25.0, 7.0, 3.5, 2.5, 2.33, 1.0)] == [2, 2, 2, 2, 1, 1]
    assert [confirm_hits(4, 0.4, fps) for fps in (25.0, 7.0, 3.5)] == [4, 3, 2]
    assert confirm_hits(2, 0.0, 25.0) == 1 and confirm_hits(1, 10.0, 25.0) == 1
    assert EngineSettings().track_confirm_seconds == 0.4
    with pytest.raises(ValueError, match="track_confirm_seconds"):
        EngineSettings(track_confirm_seconds=-1)


def test_a_dark_frame_starts_tracks_at_its_own_threshold() -> None:
    """track_dark_new_threshold: on a dark frame a person scored under the new-track
    threshold (darkness lowers scores) still starts a track; on other frames it does not."""
    from peoplepath.engine.detector_nanodet import is_dark

    person = Detections(np.array([[10, 10, 60, 160]], np.float32), np.array([0.55], np.float32))
    make = lambda: ByteTracker(min_hits=1, high_threshold=0.45, new_track_threshold=0.6, frame_rate=25)  # noqa: E731
    assert make().update(person) == []
    assert [b.score for b in make().update(person, new_track_threshold=0.5)] == [pytest.approx(0.55)]
    with pytest.raises(ValueError, match="new_track_threshold"):
        make().update(person, new_track_threshold=0.3)  # under the high threshold
    assert is_dark(np.full((48, 64, 3), 40, np.uint8)) and not is_dark(np.full((48, 64, 3), 120, np.uint8))
    assert EngineSettings().track_dark_new_threshold == 0.5 < EngineSettings().track_new_threshold
    with pytest.raises(ValueError, match="track_dark_new_threshold"):
        EngineSettings(track_dark_new_threshold=0.3)


def test_a_fast_walker_at_a_low_frame_rate_keeps_one_identity_with_a_motion_buffer() -> None:
    frames = _walker(60.0, 8)  # moves more than its own width a frame: plain IoU is 0
    plain = ByteTracker(frame_rate=5, min_hits=1, high_threshold=0.5, new_track_threshold=0.5)
    assert len(_ids(plain, frames)) > 1
    held = ByteTracker(frame_rate=5, min_hits=1, high_threshold=0.5, new_track_threshold=0.5, motion_buffer=2.0)
    assert len(_ids(held, frames)) == 1


def test_the_motion_buffer_is_per_second_so_it_shrinks_at_a_higher_frame_rate() -> None:
    assert ByteTracker(frame_rate=30, motion_buffer=1.5).buffer_per_frame == pytest.approx(0.05)
    assert ByteTracker(frame_rate=10, motion_buffer=1.5).buffer_per_frame == pytest.approx(0.15)
    with pytest.raises(ValueError, match="motion_buffer"):
        ByteTracker(motion_buffer=-1)
    with pytest.raises(ValueError, match="track_motion_buffer"):
        EngineSettings(track_motion_buffer=11)
    with pytest.raises(ValueError, match="extend_seconds"):
        EngineSettings(extend_seconds=-1)


def _line(frames: range, x0: float = 100.0, step: float = 5.0) -> np.ndarray:
    return np.array([[x0 + f * step, 50, x0 + 40 + f * step, 150] for f in frames], np.float32)


def test_a_track_is_extended_backward_and_forward_over_free_detections_that_continue_it() -> None:
    track, frame = np.full(5, 7), np.arange(5, 10)
    xyxy = _line(range(5, 10))
    cand_frame = np.array([0, 1, 2, 3, 4, 10, 11, 3], np.int64)
    cand_xyxy = np.concatenate([_line(range(0, 5)), _line(range(10, 12)), [[400, 50, 440, 150]]]).astype(np.float32)
    ids, at, chosen = extend_tracks(track, frame, xyxy, cand_frame, cand_xyxy, max_frames=10)
    assert set(ids.tolist()) == {7}
    assert sorted(at.tolist()) == [0, 1, 2, 3, 4, 10, 11]
    assert 7 not in chosen.tolist()  # the box far from the track's path is left alone
    _, at, _ = extend_tracks(track, frame, xyxy, cand_frame, cand_xyxy, max_frames=2)
    assert sorted(at.tolist()) == [3, 4, 10, 11]


def test_extension_stops_at_a_missing_frame_and_a_detection_joins_one_track_only() -> None:
    track = np.array([1, 1, 1, 2, 2])
    frame = np.array([5, 6, 7, 6, 7])
    xyxy = np.concatenate([_line(range(5, 8), step=0), _line(range(6, 8), step=0)])  # two tracks on one spot
    cand_frame = np.array([4, 2], np.int64)  # frame 3 has nothing: frame 2 is out of reach
    cand_xyxy = _line(range(2), step=0)
    ids, at, chosen = extend_tracks(track, frame, xyxy, cand_frame, cand_xyxy, max_frames=10)
    assert ids.tolist() == [1] and at.tolist() == [4] and chosen.tolist() == [0]  # the longer track took it


def test_the_chunk_builder_extends_tracks_over_the_frames_before_they_start() -> None:
    builder = ChunkBuilder(WHOLE_VIDEO, extend_frames=5)
    empty = np.zeros((0, 4), np.float32)
    for f in range(6):
        box = _line(range(f, f + 1))
        detections = Detections(box, np.array([0.3], np.float32))
        if f < 3:  # the tracker has not confirmed the person yet
            builder.add_frame(f * 40, np.zeros(0, np.int32), empty, np.zeros(0, np.float32), None, detections)
        else:
            builder.add_frame(f * 40, np.array([1], np.int32), box, np.array([0.8], np.float32), None, detections)
    result = builder.result(Timings())
    assert result.timestamp_ms.tolist() == [0, 40, 80, 120, 160, 200]
    assert result.track.tolist() == [1] * 6
    assert result.score.tolist()[:3] == pytest.approx([0.3] * 3)
    assert np.isnan(result.face[:3]).all()
    plain = ChunkBuilder(WHOLE_VIDEO)
    plain.add_frame(0, np.zeros(0, np.int32), empty, np.zeros(0, np.float32), None, Detections(_line(range(1)), np.array([0.3], np.float32)))
    assert len(plain.result(Timings())) == 0
