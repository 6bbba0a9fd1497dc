"""Offline step: extending each track to where its person first and last appears.

The tracker starts a track only at a confident box (`track_new_threshold`) confirmed over
`track_min_hits` frames, and loses it when the detections of its person weaken, so a
track starts late and ends early: at the first frame of TUD-Stadtmitte 7 people are in
view and 3 are tracked. A job sees its whole chunk, so each track is followed backward
from its first box and forward from its last over the detections no track took (down to
the detector's threshold): each step predicts the box at constant velocity and takes the
free detection that overlaps the prediction most, while one overlaps it enough.
"""

from __future__ import annotations

import numpy as np

from .offline import FIT_FRAMES
from .tracker import iou_matrix

# A free detection continues a track when it overlaps the predicted box at least this much.
MIN_IOU = 0.5


def extend_tracks(
    track: np.ndarray,
    frame: np.ndarray,
    xyxy: np.ndarray,
    cand_frame: np.ndarray,
    cand_xyxy: np.ndarray,
    *,
    max_frames: int,
    min_iou: float = MIN_IOU,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows to add, as (track, frame, candidate index): for every track (rows of
    `track` id, `frame` index and `xyxy` box), up to `max_frames` frames before its first
    row and after its last, each a free detection (`cand_frame` index and `cand_xyxy` box) that
    continues it. A detection joins one track at most; longer tracks choose first."""
    if max_frames < 0 or not 0 < min_iou <= 1:
        raise ValueError(f"need max_frames >= 0 and 0 < min_iou <= 1; got {max_frames}, {min_iou}")
    added: list[tuple[int, int, int]] = []
    if not max_frames or not len(track) or not len(cand_frame):
        return _columns(added)
    order = np.argsort(cand_frame, kind="stable")
    sorted_frames = cand_frame[order]
    free = np.ones(len(cand_frame), bool)
    ids, inverse, counts = np.unique(track, return_inverse=True, return_counts=True)
    for k in np.argsort(-counts, kind="stable"):
        rows = np.flatnonzero(inverse == k)
        rows = rows[np.argsort(frame[rows], kind="stable")]
        for direction, end in ((-1, rows[:FIT_FRAMES]), (1, rows[-FIT_FRAMES:][::-1])):
            box, step = _start(frame[end], xyxy[end], direction)
            at = int(frame[end[0]])
            for _ in range(max_frames):
                at += direction
                box = box + step
                lo, hi = np.searchsorted(sorted_frames, [at, at + 1])
                here = order[lo:hi][free[order[lo:hi]]]
                if not len(here):
                    break
                overlap = iou_matrix(box, cand_xyxy[here])[0]
                best = int(np.argmax(overlap))
                if overlap[best] < min_iou:
                    break
                chosen = int(here[best])
                free[chosen] = False
                added.append((int(ids[k]), at, chosen))
                box = cand_xyxy[chosen].astype(np.float64)
    return _columns(added)


def _start(frames: np.ndarray, boxes: np.ndarray, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """The end box of a run (its first entry) and its per-frame change going `direction`,
    fitted over the run (entries ordered from the end inward)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    frames = np.asarray(frames, np.float64)
    if frames.max() == frames.min():
        return boxes[0], np.zeros(4)
    slope = np.polyfit(frames, boxes, 1)[0]  # per frame, forward in time
    return boxes[0], slope * direction


def _columns(added: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.array(added, np.int64).reshape(-1, 3)
    return rows[:, 0], rows[:, 1], rows[:, 2]
