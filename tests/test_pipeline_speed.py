"""Detecting ahead on a worker thread (settings.detect_ahead) is only faster: the same
rows, errors raised in order, no thread left behind."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest

from peoplepath.engine.chunking import ChunkResult, ChunkSpec
from peoplepath.engine.pipeline import EngineSettings, Pipeline

# The first 3 s of TUD-Stadtmitte (75 frames, 640x480): crowded, faces found.
CHUNK = ChunkSpec(0, 0, 3000, 0, 3000)


def tud(shared_data: Path) -> Path:
    return shared_data / "tud_stadtmitte" / "tud_stadtmitte_h264.mp4"


def assert_same(a: ChunkResult, b: ChunkResult) -> None:
    np.testing.assert_array_equal(a.frame_ms, b.frame_ms)
    for name in ("track", "timestamp_ms", "xyxy", "score", "face"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)  # NaN == NaN here


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(EngineSettings(detect_ahead=0))


def test_detecting_ahead_gives_the_same_rows_and_faces(pipeline: Pipeline, shared_data: Path) -> None:
    inline = pipeline.analyse(tud(shared_data), CHUNK)
    assert inline.timings.frames == 75 and len(inline.track) > 300
    assert np.isfinite(inline.face[:, 4]).sum() >= 20  # faces were found, so they are compared too
    for ahead in (1, 2, 4):
        pipeline.settings = dataclasses.replace(pipeline.settings, detect_ahead=ahead)
        ahead_result = pipeline.analyse(tud(shared_data), CHUNK)
        assert_same(inline, ahead_result)
        assert ahead_result.timings.frames == 75
        assert 0 < ahead_result.timings.wall
    pipeline.settings = dataclasses.replace(pipeline.settings, detect_ahead=0)


class Recording:
    """A detector that notes the thread it runs on and fails at frame `fail_at`."""

    def __init__(self, detector: object, fail_at: int | None = None) -> None:
        self.detector, self.fail_at, self.threads, self.calls = detector, fail_at, set(), 0

    def detect(self, image: np.ndarray) -> object:
        self.threads.add(threading.current_thread().name)
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError(f"detector failed at frame {self.calls}")
        return self.detector.detect(image)


def worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("detect-ahead", "decode-ahead")]


def test_the_detector_runs_on_its_own_thread_only_when_ahead(shared_data: Path) -> None:
    for ahead, where in ((0, "MainThread"), (2, "detect-ahead")):
        pipeline = Pipeline(EngineSettings(faces=False, detect_ahead=ahead))
        pipeline.detector = recording = Recording(pipeline.detector)
        pipeline.analyse(tud(shared_data), ChunkSpec(0, 0, 1000, 0, 1000))
        assert recording.threads == {where} and recording.calls == 25
    assert worker_threads() == []


def test_a_detector_error_ahead_is_raised_and_the_workers_stop(shared_data: Path) -> None:
    pipeline = Pipeline(EngineSettings(faces=False, detect_ahead=2))
    pipeline.detector = Recording(pipeline.detector, fail_at=10)
    with pytest.raises(RuntimeError, match="detector failed at frame 10"):
        pipeline.analyse(tud(shared_data))
    assert pipeline.detector.calls == 10  # nothing detected after the failure
    assert worker_threads() == []


@pytest.mark.parametrize("knobs", [{"detect_ahead": -1}, {"detect_ahead": 17}, {"detector_threads": 0}])
def test_bad_speed_knobs_raise(knobs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(knobs))):
        EngineSettings(**knobs)
