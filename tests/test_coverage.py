"""coverage(): how much of a damaged video decodes, on real damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import videos

from peoplepath.coverage import coverage
from peoplepath.video import VideoInfo, iter_frames, probe


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """7.2 s at 25 fps, index at the front so a cut file still opens."""
    folder = tmp_path_factory.mktemp("coverage")
    return videos.write_pyav(folder / "good.mp4", frames=180, fps=25, gop=25, container_options={"movflags": "faststart"})


def _damaged(clip: Path, name: str, change) -> Path:
    data = bytearray(clip.read_bytes())
    path = clip.with_name(name)
    path.write_bytes(bytes(change(data)))
    return path


def _coverage_of(path: Path, max_fps: float = 30):
    return coverage(probe(path), np.array([f.timestamp_ms for f in iter_frames(path, max_fps=max_fps)]), max_fps)


def test_a_whole_clip_passes(clip: Path) -> None:
    for max_fps in (30, 5):  # analysed at a lower rate: gaps are measured against that rate
        c = _coverage_of(clip, max_fps)
        assert c.ok and c.lost_frames == 0 and c.expected_ms == 7200 and c.last_ms >= 7000
        assert c.message("good.mp4") == "All 7.2 s of good.mp4 could be decoded"


def test_a_clip_cut_at_30_percent_fails_and_says_how_much_was_read(clip: Path) -> None:
    cut = _damaged(clip, "cut.mp4", lambda d: d[: int(len(d) * 0.3)])
    c = _coverage_of(cut)
    assert not c.ok and c.expected_ms == 7200 and 1000 < c.last_ms < 3000
    assert c.lost_frames == 180 - (c.last_ms // 40 + 1)
    assert c.message("clips/cut.mp4") == f"Only {c.last_ms / 1000:.1f} s of 7.2 s of clips/cut.mp4 could be decoded ({c.lost_frames} frames lost)"


def test_bytes_overwritten_in_the_middle_fail(clip: Path) -> None:
    def blank(d: bytearray) -> bytearray:
        d[len(d) // 2 : len(d) // 2 + 20_000] = bytes(20_000)
        return d

    c = _coverage_of(_damaged(clip, "middle.mp4", blank))
    assert not c.ok and c.last_ms == 7160 and c.lost_frames >= 10
    assert 2000 < c.missing_from_ms < 5000
    assert c.message("middle.mp4").startswith(f"{c.lost_frames} frames of middle.mp4 (7.2 s) could not be decoded")


def test_isolated_lost_frames_pass_and_a_long_run_fails() -> None:
    info = VideoInfo("h264", "QuickTime / MOV", 60_000, 25.0, 320, 240, "LIMITED", 1500)
    every = 40 * np.arange(1500)
    few = np.delete(every, [100, 500, 501, 900])  # concealed or skipped packets here and there
    assert coverage(info, few, 30).ok and coverage(info, few, 30).lost_frames == 4
    run = np.delete(every, np.arange(700, 730))  # 1.2 s missing in a row
    c = coverage(info, run, 30)
    assert not c.ok and c.lost_frames == 30 and c.longest_missing_ms == 1200 and c.missing_from_ms == 28_000
    scattered = np.delete(every, np.arange(0, 1500, 10))  # 10% lost, one frame at a time
    assert not coverage(info, scattered, 30).ok
    assert not coverage(info, np.zeros(0, np.int64), 30).ok
