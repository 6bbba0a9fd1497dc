"""Where tracking went wrong: results compared with MOTChallenge ground truth, frame by
frame, as a tidy table of events (true, false and missed boxes, identity switches).

The matching is CLEAR MOT's exactly as TrackEval's ``CLEAR`` metric computes it, so the
event counts equal ``metrics.score``'s TP, FP, FN and IDSW: per frame, boxes pair up by
the Hungarian algorithm on IoU (pairs below 0.5 never match), a pair that continues the
previous frame's match wins over a better-overlapping one, and a ground-truth person
matched to another predicted id than the one it was last matched to is an identity
switch. Ground truth is prepared as ``metrics`` prepares MOT15 data: ``consider == 0``
rows are dropped (tracker boxes on them stay and count as false boxes; events flag
them with ``in_ignore``).

Frames here are 0-based video frame indexes: MOT frame n is frame n - 1.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from . import contract, metrics, results

# After `metrics`, which imports trackeval with its import-time notice silenced.
from trackeval.datasets._base_dataset import _BaseDataset  # noqa: E402,I001

TP, FP, FN, IDSW = "TP", "FP", "FN", "IDSW"
KINDS = (TP, FP, FN, IDSW)
ERRORS = (FN, FP, IDSW)
EVENT_COLUMNS = ["frame", "time_ms", "kind", "gt_id", "index", "prev_index", "iou", "in_ignore",
                 "x1", "y1", "x2", "y2", "gt_x1", "gt_y1", "gt_x2", "gt_y2"]
_EPS = np.finfo("float").eps


def mot_rows(table: pd.DataFrame, fps: float) -> np.ndarray:
    """MOT rows (frame = ms_to_frame(Timestamp) + 1, id = Index + 1, pixel left, top,
    width, height) of the detections table's person boxes: the same rows
    `metrics.persons_to_mot` makes from the `Persons` the table was built from."""
    if fps <= 0:
        raise ValueError(f"fps must be > 0; got {fps}")
    if "x1" not in table:
        raise ValueError("The table has no pixel boxes: the frame size is unknown")
    boxed = table[table["has_box"]]
    x1, y1 = boxed["x1"].to_numpy(np.float64), boxed["y1"].to_numpy(np.float64)
    n = len(boxed)
    return np.column_stack([
        results.ms_to_frames(boxed["timestamp_ms"].to_numpy(), fps) + 1, boxed["index"].to_numpy() + 1,
        x1, y1, boxed["x2"].to_numpy(np.float64) - x1, boxed["y2"].to_numpy(np.float64) - y1,
        np.ones(n), np.full(n, -1.0), np.full(n, -1.0), np.full(n, -1.0),
    ]).astype(np.float64).reshape(n, len(metrics.MOT_COLUMNS))


def _checked(rows: np.ndarray, what: str, min_cols: int) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    if rows.size == 0:
        return np.zeros((0, min_cols), np.float64)
    if rows.ndim != 2 or rows.shape[1] < min_cols:
        raise ValueError(f"{what} must be an (N, >={min_cols}) MOT array; got shape {rows.shape}")
    if np.any(rows[:, 0] < 1) or np.any(rows[:, 0] != np.round(rows[:, 0])):
        raise ValueError(f"{what}: frame numbers must be integers starting at 1")
    return rows


def _by_frame(rows: np.ndarray) -> dict[int, np.ndarray]:
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    frames, starts = np.unique(rows[:, 0].astype(int), return_index=True)
    return dict(zip(frames.tolist(), np.split(rows, starts[1:])))


def _box_ious(a: np.ndarray, b: np.ndarray, box_format: str) -> np.ndarray:
    """TrackEval's own IoU (the one `metrics.score` uses), so matches tie-break alike."""
    return _BaseDataset._calculate_box_ious(a, b, box_format=box_format)


def _xyxy(rows: np.ndarray) -> np.ndarray:
    return np.column_stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]])


def compare(
    tracker_rows: np.ndarray,
    gt_rows: np.ndarray,
    *,
    fps: float | None = None,
    frame_times_ms: Sequence[int] | np.ndarray | None = None,
    threshold: float = metrics.IOU_THRESHOLD,
) -> pd.DataFrame:
    """The events of every frame, sorted by frame then kind (columns `EVENT_COLUMNS`).

    `tracker_rows`: MOT rows (from `mot_rows` or `metrics.persons_to_mot`; person Index
    = id - 1); `gt_rows`: MOT ground truth (`metrics.read_mot`, 7+ columns). One row per
    TP (a matched box), IDSW (a matched box whose person differs from the one that last
    tracked this ground truth: `prev_index`; it is a true box too), FP (a box matching no
    ground truth) and FN (a ground-truth box no box matched). `iou` is the match's IoU,
    or for FP / FN the best IoU with any box of the other side on that frame (0 if none):
    just under 0.5 means a loose box, 0 a person or box nothing else was near. Boxes are
    pixels (x1, y1, x2, y2; gt_* for ground truth, NaN where absent). `time_ms` is
    `frame_times_ms[frame]` when given (the video's own timestamps), else from `fps`.
    """
    if frame_times_ms is None and not (fps and fps > 0):
        raise ValueError("Give fps or frame_times_ms to time the events")
    tracker = _checked(tracker_rows, "tracker rows", 6)
    gt_all = _checked(gt_rows, "ground truth", 7)
    ignore = _by_frame(gt_all[gt_all[:, 6] == 0])
    tr_frames, gt_frames = _by_frame(tracker), _by_frame(gt_all[gt_all[:, 6] != 0])
    prev_id: dict[int, int] = {}  # gt id -> tracker id it was last matched to (for IDSW)
    prev_step: dict[int, int] = {}  # gt id -> tracker id in the last frame matched (for matching)
    out: list[tuple] = []
    for mot_frame in sorted(set(tr_frames) | set(gt_frames)):
        tr = tr_frames.get(mot_frame, np.zeros((0, 6)))
        g = gt_frames.get(mot_frame, np.zeros((0, 7)))
        tr_ids, g_ids = tr[:, 1].astype(int), g[:, 1].astype(int)
        for ids, who in ((tr_ids, "tracker"), (g_ids, "ground truth")):
            if len(np.unique(ids)) != len(ids):
                raise ValueError(f"{who} gives the same id twice in frame {mot_frame}")
        ious = _box_ious(g[:, 2:6], tr[:, 2:6], box_format="xywh")
        rows, cols = np.zeros(0, int), np.zeros(0, int)
        if len(g) and len(tr):
            continuing = tr_ids[None, :] == np.array([prev_step.get(i, np.nan) for i in g_ids])[:, None]
            score = 1000.0 * continuing + ious
            score[ious < threshold - _EPS] = 0
            rows, cols = linear_sum_assignment(-score)
            keep = score[rows, cols] > 0 + _EPS
            rows, cols = rows[keep], cols[keep]
            prev_step = {}
        frame = mot_frame - 1
        tr_box, g_box = _xyxy(tr), _xyxy(g)
        for r, c in zip(rows, cols):
            gid, tid = int(g_ids[r]), int(tr_ids[c])
            before = prev_id.get(gid)
            kind = IDSW if before is not None and before != tid else TP
            prev = None if kind == TP else before - 1
            out.append((frame, kind, gid, tid - 1, prev, ious[r, c], False, *tr_box[c], *g_box[r]))
            prev_id[gid] = prev_step[gid] = tid
        best_g = ious.max(axis=1, initial=0.0) if len(tr) else np.zeros(len(g))
        best_t = ious.max(axis=0, initial=0.0) if len(g) else np.zeros(len(tr))
        in_ignore = _overlaps(tr, ignore.get(mot_frame), threshold)
        for r in np.setdiff1d(np.arange(len(g)), rows):
            out.append((frame, FN, int(g_ids[r]), None, None, best_g[r], False, *[np.nan] * 4, *g_box[r]))
        for c in np.setdiff1d(np.arange(len(tr)), cols):
            out.append((frame, FP, None, int(tr_ids[c]) - 1, None, best_t[c], bool(in_ignore[c]), *tr_box[c],
                        *[np.nan] * 4))
    columns = [c for c in EVENT_COLUMNS if c != "time_ms"]
    events = pd.DataFrame(out, columns=columns)
    for col in ("gt_id", "index", "prev_index"):
        events[col] = events[col].astype("Int64")
    events["iou"] = events["iou"].astype(np.float64)
    events["in_ignore"] = events["in_ignore"].astype(bool)
    events.insert(1, "time_ms", _times(events["frame"].to_numpy(np.int64), fps, frame_times_ms))
    events["kind"] = pd.Categorical(events["kind"], categories=KINDS)
    return events.sort_values(["frame", "kind"], kind="stable").reset_index(drop=True)


def _overlaps(tr: np.ndarray, ignore: np.ndarray | None, threshold: float) -> np.ndarray:
    """Which tracker boxes cover a `consider == 0` (ignore) region of the ground truth."""
    if ignore is None or not len(tr):
        return np.zeros(len(tr), bool)
    ious = _box_ious(tr[:, 2:6], ignore[:, 2:6], box_format="xywh")
    return ious.max(axis=1) >= threshold - _EPS


def _times(frames: np.ndarray, fps: float | None, frame_times_ms: Sequence[int] | np.ndarray | None) -> np.ndarray:
    times = np.asarray(frame_times_ms if frame_times_ms is not None else [], dtype=np.int64)
    out = np.empty(len(frames), np.int64)
    inside = frames < len(times)
    out[inside] = times[frames[inside]]
    if (~inside).any():
        if not (fps and fps > 0):
            raise ValueError(f"Frame {int(frames[~inside].max())} is past the video's {len(times)} frames "
                             "and fps is unknown")
        out[~inside] = [contract.frame_to_ms(int(f), fps) for f in frames[~inside]]
    return out


def totals(events: pd.DataFrame) -> dict[str, int]:
    """CLEAR counts as `metrics.score` gives them: TP (IDSW boxes included), FP, FN, IDSW."""
    counts = events["kind"].value_counts()
    n = {kind: int(counts.get(kind, 0)) for kind in KINDS}
    return {"TP": n[TP] + n[IDSW], "FP": n[FP], "FN": n[FN], "IDSW": n[IDSW]}


def error_frames(events: pd.DataFrame, kinds: Iterable[str] = ERRORS, *, starts_only: bool = False) -> np.ndarray:
    """Sorted unique frames holding at least one event of `kinds`. With `starts_only`,
    only where an error starts: a ground-truth person's first missed frame after being
    matched (or at its start), a person's first false box after a true one (or at its
    start), and every identity switch."""
    kinds = list(kinds)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"Unknown event kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    chosen = np.array(events["kind"].isin(kinds), dtype=bool)
    if starts_only:
        chosen &= _starts(events, FN, "gt_id") & _starts(events, FP, "index")
    return np.unique(events.loc[chosen, "frame"].to_numpy(np.int64))


def _starts(events: pd.DataFrame, kind: str, by: str) -> np.ndarray:
    """False for `kind` events that continue one of the same kind in the previous event
    of the same `by` id (events are in frame order); True elsewhere."""
    is_kind = (events["kind"] == kind).to_numpy()
    owned = events[events[by].notna()]
    same = owned[by].to_numpy()
    k = (owned["kind"] == kind).to_numpy()
    order = np.lexsort((owned["frame"].to_numpy(), same))
    cont = np.zeros(len(owned), bool)
    cont[order[1:]] = k[order[1:]] & k[order[:-1]] & (same[order[1:]] == same[order[:-1]])
    out = np.ones(len(events), bool)
    out[events.index.get_indexer(owned.index)] = ~cont
    return out | ~is_kind


def person_summary(events: pd.DataFrame) -> pd.DataFrame:
    """One row per predicted person (Index): boxes, true (matched) boxes, false boxes,
    identity switches onto it, precision (true / boxes), the ground-truth ids it covered
    (most matched first), first and last frame."""
    cols = ["index", "boxes", "true", "false", "switches", "precision", "gt_ids", "first_frame", "last_frame"]
    ev = events[events["index"].notna()]
    if ev.empty:
        return pd.DataFrame(columns=cols)
    g = ev.groupby("index", sort=True, observed=True)
    out = pd.DataFrame({
        "boxes": g.size(),
        "true": g["kind"].apply(lambda k: int(k.isin([TP, IDSW]).sum())),
        "false": g["kind"].apply(lambda k: int((k == FP).sum())),
        "switches": g["kind"].apply(lambda k: int((k == IDSW).sum())),
        "gt_ids": g["gt_id"].apply(_by_count),
        "first_frame": g["frame"].min(),
        "last_frame": g["frame"].max(),
    })
    out["precision"] = out["true"] / out["boxes"]
    out = out.reset_index()
    out["index"] = out["index"].astype(np.int64)
    return out[cols]


def gt_summary(events: pd.DataFrame) -> pd.DataFrame:
    """One row per ground-truth id: frames present, matched frames, missed frames,
    identity switches, recall (matched / frames), status as CLEAR counts it (MT: tracked
    over 80% of its frames, ML: under 20%, else PT), the person Indexes that tracked it
    (most frames first), first and last frame."""
    cols = ["gt_id", "frames", "matched", "missed", "switches", "recall", "status", "indexes",
            "first_frame", "last_frame"]
    ev = events[events["gt_id"].notna()]
    if ev.empty:
        return pd.DataFrame(columns=cols)
    g = ev.groupby("gt_id", sort=True, observed=True)
    out = pd.DataFrame({
        "frames": g.size(),
        "matched": g["kind"].apply(lambda k: int(k.isin([TP, IDSW]).sum())),
        "missed": g["kind"].apply(lambda k: int((k == FN).sum())),
        "switches": g["kind"].apply(lambda k: int((k == IDSW).sum())),
        "indexes": g["index"].apply(_by_count),
        "first_frame": g["frame"].min(),
        "last_frame": g["frame"].max(),
    })
    out["recall"] = out["matched"] / out["frames"]
    out["status"] = np.where(out["recall"] > 0.8, "MT", np.where(out["recall"] >= 0.2, "PT", "ML"))
    out = out.reset_index()
    out["gt_id"] = out["gt_id"].astype(np.int64)
    return out[cols]


def _by_count(ids: pd.Series) -> list[int]:
    """Distinct ids, most frequent first (ties: smaller id first)."""
    counts = ids.dropna().astype(np.int64).value_counts()
    return sorted(counts.index.tolist(), key=lambda i: (-counts[i], i))


def describe(events: pd.DataFrame) -> pd.Series:
    """A short reason for each event, for people: who an identity switch took the
    ground truth from; whether a missed person or a false box had a near miss (IoU
    under 0.5), lost its overlap to another pair, sat on an ignore region, or had
    nothing near it."""
    def one(kind: str, gt_id, index, prev, iou: float, in_ignore: bool) -> str:
        if kind == IDSW:
            return f"gt {gt_id} was #{prev}, now #{index}"
        if kind == TP:
            return f"gt {gt_id} is #{index} (IoU {iou:.2f})"
        if kind == FP and in_ignore:
            return "box on an ignore region of the ground truth"
        if iou <= 0:
            return "no box near this person" if kind == FN else "no person here"
        if iou >= metrics.IOU_THRESHOLD - _EPS:  # the overlap went to a better or continuing pair
            return "its box went to another person" if kind == FN else "duplicate: the person has another box"
        return f"{'nearest box' if kind == FN else 'loose box'}: IoU {iou:.2f} < {metrics.IOU_THRESHOLD}"

    cols = ("kind", "gt_id", "index", "prev_index", "iou", "in_ignore")
    reasons = [one(*values) for values in zip(*(events[c].tolist() for c in cols))]
    return pd.Series(reasons, index=events.index, dtype=object)
