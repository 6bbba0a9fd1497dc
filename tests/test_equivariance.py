"""Whatever the tuning, the engine may not depend on which way the scene faces: tracks of
the mirrored TUD-Stadtmitte clip, mirrored back, must match the tracks of the original
(HOTA of one against the other, the original's tracks as ground truth, at least 90).

Measured (issue 9): 78.9 (PETS09-S2L1: 85.3). The target is not met yet, so it is held
as a strict xfail (it fails the day the engine reaches it, so the marker is then removed),
with a floor that must hold now. Where it is lost (TUD-Stadtmitte): the detector does not
see a mirrored frame mirrored (its stride-2 sampling grid is not symmetric on an even
width; its pads are: mirrored boxes overlap the originals by IoU 0.92 on average, 3.9%
unmatched), and the mirrored clip is a re-encoded copy whose colour histograms differ from
the original's (Hellinger 0.23 on average), which changes appearance-gate decisions. Fed
the exactly mirrored boxes, the tracker gives 90.7, and 100 with the gate off. Rounding the
histogram crops, and histograms that set grey pixels apart, did not help (78.9, 65.3)."""

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
@pytest.mark.xfail(strict=True, reason="measured 78.9 (issue 9): mirror equivariance not reached yet")
def test_mirrored_tracks_mirrored_back_match_the_original(mirrored_back_hota: float) -> None:
    assert mirrored_back_hota >= TARGET
