"""The engine's tracking quality may not fall more than 1 point below the committed
baseline (bench/quality_baseline.json, written by bench/bench_engine.py --update-baseline).
Faces are off here: they do not change the tracks, only the time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO

from bench.bench_engine import CLIPS, quality_of
from peoplepath.engine.pipeline import EngineSettings, Pipeline

BASELINE = json.loads((REPO / "bench" / "quality_baseline.json").read_text())


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(EngineSettings(faces=False))


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_quality_holds_the_baseline(pipeline: Pipeline, clip: str, shared_data: Path) -> None:
    video, gt_dir = CLIPS[clip]
    quality = quality_of(pipeline.run(video), gt_dir)
    drops = {k: round(BASELINE[clip][k] - quality[k], 2) for k in ("HOTA", "MOTA", "IDF1")}
    print(clip, {k: round(quality[k], 2) for k in ("HOTA", "MOTA", "IDF1")})
    assert all(drop <= 1.0 for drop in drops.values()), f"{clip} fell below the baseline by {drops}"
