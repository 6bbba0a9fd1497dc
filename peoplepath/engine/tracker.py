"""ByteTrack-style multi-object tracking of person boxes, and offline clean-up of tracks.

The algorithm follows ByteTrack (Zhang et al. 2022, Apache-2.0 reference code), written
here without its dependencies: a constant-velocity Kalman filter on (cx, cy, aspect, h);
each frame, confirmed and lost tracks are matched to high-score detections by IoU
(Hungarian, scipy), the still unmatched tracked ones to low-score detections, tentative
tracks to the high-score leftovers; remaining high detections above a new-track threshold
start tentative tracks, which are confirmed after `min_hits` consecutive matches. A lost
track is kept for `lost_track_seconds` and can be re-found.

Optional appearance gating (beyond ByteTrack): given a colour histogram per detection
(`appearance.histograms`), each track keeps a running average of its own, and where a
match is ambiguous (a track overlaps several detections, or a detection several tracks)
a pair whose histograms differ by more than `appearance_gate` (Hellinger distance, 0..1)
is not matched. Unambiguous pairs are never gated: small, dim people's histograms are
noisy, and gating them breaks tracks for nothing. On the shared clips (NanoDet boxes) a
gate of 0.4 cut TUD-Stadtmitte's identity switches from 9 to 4 (IDF1 66.4 -> 81.0) and
PETS09-S2L1's from 15 to 13 (IDF1 80.1 -> 81.2); gating every pair instead cost PETS 8
IDF1 points.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .types import Detections, TrackedBox

# Minimum IoU for the second (low-score) and the tentative-track associations, as in
# ByteTrack's reference settings (distance thresholds 0.5 and 0.7).
LOW_MATCH_IOU = 0.5
TENTATIVE_MATCH_IOU = 0.3
_STD_POS, _STD_VEL = 1.0 / 20, 1.0 / 160  # Kalman noise, relative to box height
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every (x1, y1, x2, y2) box in `a` with every box in `b`: shape (len(a), len(b))."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _to_xyah(xyxy: np.ndarray) -> np.ndarray:
    w, h = xyxy[2] - xyxy[0], max(xyxy[3] - xyxy[1], 1e-6)
    return np.array([(xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2, w / h, h])


def _match(iou: np.ndarray, min_iou: float) -> tuple[list[tuple[int, int]], set[int], set[int]]:
    """Hungarian matching on IoU; pairs below `min_iou` are not matches."""
    rows, cols = linear_sum_assignment(-iou) if iou.size else (np.zeros(0, int), np.zeros(0, int))
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]
    return pairs, set(range(iou.shape[0])) - {r for r, _ in pairs}, set(range(iou.shape[1])) - {c for _, c in pairs}


class _Track:
    """One track's Kalman state (cx, cy, aspect, h and their velocities) and bookkeeping."""

    def __init__(self, xyxy: np.ndarray, score: float, frame: int) -> None:
        z = _to_xyah(xyxy)
        h = z[3]
        self.mean = np.r_[z, np.zeros(4)]
        std = np.array([2 * _STD_POS * h, 2 * _STD_POS * h, 1e-2, 2 * _STD_POS * h,
                        10 * _STD_VEL * h, 10 * _STD_VEL * h, 1e-5, 10 * _STD_VEL * h])
        self.cov = np.diag(std**2)
        self.score, self.hits, self.last_frame = score, 1, frame
        self.track_id = 0  # given at confirmation
        self.lost = False
        self.feature: np.ndarray | None = None

    def blend_feature(self, feature: np.ndarray | None, momentum: float) -> None:
        """Running average of the track's appearance histogram."""
        if feature is not None:
            old = feature if self.feature is None else self.feature
            self.feature = momentum * old + (1 - momentum) * feature

    def predict(self) -> None:
        if self.lost:
            self.mean[7] = 0.0  # as ByteTrack: a lost box stops growing or shrinking
        h = self.mean[3]
        q = np.array([_STD_POS * h, _STD_POS * h, 1e-2, _STD_POS * h, _STD_VEL * h, _STD_VEL * h, 1e-5, _STD_VEL * h])
        self.mean = _F @ self.mean
        self.cov = _F @ self.cov @ _F.T + np.diag(q**2)

    def update(self, xyxy: np.ndarray, score: float, frame: int) -> None:
        h = self.mean[3]
        r = np.diag(np.array([_STD_POS * h, _STD_POS * h, 1e-1, _STD_POS * h]) ** 2)
        s = _H @ self.cov @ _H.T + r
        gain = np.linalg.solve(s, _H @ self.cov).T
        self.mean = self.mean + gain @ (_to_xyah(xyxy) - _H @ self.mean)
        self.cov = self.cov - gain @ s @ gain.T
        self.hits = self.hits + 1 if frame == self.last_frame + 1 else 1
        self.score, self.last_frame, self.lost = score, frame, False

    @property
    def xyxy(self) -> np.ndarray:
        cx, cy, a, h = self.mean[:4]
        w = a * h
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _boxes(tracks: list[_Track]) -> np.ndarray:
    return np.array([t.xyxy for t in tracks]).reshape(-1, 4)


def buffered(xyxy: np.ndarray, margin: np.ndarray | float) -> np.ndarray:
    """Boxes grown on every side by `margin` (per box or one value) times their height:
    the buffered IoU of C-BIoU (Yang et al. 2023), so that boxes that moved further than
    the frame rate lets them overlap still match."""
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    pad = (xyxy[:, 3] - xyxy[:, 1]) * np.asarray(margin, np.float64).reshape(-1)
    return xyxy + np.stack([-pad, -pad, pad, pad], axis=1)


def hellinger(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hellinger distance (0 same .. 1 disjoint) between every L1-normalised histogram row
    of `a` and every row of `b`: shape (len(a), len(b))."""
    bc = np.sqrt(np.clip(a, 0, None)) @ np.sqrt(np.clip(b, 0, None)).T
    return np.sqrt(np.clip(1.0 - bc, 0.0, None))


def confirm_hits(min_hits: int, confirm_seconds: float, frame_rate: float) -> int:
    """Hits that confirm a new track: `min_hits`, or fewer where fewer frames fall within
    `confirm_seconds` of the first (frames 1/frame_rate apart), one at least."""
    return max(1, min(min_hits, 1 + int(confirm_seconds * frame_rate + 1e-9)))


class ByteTracker:
    """Online ByteTrack. One instance per video; call `update` once per analysed frame.

    `frame_rate` is the rate of the frames given to `update` (after any frame skipping);
    it turns `lost_track_seconds` into frames. Defaults were tuned on the public Faster
    R-CNN detections of PETS09-S2L1 and TUD-Stadtmitte together; other detectors give
    scores in other ranges and need their own thresholds.
    """

    def __init__(
        self,
        *,
        high_threshold: float = 0.8,
        low_threshold: float = 0.1,
        new_track_threshold: float = 0.9,
        match_iou: float = 0.1,
        lost_track_seconds: float = 3.0,
        min_hits: int = 3,
        frame_rate: float = 30.0,
        appearance_gate: float = 1.0,
        appearance_momentum: float = 0.9,
        motion_buffer: float = 0.0,
    ) -> None:
        checks = {
            "low_threshold": (low_threshold, 0.0 <= low_threshold <= 1.0, "0 <= low_threshold <= 1"),
            "high_threshold": (high_threshold, low_threshold <= high_threshold <= 1.0,
                               "low_threshold <= high_threshold <= 1"),
            "new_track_threshold": (new_track_threshold, high_threshold <= new_track_threshold <= 1.0,
                                    "high_threshold <= new_track_threshold <= 1"),
            "match_iou": (match_iou, 0.0 < match_iou <= 1.0, "0 < match_iou <= 1"),
            "lost_track_seconds": (lost_track_seconds, 0.0 <= lost_track_seconds <= 3600.0,
                                   "0 <= lost_track_seconds <= 3600"),
            "min_hits": (min_hits, isinstance(min_hits, int) and not isinstance(min_hits, bool)
                         and 1 <= min_hits <= 1000, "integer, 1 <= min_hits <= 1000"),
            "frame_rate": (frame_rate, 0.0 < frame_rate <= 1000.0, "0 < frame_rate <= 1000"),
            "appearance_gate": (appearance_gate, 0.0 < appearance_gate <= 1.0, "0 < appearance_gate <= 1 (1: off)"),
            "appearance_momentum": (appearance_momentum, 0.0 <= appearance_momentum < 1.0,
                                    "0 <= appearance_momentum < 1"),
            "motion_buffer": (motion_buffer, 0.0 <= motion_buffer <= 10.0, "0 <= motion_buffer <= 10"),
        }
        bad = [f"{name}={value!r} (valid: {rule})" for name, (value, ok, rule) in checks.items() if not ok]
        if bad:
            raise ValueError("invalid tracker settings: " + "; ".join(bad))
        # Scores arrive as float32: compare in float32 so that a score of 0.9 passes a 0.9 threshold.
        f32 = lambda v: float(np.float32(v))  # noqa: E731
        self.high_threshold, self.low_threshold = f32(high_threshold), f32(low_threshold)
        self.new_track_threshold, self.match_iou = f32(new_track_threshold), float(match_iou)
        self.min_hits = min_hits
        self.appearance_gate, self.appearance_momentum = float(appearance_gate), float(appearance_momentum)
        self.max_lost_frames = int(round(lost_track_seconds * frame_rate))
        # Box heights a person may move in one frame; a track unseen for k frames, k times
        # that (up to a second's worth).
        self.buffer_per_frame = float(motion_buffer) / frame_rate
        self._buffer_cap = max(1, int(round(frame_rate)))
        self._tracked: list[_Track] = []  # confirmed, matched in the previous frame
        self._lost: list[_Track] = []  # confirmed, unmatched for a while
        self._tentative: list[_Track] = []
        self._frame = 0
        self._next_id = 1

    def update(self, detections: Detections, features: np.ndarray | None = None, *,
               new_track_threshold: float | None = None) -> list[TrackedBox]:
        """Advance one frame; return the confirmed tracks matched in it (Kalman-smoothed boxes).

        `features`: optional (N, D) L1-normalised appearance histograms, one row per detection.
        `new_track_threshold`: this frame's score to start a track (high_threshold..1), in
        place of the tracker's own.
        """
        if new_track_threshold is not None and not self.high_threshold <= np.float32(new_track_threshold) <= 1.0:
            raise ValueError(f"new_track_threshold must be in [high_threshold, 1]; got {new_track_threshold}")
        start_score = self.new_track_threshold if new_track_threshold is None else float(np.float32(new_track_threshold))
        if features is not None:
            features = np.asarray(features, np.float64)
            if features.ndim != 2 or len(features) != len(detections):
                raise ValueError(f"features must be ({len(detections)}, D); got shape {features.shape}")
        self._frame += 1
        frame = self._frame
        boxes = detections.xyxy.astype(np.float64)
        scores = detections.scores.astype(np.float64)
        usable = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        scores = np.where(usable & np.isfinite(scores), scores, -1.0)  # empty or NaN boxes join nothing
        high = np.flatnonzero(scores >= self.high_threshold)
        low = np.flatnonzero((scores >= self.low_threshold) & (scores < self.high_threshold))
        for t in self._tracked + self._lost + self._tentative:
            t.predict()

        # 1) confirmed tracks (tracked and lost) with high-score detections
        pool = self._tracked + self._lost
        pairs, left_tracks, left_high = _match(self._affinity(pool, boxes, high, features), self.match_iou)
        for r, c in pairs:
            pool[r].update(boxes[high[c]], scores[high[c]], frame)
            pool[r].blend_feature(_row(features, high[c]), self.appearance_momentum)
        # 2) tracks seen last frame but unmatched, with low-score detections
        rest = [pool[i] for i in sorted(left_tracks) if not pool[i].lost]
        pairs_low, _, _ = _match(self._affinity(rest, boxes, low, features), LOW_MATCH_IOU)
        for r, c in pairs_low:
            rest[r].update(boxes[low[c]], scores[low[c]], frame)
        # 3) tentative tracks with the high-score leftovers; unmatched tentative tracks die
        left_high_idx = high[sorted(left_high)]
        pairs_t, _, left_new = _match(self._iou(self._tentative, boxes[left_high_idx]), TENTATIVE_MATCH_IOU)
        for r, c in pairs_t:
            self._tentative[r].update(boxes[left_high_idx[c]], scores[left_high_idx[c]], frame)
            self._tentative[r].blend_feature(_row(features, left_high_idx[c]), self.appearance_momentum)
        confirmed = [t for t in pool if t.last_frame >= frame - self.max_lost_frames]
        tentative = []
        for t in (self._tentative[r] for r, _ in pairs_t):
            if t.hits >= self.min_hits:
                self._confirm(t)
                confirmed.append(t)
            else:
                tentative.append(t)
        # 4) new tracks from high detections nobody took
        for c in sorted(left_new):
            i = left_high_idx[c]
            if scores[i] >= start_score:
                t = _Track(boxes[i], scores[i], frame)
                t.blend_feature(_row(features, i), self.appearance_momentum)
                if self.min_hits <= 1 or frame == 1:  # ByteTrack confirms the first frame at once
                    self._confirm(t)
                    confirmed.append(t)
                else:
                    tentative.append(t)
        for t in confirmed:
            t.lost = t.last_frame != frame
        self._tracked = [t for t in confirmed if not t.lost]
        self._lost = [t for t in confirmed if t.lost]
        self._tentative = tentative
        return [TrackedBox(t.track_id, t.xyxy.astype(np.float32), float(t.score)) for t in self._tracked]

    def _affinity(
        self, tracks: list[_Track], boxes: np.ndarray, idx: np.ndarray, features: np.ndarray | None
    ) -> np.ndarray:
        """IoU of tracks with detections `idx`, zeroed where an ambiguous pair's appearance differs."""
        iou = self._iou(tracks, boxes[idx])
        if features is None or self.appearance_gate >= 1.0 or not iou.size:
            return iou
        known = np.array([t.feature is not None for t in tracks])
        if not known.any():
            return iou
        dist = np.zeros_like(iou)
        dist[known] = hellinger(np.stack([t.feature for t in tracks if t.feature is not None]), features[idx])
        candidate = iou >= self.match_iou
        ambiguous = (candidate.sum(axis=1, keepdims=True) > 1) | (candidate.sum(axis=0, keepdims=True) > 1)
        return np.where(ambiguous & (dist > self.appearance_gate), 0.0, iou)

    def _iou(self, tracks: list[_Track], boxes: np.ndarray) -> np.ndarray:
        """IoU of the tracks' predicted boxes with `boxes`, both buffered for motion."""
        if not self.buffer_per_frame:
            return iou_matrix(_boxes(tracks), boxes)
        unseen = np.array([min(self._frame - t.last_frame, self._buffer_cap) for t in tracks], np.float64)
        return iou_matrix(buffered(_boxes(tracks), self.buffer_per_frame * unseen),
                          buffered(boxes, self.buffer_per_frame))

    def _confirm(self, track: _Track) -> None:
        track.track_id = self._next_id
        self._next_id += 1


def _row(features: np.ndarray | None, i: int) -> np.ndarray | None:
    return None if features is None else features[i]


TrackHistory = list[tuple[int, np.ndarray, float]]


def fill_gaps(
    track: np.ndarray, frame: np.ndarray, xyxy: np.ndarray, score: np.ndarray, *,
    min_track_frames: int = 3, max_gap_frames: int = 20,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`postprocess` on compact columns (one row per detection: track id, frame index,
    xyxy, score). Returns (track, frame, xyxy float32, score float32, source) sorted by
    (track, frame), where `source` is each row's index in the input, or -1 for a row
    made by interpolation."""
    if min_track_frames < 1 or max_gap_frames < 0:
        raise ValueError(
            f"need min_track_frames >= 1 and max_gap_frames >= 0; got {min_track_frames}, {max_gap_frames}"
        )
    track, frame = np.asarray(track, np.int64), np.asarray(frame, np.int64)
    xyxy, score = np.asarray(xyxy).reshape(-1, 4), np.asarray(score)
    ids, inverse, counts = np.unique(track, return_inverse=True, return_counts=True)
    source = np.flatnonzero(counts[inverse] >= min_track_frames)
    source = source[np.lexsort((frame[source], track[source]))]
    t, f = track[source], frame[source]
    gap = np.diff(f)
    pairs = np.flatnonzero((t[1:] == t[:-1]) & (gap > 1) & (gap <= max_gap_frames + 1))
    missing = gap[pairs] - 1
    before = np.repeat(pairs, missing)  # each new row: the row before its gap ...
    step = np.arange(len(before)) - np.repeat(np.cumsum(missing) - missing, missing) + 1  # ... and its place in it
    w = (step / gap[before])[:, None]
    a, b = xyxy[source[before]].astype(np.float64), xyxy[source[before + 1]].astype(np.float64)
    new_score = np.minimum(score[source[before]], score[source[before + 1]])
    out_track = np.concatenate([t, t[before]])
    out_frame = np.concatenate([f, f[before] + step])
    out_xyxy = np.concatenate([xyxy[source].astype(np.float32), ((1 - w) * a + w * b).astype(np.float32)])
    out_score = np.concatenate([score[source], new_score]).astype(np.float32)
    out_source = np.concatenate([source, np.full(len(before), -1)])
    order = np.lexsort((out_frame, out_track))
    return out_track[order], out_frame[order], out_xyxy[order], out_score[order], out_source[order]


def postprocess(
    tracks: dict[int, TrackHistory], *, min_track_frames: int = 3, max_gap_frames: int = 20
) -> dict[int, TrackHistory]:
    """Offline clean-up of a whole video's tracks (track_id -> [(frame_index, xyxy, score)]).

    Drops tracks seen in fewer than `min_track_frames` frames, then fills each gap of up to
    `max_gap_frames` missing frames by linear interpolation of the boxes; an interpolated
    entry's score is the lower of its two neighbours' scores. Entries come back sorted by frame.
    (`fill_gaps` does the same on compact columns.)

    Measured with the public Faster R-CNN detections (PETS09-S2L1 at 7 fps, TUD-Stadtmitte
    at 25 fps): gaps of 15-20 frames are best on both (HOTA +2.3 / +1.2); 30-50 interpolate
    through real occlusions wrongly on TUD. Dropping short tracks is nearly neutral there
    (one fewer id switch), since `min_hits` already filters; it matters for noisier detectors.
    """
    entries = [(tid, e) for tid, history in tracks.items() for e in history]
    track = np.array([tid for tid, _ in entries], np.int64)
    frame = np.array([e[0] for _, e in entries], np.int64)
    xyxy = np.array([np.asarray(e[1], np.float64) for _, e in entries]).reshape(-1, 4)
    score = np.array([e[2] for _, e in entries], np.float64)
    t, f, boxes, scores, source = fill_gaps(
        track, frame, xyxy, score, min_track_frames=min_track_frames, max_gap_frames=max_gap_frames
    )
    out: dict[int, TrackHistory] = {}
    for i in range(len(t)):
        entry = entries[source[i]][1] if source[i] >= 0 else (int(f[i]), boxes[i], float(scores[i]))
        out.setdefault(int(t[i]), []).append(entry)
    return out
