"""extend_tracks: tracks grow back to where their person's detections begin and on past
their last box, over weak detections no other track holds."""

from __future__ import annotations

import numpy as np
import pytest

from peoplepath.engine.extend import extend_tracks
from peoplepath.engine.types import Detections


def _walker(frame: int) -> np.ndarray:
    """A person walking right 4 px a frame, 40 x 100 px."""
    x = 100 + 4 * frame
    return np.array([x, 50, x + 40, 150], np.float32)


def _frames(n: int, extra: dict[int, list[np.ndarray]] | None = None) -> list[Detections]:
    out = []
    for f in range(n):
        boxes = [_walker(f)] + (extra or {}).get(f, [])
        out.append(Detections(np.stack(boxes), np.full(len(boxes), 0.3, np.float32)))
    return out


def test_a_track_extends_back_to_frame_0_and_on_to_the_end() -> None:
    detections = _frames(20)
    track = {7: [(f, _walker(f), 0.9) for f in range(6, 12)]}
    out = extend_tracks(track, detections)
    assert [e[0] for e in out[7]] == list(range(20))
    assert out[7][0][2] == pytest.approx(0.3)  # added entries carry their detection's score
    np.testing.assert_allclose(out[7][0][1], _walker(0))


def test_extension_stops_at_a_frame_without_a_matching_detection() -> None:
    detections = _frames(20)
    detections[3] = Detections()  # the person is missed in frame 3
    detections[15] = Detections(np.array([[500, 50, 540, 150]], np.float32), np.array([0.5], np.float32))
    out = extend_tracks({1: [(f, _walker(f), 0.9) for f in range(6, 12)]}, detections)
    assert [e[0] for e in out[1]] == list(range(4, 15))


def test_a_detection_held_by_another_track_is_not_taken() -> None:
    detections = _frames(10)
    other = {2: [(f, _walker(f), 0.9) for f in range(0, 3)]}  # frames 0-2 belong to track 2
    mine = {1: [(f, _walker(f), 0.9) for f in range(5, 8)]}
    out = extend_tracks({**mine, **other}, detections, max_frames=None)
    assert [e[0] for e in out[1]][0] == 3
    assert [e[0] for e in out[2]] == [0, 1, 2]  # track 2 cannot go on: 3..9 are track 1's now


def test_max_frames_limits_each_side() -> None:
    out = extend_tracks({1: [(f, _walker(f), 0.9) for f in range(8, 10)]}, _frames(20), max_frames=2)
    assert [e[0] for e in out[1]] == [6, 7, 8, 9, 10, 11]


def test_bad_min_iou_is_refused() -> None:
    with pytest.raises(ValueError, match="min_iou"):
        extend_tracks({}, [], min_iou=0)
