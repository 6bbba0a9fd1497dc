"""How much of a video was really decoded: frames lost in gaps and at the end.

A damaged file often still opens and decodes in part: a file cut short stops early
(its container still states the whole duration), and overwritten bytes make runs of
packets fail. `coverage` compares the analysed frames' timestamps with the container's
duration and the expected frame interval.

The rule (`Coverage.ok`): a job's footage counts as read when no run of missing time is
longer than MAX_MISSING_MS (1 s), including the time between the last decoded frame and
the container's duration, and the frames lost in all add up to at most MAX_LOST_SHARE
(5%) of the expected frames. Isolated damaged packets the decoder conceals or skips
(a frame or a few) pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .video import VideoInfo

MAX_MISSING_MS = 1000
MAX_LOST_SHARE = 0.05


@dataclass(frozen=True)
class Coverage:
    """`last_ms`: the last decoded frame's time; `expected_ms`: the container's duration;
    `lost_frames`: frames (at the video's own rate) missing in gaps and at the end;
    `expected_frames`: frames the duration holds; `longest_missing_ms` and where that
    run starts (`missing_from_ms`)."""

    last_ms: int
    expected_ms: int
    lost_frames: int
    expected_frames: int
    longest_missing_ms: int
    missing_from_ms: int

    @property
    def ok(self) -> bool:
        return self.longest_missing_ms <= MAX_MISSING_MS and self.lost_frames <= MAX_LOST_SHARE * self.expected_frames

    def message(self, name: str) -> str:
        """What was read of the video called `name` (the name the client gave)."""
        read, total = self.last_ms / 1000, self.expected_ms / 1000
        if not self.lost_frames:
            return f"All {total:.1f} s of {name} could be decoded"
        if self.missing_from_ms > self.last_ms:  # the longest run is the end
            return f"Only {read:.1f} s of {total:.1f} s of {name} could be decoded ({self.lost_frames} frames lost)"
        return (
            f"{self.lost_frames} frames of {name} ({total:.1f} s) could not be decoded; the longest run is "
            f"{self.longest_missing_ms / 1000:.1f} s from {self.missing_from_ms / 1000:.1f} s"
        )


def coverage(info: VideoInfo, frame_ms: np.ndarray, max_fps: float) -> Coverage:
    """The coverage of the analysed frames `frame_ms` (ms, any order) of a video analysed
    at up to `max_fps` frames a second."""
    fps = info.fps if info.fps > 0 else max_fps
    step = 1000.0 / min(fps, max_fps)  # the expected interval between analysed frames
    ms = np.unique(np.asarray(frame_ms, np.int64))
    expected_frames = max(1, int(round(info.duration_ms * fps / 1000)))
    if not len(ms):
        return Coverage(0, int(info.duration_ms), expected_frames, expected_frames, int(info.duration_ms), 0)
    # Missing runs: before the first frame, between frames, after the last one's interval.
    starts = np.concatenate([[0], ms[:-1] + step, [ms[-1] + step]])
    ends = np.concatenate([[ms[0]], ms[1:], [max(float(info.duration_ms), ms[-1] + step)]])
    missing = np.where(ends - starts > step / 2, ends - starts, 0.0)
    longest = int(np.argmax(missing))
    return Coverage(
        last_ms=int(ms[-1]),
        expected_ms=int(info.duration_ms),
        lost_frames=int(round(missing.sum() * fps / 1000)),
        expected_frames=expected_frames,
        longest_missing_ms=int(round(missing[longest])),
        missing_from_ms=int(round(starts[longest])) if missing[longest] > 0 else int(ms[-1]),
    )
