"""Tracking quality on the MOT test clips: ByteTracker vs. two baselines, same detections.

Run: ``python bench/bench_tracking_quality.py``. Prints HOTA / MOTA /
IDF1 / IDSW per clip for (a) no tracking (each detection its own id), (b) a plain greedy
IoU tracker, (c) ByteTracker, (d) ByteTracker + offline `postprocess`, and the trackers'
ms per frame with the ratio to the IoU baseline measured in the same run.

Importable: `CLIPS`, `load_detections`, `run_online`, `score_clip` let the full engine's
output (detector + tracker) go through the same scoring: build
``{track_id: [(frame_index, xyxy, score), ...]}`` and call ``score_clip(name, tracks)``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from peoplepath import metrics  # noqa: E402
from peoplepath.engine.tracker import ByteTracker, iou_matrix, postprocess  # noqa: E402
from peoplepath.engine.types import Detections, TrackedBox  # noqa: E402

DATA = Path(os.environ.get("PEOPLEPATH_SHARED_DATA") or REPO.parent / "shared" / "data")
Tracks = dict[int, list[tuple[int, np.ndarray, float]]]


@dataclass(frozen=True)
class Clip:
    """A test clip: its folder under shared/data, frame rate and frame count (seqinfo.ini)."""

    folder: Path
    fps: float
    num_frames: int

    @property
    def frcnn(self) -> Path:
        return self.folder / "det" / "det_frcnn_from_sort_repo.txt"

    @property
    def gt(self) -> Path:
        return self.folder / "gt" / "gt.txt"


CLIPS = {
    "PETS09-S2L1": Clip(DATA / "pets09_s2l1", 7.0, 795),
    "TUD-Stadtmitte": Clip(DATA / "tud_stadtmitte", 25.0, 179),
}


def load_detections(path: Path, num_frames: int) -> list[Detections]:
    """MOT detection file (column 7 = score) -> one Detections per 0-based frame index."""
    rows = metrics.read_mot(path)
    out = []
    for f in range(1, num_frames + 1):
        r = rows[rows[:, 0] == f]
        out.append(Detections(np.c_[r[:, 2:4], r[:, 2:4] + r[:, 4:6]], r[:, 6]))
    return out


def run_online(update: Callable[[Detections], Iterable[TrackedBox]], frames: list[Detections]) -> tuple[Tracks, float]:
    """Feed frames to an online tracker's `update`; return its tracks and ms per frame."""
    tracks: Tracks = {}
    start = time.perf_counter()
    for index, dets in enumerate(frames):
        for box in update(dets):
            tracks.setdefault(box.track_id, []).append((index, box.xyxy, box.score))
    return tracks, (time.perf_counter() - start) * 1000.0 / max(len(frames), 1)


def no_tracking(frames: list[Detections]) -> Tracks:
    """Baseline: every detection is its own one-frame track."""
    tracks: Tracks = {}
    for index, dets in enumerate(frames):
        for box, s in zip(dets.xyxy, dets.scores):
            tracks[len(tracks) + 1] = [(index, box, float(s))]
    return tracks


class IouTracker:
    """Baseline: greedy IoU matching to the previous frame's boxes, no motion model."""

    def __init__(self, min_iou: float = 0.3, min_score: float = 0.0) -> None:
        self.min_iou, self.min_score = min_iou, min_score
        self.boxes, self.ids = np.zeros((0, 4)), np.zeros(0, int)
        self.next_id = 1

    def update(self, dets: Detections) -> list[TrackedBox]:
        dets = dets[dets.scores >= self.min_score]
        iou = iou_matrix(self.boxes, dets.xyxy)
        ids = np.zeros(len(dets), int)
        while iou.size and iou.max() >= self.min_iou:
            r, c = np.unravel_index(np.argmax(iou), iou.shape)
            ids[c] = self.ids[r]
            iou[r, :], iou[:, c] = -1, -1
        for c in np.flatnonzero(ids == 0):
            ids[c], self.next_id = self.next_id, self.next_id + 1
        self.boxes, self.ids = dets.xyxy.astype(np.float64), ids
        return [TrackedBox(int(i), b, float(s)) for i, b, s in zip(ids, dets.xyxy, dets.scores)]


def score_clip(name: str, tracks: Tracks) -> dict[str, Any]:
    """Score tracks (0-based frame indexes) against the clip's ground truth."""
    clip = CLIPS[name]
    return metrics.score(metrics.tracks_to_mot(tracks), clip.gt, num_frames=clip.num_frames)


def evaluate(tracker_kwargs: dict[str, Any] | None = None, post_kwargs: dict[str, Any] | None = None,
             ) -> dict[str, dict[str, dict[str, Any]]]:
    """All methods on all clips with the FRCNN detections: {clip: {method: scores + ms/frame}}."""
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name, clip in CLIPS.items():
        frames = load_detections(clip.frcnn, clip.num_frames)
        iou_tracks, iou_ms = run_online(IouTracker().update, frames)
        byte = ByteTracker(frame_rate=clip.fps, **(tracker_kwargs or {}))
        byte_tracks, byte_ms = run_online(byte.update, frames)
        results[name] = {
            "no tracking": score_clip(name, no_tracking(frames)) | {"ms": 0.0},
            "IoU tracker": score_clip(name, iou_tracks) | {"ms": iou_ms},
            "ByteTracker": score_clip(name, byte_tracks) | {"ms": byte_ms},
            "ByteTracker+post": score_clip(name, postprocess(byte_tracks, **(post_kwargs or {}))) | {"ms": byte_ms},
        }
    return results


def main() -> None:
    from tabulate import tabulate

    results = evaluate()
    rows = []
    for name, methods in results.items():
        base_ms = methods["IoU tracker"]["ms"]
        for method, r in methods.items():
            ratio = f"{r['ms'] / base_ms:.2f}" if r["ms"] else "-"
            rows.append([name, method, f"{r['HOTA']:.2f}", f"{r['MOTA']:.2f}", f"{r['IDF1']:.2f}", r["IDSW"],
                         r["FP"], r["FN"], r["predicted_ids"], r["true_ids"], f"{r['ms']:.3f}", ratio])
    print("Public Faster R-CNN detections, TrackEval (IoU 0.5). "
          "ms = tracker ms/frame; x IoU = ratio to the IoU tracker's")
    print(tabulate(rows, headers=["clip", "method", "HOTA", "MOTA", "IDF1", "IDSW", "FP", "FN", "ids", "gt ids",
                                  "ms", "x IoU"]))


if __name__ == "__main__":
    main()
