"""Whatever the tuning, the engine may not depend on which way the scene faces: tracks of
the mirrored TUD-Stadtmitte clip, mirrored back, must match the tracks of the original
(HOTA of one against the other, the original's tracks as ground truth, at least 90).

Measured (issue 9): 74.1. The target is not met yet, so it is held as a strict xfail (it
fails the day the engine reaches it, so the marker is then removed), with a floor that
must hold now. The detector is the likely cause: NanoDet's TF-converted convolutions pad
stride-2 inputs on the right and bottom only, so a mirrored frame is not seen mirrored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.bench_engine import CLIPS
from bench.robustness import TRANSFORMS, make_version
from peoplepath.engine.pipeline import EngineSettings, Pipeline
from peoplepath.metrics import persons_to_mot, score

FLOOR, TARGET = 70.0, 90.0


def _mot(pipeline: Pipeline, video: Path) -> tuple[np.ndarray, int, int]:
    result = pipeline.run(video)
    meta = result.video_metadata()
    rows = persons_to_mot(result.persons_records(), meta["FrameRate"], meta["FrameWidth"], meta["FrameHeight"])
    return rows, meta["FrameWidth"], result.info.frame_count


@pytest.fixture(scope="module")
def mirrored_back_hota(shared_data: Path) -> float:
    video, gt_dir = CLIPS["TUD-Stadtmitte"]
    mirrored, _ = make_version("TUD-Stadtmitte", video, gt_dir, TRANSFORMS["mirror"])
    pipeline = Pipeline(EngineSettings(faces=False))
    original, width, frames = _mot(pipeline, video)
    flipped, flipped_width, flipped_frames = _mot(pipeline, mirrored)
    assert (flipped_width, flipped_frames) == (width, frames) and len(original) > 500
    back = flipped.copy()
    back[:, 2] = width - flipped[:, 2] - flipped[:, 4]
    hota = score(back, original, num_frames=frames)["HOTA"]
    print(f"mirrored-back against original: HOTA {hota:.2f}")
    return hota


@pytest.mark.slow
def test_mirrored_tracks_stay_above_the_floor(mirrored_back_hota: float) -> None:
    assert mirrored_back_hota >= FLOOR


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured 74.1 (issue 9): mirror equivariance not reached yet")
def test_mirrored_tracks_mirrored_back_match_the_original(mirrored_back_hota: float) -> None:
    assert mirrored_back_hota >= TARGET
