"""Multi-object tracking quality: HOTA, CLEAR (MOTA) and Identity (IDF1) from TrackEval.

TrackEval's file-based dataset classes want a fixed folder layout, so this module builds
the per-frame data in memory exactly as ``trackeval.datasets.MotChallenge2DBox`` does for
MOTChallenge 2015 ground truth (``BENCHMARK='MOT15'``): box IoU in (left, top, width,
height), ground-truth rows with ``consider == 0`` removed (they are ignore rows; MOT15
has no class column, so no distractor matching), ids relabelled to be contiguous, and then
runs TrackEval's own metric classes on it. MOT rows are
``frame, id, left, top, width, height, score, x, y, z`` with 1-based frames.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import contract

with contextlib.redirect_stdout(io.StringIO()):
    # trackeval/datasets/__init__.py prints a notice when the optional pycocotools
    # (used only by its BURST dataset) is missing; nothing here needs it.
    from trackeval.datasets._base_dataset import _BaseDataset
    from trackeval.metrics import CLEAR, HOTA, Identity

IOU_THRESHOLD = 0.5
MOT_COLUMNS = ("frame", "id", "left", "top", "width", "height", "score", "x", "y", "z")


def read_mot(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a MOT txt file (commas or whitespace, LF or CRLF) into an (N, >=6) float array."""
    text = Path(path).read_text()
    rows = [line.replace(",", " ").split() for line in text.splitlines() if line.strip()]
    if not rows:
        return np.zeros((0, len(MOT_COLUMNS)), np.float64)
    widths = {len(r) for r in rows}
    if len(widths) != 1 or min(widths) < 6:
        raise ValueError(f"{path}: every MOT row needs the same number of columns, at least 6; got {sorted(widths)}")
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: not a numeric MOT file ({exc})") from None


def _gt_rows(gt: str | os.PathLike[str] | np.ndarray) -> np.ndarray:
    """Ground truth from rows, a gt.txt file, or a sequence folder holding gt/gt.txt."""
    if isinstance(gt, np.ndarray):
        return gt
    path = Path(gt)
    if path.is_dir():
        path = path / "gt" / "gt.txt" if (path / "gt" / "gt.txt").is_file() else path / "gt.txt"
    if not path.is_file():
        raise FileNotFoundError(f"no MOT ground truth at {path} (give gt.txt or a folder holding gt/gt.txt)")
    return read_mot(path)


def _check_rows(rows: np.ndarray, what: str, min_cols: int) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    if rows.size == 0:
        return np.zeros((0, max(min_cols, 7)), np.float64)
    if rows.ndim != 2 or rows.shape[1] < min_cols:
        raise ValueError(f"{what} must be an (N, >={min_cols}) MOT array; got shape {rows.shape}")
    if np.any(rows[:, 0] < 1) or np.any(rows[:, 0] != np.round(rows[:, 0])):
        raise ValueError(f"{what}: frame numbers must be integers starting at 1")
    return rows


def _sequence_data(tracker: np.ndarray, gt: np.ndarray, num_frames: int) -> dict[str, Any]:
    """MotChallenge2DBox.get_raw_seq_data + get_preprocessed_seq_data (MOT15), in memory."""
    keys = ("gt_ids", "tracker_ids", "gt_dets", "tracker_dets", "similarity_scores")
    data: dict[str, Any] = {k: [] for k in keys}
    t_frames, g_frames = tracker[:, 0].astype(int), gt[:, 0].astype(int)
    for t in range(1, num_frames + 1):
        tr, g = tracker[t_frames == t], gt[g_frames == t]
        g = g[g[:, 6] != 0]  # consider == 0: ignore rows, dropped after matching (none in MOT15)
        g_ids, tr_ids = g[:, 1].astype(int), tr[:, 1].astype(int)
        for ids, who in ((tr_ids, "tracker"), (g_ids, "ground truth")):
            if len(np.unique(ids)) != len(ids):
                raise ValueError(f"{who} gives the same id twice in frame {t}")
        data["gt_ids"].append(g_ids)
        data["tracker_ids"].append(tr_ids)
        data["gt_dets"].append(g[:, 2:6])
        data["tracker_dets"].append(tr[:, 2:6])
        data["similarity_scores"].append(_BaseDataset._calculate_box_ious(g[:, 2:6], tr[:, 2:6], box_format="xywh"))
    for side in ("gt", "tracker"):
        ids = data[f"{side}_ids"]
        unique = np.unique(np.concatenate(ids)) if ids else np.zeros(0, int)
        relabel = {int(u): i for i, u in enumerate(unique)}
        data[f"{side}_ids"] = [np.array([relabel[int(i)] for i in f], dtype=int) for f in ids]
        data[f"num_{side}_ids"] = len(unique)
        data[f"num_{side}_dets"] = int(sum(len(f) for f in ids))
    data["num_timesteps"] = num_frames
    data["seq"] = "sequence"
    return data


def score(
    tracker_rows: np.ndarray,
    gt_dir_or_rows: str | os.PathLike[str] | np.ndarray,
    *,
    num_frames: int | None = None,
) -> dict[str, float | int]:
    """Score MOT tracker rows against MOT ground truth with TrackEval (IoU threshold 0.5).

    `gt_dir_or_rows`: ground-truth rows, a gt.txt path or a sequence folder with gt/gt.txt.
    `num_frames` defaults to the last frame in either input (empty frames change nothing).
    Percentages are 0..100: HOTA, DetA, AssA, LocA, MOTA, MOTP, IDF1, IDP, IDR; counts:
    IDSW, FP, FN, TP, Frag, MT, PT, ML, predicted_ids, true_ids, dets, gt_dets.
    """
    tracker = _check_rows(tracker_rows, "tracker rows", 6)
    gt = _check_rows(_gt_rows(gt_dir_or_rows), "ground truth", 7)
    last = int(max(tracker[:, 0].max(initial=0), gt[:, 0].max(initial=0)))
    if num_frames is None:
        num_frames = last
    elif num_frames < last:
        raise ValueError(f"num_frames={num_frames} but the data reaches frame {last}")
    data = _sequence_data(tracker, gt, num_frames)
    quiet = {"THRESHOLD": IOU_THRESHOLD, "PRINT_CONFIG": False}
    hota = HOTA().eval_sequence(data)
    clear = CLEAR(dict(quiet)).eval_sequence(data)
    ident = Identity(dict(quiet)).eval_sequence(data)
    pct = lambda v: float(100.0 * np.mean(v))  # noqa: E731 - HOTA fields are arrays over alphas
    return {
        "HOTA": pct(hota["HOTA"]),
        "DetA": pct(hota["DetA"]),
        "AssA": pct(hota["AssA"]),
        "LocA": pct(hota["LocA"]),
        "MOTA": pct(clear["MOTA"]),
        "MOTP": pct(clear["MOTP"]),
        "IDF1": pct(ident["IDF1"]),
        "IDP": pct(ident["IDP"]),
        "IDR": pct(ident["IDR"]),
        "IDSW": int(clear["IDSW"]),
        "FP": int(clear["CLR_FP"]),
        "FN": int(clear["CLR_FN"]),
        "TP": int(clear["CLR_TP"]),
        "Frag": int(clear["Frag"]),
        "MT": int(clear["MT"]),
        "PT": int(clear["PT"]),
        "ML": int(clear["ML"]),
        "predicted_ids": int(data["num_tracker_ids"]),
        "true_ids": int(data["num_gt_ids"]),
        "dets": int(data["num_tracker_dets"]),
        "gt_dets": int(data["num_gt_dets"]),
    }


def persons_to_mot(
    persons: Sequence[Mapping[str, Any]], frame_rate: float, width: int, height: int
) -> np.ndarray:
    """GetPersonTracking `Persons` -> MOT rows (score column 1, x/y/z -1).

    frame = contract.ms_to_frame(Timestamp, frame_rate) + 1, id = Person.Index + 1, the
    box from Person.BoundingBox (ratios) in a `width` x `height` frame. Entries without a
    BoundingBox are skipped (Rekognition may omit it).
    """
    if frame_rate <= 0 or width <= 0 or height <= 0:
        raise ValueError(f"frame_rate, width and height must be > 0; got {frame_rate}, {width}, {height}")
    rows = []
    for i, item in enumerate(persons):
        try:
            ts, person = item["Timestamp"], item["Person"]
            index = int(person["Index"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"Persons[{i}] needs Timestamp and Person.Index ({exc!r} missing)") from None
        if person.get("BoundingBox") is None:
            continue
        x1, y1, x2, y2 = contract.ratio_to_box(person["BoundingBox"], width, height)
        frame = contract.ms_to_frame(ts, frame_rate) + 1
        rows.append((frame, index + 1, x1, y1, x2 - x1, y2 - y1, 1.0, -1.0, -1.0, -1.0))
    return np.array(rows, dtype=np.float64).reshape(-1, len(MOT_COLUMNS))


def tracks_to_mot(tracks: Mapping[int, Sequence[tuple[int, Any, float]]]) -> np.ndarray:
    """Tracks (track_id -> [(0-based frame_index, xyxy pixels, score), ...]) -> MOT rows
    (frame = frame_index + 1), sorted by frame then id."""
    rows = [
        (frame + 1, track_id, x1, y1, x2 - x1, y2 - y1, score, -1.0, -1.0, -1.0)
        for track_id, entries in tracks.items()
        for frame, box, score in entries
        for x1, y1, x2, y2 in [np.asarray(box, np.float64).reshape(4)]
    ]
    out = np.array(rows, dtype=np.float64).reshape(-1, len(MOT_COLUMNS))
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def read_seqinfo(gt_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """`seqinfo.ini` of a MOTChallenge sequence folder: name, frameRate, seqLength, imWidth, imHeight."""
    import configparser

    path = Path(gt_dir) / "seqinfo.ini"
    if not path.is_file():
        raise ValueError(f"{path} is missing: a MOTChallenge folder holds gt/gt.txt and seqinfo.ini")
    parser = configparser.ConfigParser()
    parser.read(path)
    section = parser["Sequence"]
    return {
        "name": section.get("name", Path(gt_dir).name),
        "frameRate": float(section["frameRate"]),
        "seqLength": int(section["seqLength"]),
        "imWidth": int(section["imWidth"]),
        "imHeight": int(section["imHeight"]),
    }


def evaluate_files(results: Sequence[str | os.PathLike[str]], gt_dirs: Sequence[str | os.PathLike[str]]) -> str:
    """Score GetPersonTracking JSON files (a response, a list of pages, or AWS CLI output)
    against MOTChallenge folders, one per file; returns a printable table."""
    from tabulate import tabulate

    from .client import load_archive

    table = []
    for result, gt_dir in zip(results, gt_dirs, strict=True):
        seq = read_seqinfo(gt_dir)
        job = load_archive(Path(result))
        meta = job.video_metadata or {}
        rows = persons_to_mot(
            job.persons,
            float(meta.get("FrameRate") or seq["frameRate"]),
            int(meta.get("FrameWidth") or seq["imWidth"]),
            int(meta.get("FrameHeight") or seq["imHeight"]),
        )
        last = int(rows[:, 0].max(initial=0))
        s = score(rows, gt_dir, num_frames=max(seq["seqLength"], last))
        table.append([seq["name"], s["HOTA"], s["MOTA"], s["IDF1"], s["IDSW"], s["FP"], s["FN"], f"{s['predicted_ids']}/{s['true_ids']}"])
    headers = ["sequence", "HOTA", "MOTA", "IDF1", "IDSW", "FP", "FN", "ids (predicted/true)"]
    return tabulate(table, headers=headers, floatfmt=".3f")
