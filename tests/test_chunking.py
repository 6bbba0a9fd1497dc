"""Chunked analysis: the chunk plan, compact chunk results, stitching, and the quality of
PETS09-S2L1 in six chunks against one."""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from bench.bench_engine import CLIPS, quality_of
from peoplepath.engine.chunking import (
    FACE_COLUMNS, WHOLE_VIDEO, ChunkBuilder, ChunkResult, ChunkSpec, Timings, face_row, finish, plan_chunks,
)
from peoplepath.engine.pipeline import EngineSettings, Pipeline, TrackingResult
from peoplepath.engine.types import Face
from peoplepath.video import VideoError, VideoInfo, probe

INFO = VideoInfo("h264", "QuickTime / MOV", 10_000, 10.0, 640, 480, "LIMITED", 100)


def test_short_videos_and_chunk_seconds_zero_are_one_chunk() -> None:
    assert plan_chunks(113_571, 120) == [WHOLE_VIDEO]
    assert plan_chunks(120_000, 120) == [WHOLE_VIDEO]  # exactly as long: still one
    assert plan_chunks(10 * 3600_000, 0) == [WHOLE_VIDEO]
    assert plan_chunks(10 * 3600_000, -5) == [WHOLE_VIDEO]
    assert plan_chunks(0, 20) == [WHOLE_VIDEO]


def test_pets_in_twenty_second_chunks() -> None:
    specs = plan_chunks(113_571, 20, overlap_seconds=3)
    assert len(specs) == 6 and [s.index for s in specs] == list(range(6))
    assert specs[0] == ChunkSpec(0, 0, 20_000, 0, 20_000)
    assert specs[1] == ChunkSpec(1, 17_000, 40_000, 20_000, 40_000)
    assert specs[-1] == ChunkSpec(5, 97_000, None, 100_000, None)  # the last runs to the end
    for a, b in zip(specs, specs[1:]):  # cores tile the time line; each lead-in is the overlap
        assert a.core_end_ms == b.core_start_ms == a.end_ms and b.start_ms == b.core_start_ms - 3000


def test_a_last_core_shorter_than_the_overlap_joins_the_one_before() -> None:
    specs = plan_chunks(41_000, 20, overlap_seconds=3)
    assert [(s.core_start_ms, s.core_end_ms) for s in specs] == [(0, 20_000), (20_000, None)]
    assert [(s.core_start_ms, s.core_end_ms) for s in plan_chunks(44_000, 20, 3)] == [(0, 20_000), (20_000, 40_000), (40_000, None)]
    assert plan_chunks(30_000, 20, overlap_seconds=0)[1] == ChunkSpec(1, 20_000, None, 20_000, None)


@pytest.mark.parametrize("overlap", [20, 25, -1, float("nan")])
def test_bad_overlaps_raise(overlap: float) -> None:
    with pytest.raises(ValueError, match="overlap"):
        plan_chunks(100_000, 20, overlap_seconds=overlap)


def test_specs_travel_as_json_and_pickles() -> None:
    for spec in plan_chunks(300_000, 120):
        assert ChunkSpec(**json.loads(json.dumps(asdict(spec)))) == spec == pickle.loads(pickle.dumps(spec))


def _face(x: float) -> Face:
    points = {n: (x + i, 12.5) for i, n in enumerate(("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"))}
    return Face(np.array([x, 10, x + 10, 20.0]), 91.0, points, (1.5, -20.0, 3.0), 55.0, 44.0)


def test_chunk_results_round_trip_through_bytes() -> None:
    builder = ChunkBuilder(ChunkSpec(2, 17_000, 40_000, 20_000, 40_000))
    rng = np.random.default_rng(0)
    for f in range(700):  # 2,100 rows: the buffers double twice
        boxes = rng.uniform(0, 600, (3, 4)).astype(np.float32)
        faces = np.stack([face_row(_face(f) if k == 0 else None) for k in range(3)]) if f % 2 else None
        builder.add_frame(17_000 + 33 * f, np.array([1, 2, f]), boxes, rng.uniform(0, 1, 3), faces)
    result = builder.result(Timings(decode=1.0, detect=2.0, frames=700))
    back = ChunkResult.from_bytes(result.to_bytes())
    assert back.spec == result.spec and back.timings == result.timings and len(back) == 2100
    for name in ("frame_ms", "track", "timestamp_ms", "xyxy", "score", "face"):
        assert getattr(back, name).dtype == getattr(result, name).dtype
        np.testing.assert_array_equal(getattr(back, name), getattr(result, name))  # NaN == NaN here
    assert back.face.shape == (2100, FACE_COLUMNS) and np.isnan(back.face[:3]).all() and back.face[3, 4] == 91.0
    assert len(result.to_bytes()) < 100 * 2100  # compact: under 100 bytes a detection


def _walker(builder: ChunkBuilder, frames: range, tracks: dict[int, tuple[float, float]]) -> None:
    """People walking at constant speed: local track id -> (x at frame 0, px per frame)."""
    for f in frames:
        ids = np.array(list(tracks))
        boxes = np.array([[x0 + v * f, 100, x0 + v * f + 40, 200] for x0, v in tracks.values()], np.float32)
        builder.add_frame(100 * f, ids, boxes, np.full(len(ids), 0.9), None)


def test_stitching_keeps_identities_across_a_boundary_and_owner_rows_only() -> None:
    a_spec, b_spec = plan_chunks(10_000, 5, overlap_seconds=1)
    a, b = ChunkBuilder(a_spec), ChunkBuilder(b_spec)
    _walker(a, range(0, 50), {1: (0, 5), 2: (500, -4)})
    _walker(b, range(40, 100), {7: (500, -4), 3: (0, 5)})  # other local ids, other order
    _walker(b, range(60, 100), {9: (300, 0)})  # someone new in b's core
    tracks = finish(INFO, [b.result(Timings()), a.result(Timings())], EngineSettings(faces=False, max_fps=10))
    assert tracks.persons == 3
    assert tracks.detections == 100 + 100 + 40  # the overlap's frames counted once
    np.testing.assert_array_equal(tracks.frame_ms, 100 * np.arange(100))
    walking_right = tracks.person[(tracks.xyxy[:, 0] == 0)]  # frame 0 of the first walker
    assert walking_right.tolist() == [0] and set(tracks.person[tracks.timestamp_ms == 9900].tolist()) == {0, 1, 2}
    assert np.all(np.diff(tracks.timestamp_ms) >= 0)  # TIMESTAMP order
    rows = [r for batch in tracks.rows(batch=7) for r in batch]
    assert [(r.timestamp_ms, r.person_index) for r in rows] == sorted((r.timestamp_ms, r.person_index) for r in rows)
    assert {r.person_index for r in rows if r.timestamp_ms == 0} == {0, 1}  # numbered by first appearance


def test_finish_without_frames_is_a_video_error() -> None:
    empty = ChunkBuilder(WHOLE_VIDEO).result(Timings())
    with pytest.raises(VideoError, match="no decodable frames"):
        finish(INFO, [empty], EngineSettings(faces=False))


@pytest.mark.slow
def test_pets_in_six_chunks_scores_as_one(shared_data: Path) -> None:
    """Measured: 65.11 / 81.61 / 88.96 with 22 ids in one chunk, 65.11 / 81.66 / 88.98 with
    22 ids in six (3 s lead-ins)."""
    video, gt_dir = CLIPS["PETS09-S2L1"]
    pipeline = Pipeline(EngineSettings(faces=False))
    info = probe(video)
    specs = plan_chunks(info.duration_ms, 20)
    assert len(specs) == 6
    # Out of order, through bytes: each chunk stands alone, as on a cluster.
    chunks = [ChunkResult.from_bytes(pipeline.analyse(video, spec).to_bytes()) for spec in reversed(specs)]
    whole = pipeline.analyse(video)
    scores = {}
    for name, results in (("one", [whole]), ("six", chunks)):
        tracks = finish(info, results, pipeline.settings)
        rows = [row for batch in tracks.rows() for row in batch]
        scores[name] = quality_of(TrackingResult(info, rows, tracks.persons, Timings()), gt_dir)
    one, six = scores["one"], scores["six"]
    print({k: (round(one[k], 2), round(six[k], 2)) for k in ("HOTA", "MOTA", "IDF1", "predicted_ids")})
    assert all(six[k] >= one[k] - 1.0 for k in ("HOTA", "MOTA", "IDF1")), (one, six)
    assert six["predicted_ids"] <= one["predicted_ids"] + 2
    np.testing.assert_array_equal(np.unique(np.concatenate([c.frame_ms for c in chunks])), whole.frame_ms)
