"""Whatever the tuning, the engine may not depend on which way the scene faces: tracks of
the mirrored TUD-Stadtmitte clip, mirrored back, must match the tracks of the original
(HOTA of one against the other, the original's tracks as ground truth, at least 90)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.bench_engine import CLIPS
from bench.robustness import TRANSFORMS, make_version
from peoplepath.engine.pipeline import EngineSettings, Pipeline
from peoplepath.metrics import persons_to_mot, score


def _mot(pipeline: Pipeline, video: Path) -> tuple[np.ndarray, int, int]:
    result = pipeline.run(video)
    meta = result.video_metadata()
    rows = persons_to_mot(result.persons_records(), meta["FrameRate"], meta["FrameWidth"], meta["FrameHeight"])
    return rows, meta["FrameWidth"], result.info.frame_count


@pytest.mark.slow
def test_mirrored_tracks_mirrored_back_match_the_original(shared_data: Path) -> None:
    video, gt_dir = CLIPS["TUD-Stadtmitte"]
    mirrored, _ = make_version("TUD-Stadtmitte", video, gt_dir, TRANSFORMS["mirror"])
    pipeline = Pipeline(EngineSettings(faces=False))
    original, width, frames = _mot(pipeline, video)
    flipped, flipped_width, flipped_frames = _mot(pipeline, mirrored)
    assert (flipped_width, flipped_frames) == (width, frames)
    back = flipped.copy()
    back[:, 2] = width - flipped[:, 2] - flipped[:, 4]
    hota = score(back, original, num_frames=frames)["HOTA"]
    print(f"mirrored-back against original: HOTA {hota:.2f}")
    assert len(original) > 500 and hota >= 90.0
