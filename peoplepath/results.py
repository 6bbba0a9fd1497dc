"""One tidy table of detections built fast from GetPersonTracking's `Persons`, per-person
summaries, track segments, and exports (CSV, Parquet, MOTChallenge, Rekognition JSON).

Every optional field may be absent: a detection without a person box has NaN box
columns and `has_box == False`; without a face, `has_face == False` and NaN face columns.
Boxes are kept as ratios (as the API speaks) and as pixels (x1, y1, x2, y2).
"""

from __future__ import annotations

import io
import json
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import contract

NAN = math.nan
_BOX_KEYS = ("Left", "Top", "Width", "Height")


# ------------------------------------------------------------------------------ table
def _struct(*names: str) -> pa.DataType:
    return pa.struct([(name, pa.float64()) for name in names])


_BOX = _struct(*_BOX_KEYS)
# What GetPersonTracking carries that the table keeps; other face attributes are ignored.
RECORD_SCHEMA = pa.schema([
    ("Timestamp", pa.int64()),
    ("Person", pa.struct([
        ("Index", pa.int64()),
        ("BoundingBox", _BOX),
        ("Face", pa.struct([
            ("BoundingBox", _BOX),
            ("Confidence", pa.float64()),
            ("Landmarks", pa.list_(pa.struct([("Type", pa.string()), ("X", pa.float64()), ("Y", pa.float64())]))),
            ("Pose", _struct("Roll", "Yaw", "Pitch")),
            ("Quality", _struct("Brightness", "Sharpness")),
        ])),
    ])),
])


def records(persons: Sequence[Mapping[str, Any]]) -> pa.Table:
    """`PersonDetection` records as an Arrow table of the fields the results table keeps,
    read in one pass by Arrow's C++ converter against a fixed schema (absent fields
    become nulls). One per page, dropping the page's dicts, keeps a long job's records
    out of memory while it is fetched."""
    try:
        return pa.Table.from_pylist(list(persons), schema=RECORD_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"Persons do not match GetPersonTracking's shape: {exc}") from exc


def build_table(
    persons: Sequence[Mapping[str, Any]] | pa.Table,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """The detections table: one row per `PersonDetection`, sorted by time then Index.
    `persons` are the records themselves, or their `records()` table.

    Columns: timestamp_ms, index (int32), frame (0-based, int32, when `fps` is known),
    has_box, left, top, width, height (ratios), x1, y1, x2, y2 (pixels, float32, when
    the frame size is known), has_face, face_confidence, face_left/top/width/height,
    face_x1..face_y2, lm_<Type>_x / lm_<Type>_y (ratios; the five basic types always,
    others when present), pose_roll, pose_yaw, pose_pitch, brightness, sharpness.
    Absent values are NaN (not json_normalize: no per-record Python work).
    """
    arrow = persons if isinstance(persons, pa.Table) else records(persons)
    n = arrow.num_rows
    if n and arrow.column("Timestamp").null_count:
        raise ValueError("Every PersonDetection needs a Timestamp")
    person = arrow.column("Person").combine_chunks()
    if n and pc.struct_field(person, "Index").null_count:
        raise ValueError("Every Person needs an Index")
    ts = _np(arrow.column("Timestamp"), np.int64)
    idx = _np(pc.struct_field(person, "Index"), np.int64)
    if n and (idx.min() < 0 or idx.max() > np.iinfo(np.int32).max):
        raise ValueError("Every Person Index must be 0..2**31-1")
    cols: dict[str, Any] = {"timestamp_ms": ts, "index": idx.astype(np.int32)}
    if fps:
        cols["frame"] = ms_to_frames(ts, fps).astype(np.int32)

    box = pc.struct_field(person, "BoundingBox")
    cols["has_box"] = _np(box.is_valid(), bool)
    cols.update(_floats(box, _BOX_KEYS, ("left", "top", "width", "height")))
    face = pc.struct_field(person, "Face")
    cols["has_face"] = _np(face.is_valid(), bool)
    cols.update(_floats(face, ("Confidence",), ("face_confidence",)))
    cols.update(_floats(pc.struct_field(face, "BoundingBox"), _BOX_KEYS, ("face_left", "face_top", "face_width", "face_height")))
    cols.update(_landmark_columns(pc.struct_field(face, "Landmarks"), n))
    cols.update(_floats(pc.struct_field(face, "Pose"), ("Roll", "Yaw", "Pitch"), ("pose_roll", "pose_yaw", "pose_pitch")))
    cols.update(_floats(pc.struct_field(face, "Quality"), ("Brightness", "Sharpness"), ("brightness", "sharpness")))

    table = pd.DataFrame(cols, copy=False)  # the arrays are ours: no copy into consolidated blocks
    if width and height:
        add_pixels(table, width, height)
    return _in_order(table)


def _in_order(table: pd.DataFrame) -> pd.DataFrame:
    """The table sorted by time then Index (as it is, when it already is)."""
    ts, idx = table["timestamp_ms"].to_numpy(), table["index"].to_numpy()
    dts = np.diff(ts)
    if len(ts) and not (np.all(dts >= 0) and np.all((dts > 0) | (np.diff(idx) >= 0))):
        table = table.iloc[np.lexsort((idx, ts))].reset_index(drop=True)
    return table


def table_from_parts(job: Any, parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """`table_from_job` for a job fetched streaming whose every page became a table at
    once (`build_table(page)`, no size or rate), so that no page's records
    outlive it (a long job's Arrow pages cost more than its table): the parts joined,
    then framed, sized and sorted by its VideoMetadata."""
    if not parts:
        meta = job.video_metadata or {}
        return build_table([], width=meta.get("FrameWidth"), height=meta.get("FrameHeight"), fps=meta.get("FrameRate"))
    return _framed(job, pd.concat(list(parts), ignore_index=True, sort=False))


def _framed(job: Any, table: pd.DataFrame) -> pd.DataFrame:
    """A joined table framed, sized and sorted by the job's VideoMetadata."""
    meta = job.video_metadata or {}
    width, height, fps = meta.get("FrameWidth"), meta.get("FrameHeight"), meta.get("FrameRate")
    if fps:
        table.insert(2, "frame", ms_to_frames(table["timestamp_ms"].to_numpy(), fps).astype(np.int32))
    if width and height:
        add_pixels(table, width, height)
    return _in_order(table)


class StreamedTable:
    """A job's detections table made while its pages arrive (`fetch_job(on_persons=
    .add, persons_schema=RECORD_SCHEMA)`): pages are held as Arrow records only until
    they reach `batch_rows`, then become one compact part, so that no more than a batch
    of records is ever held. A part per page would cost a fixed ~1 ms of Arrow and
    pandas calls each (a 277,000-detection job's 278 pages: 0.30 s, batches of 25,000:
    0.075 s). The parts are joined a column at a time, each column's pieces let go once
    joined, so the join costs one column beyond the parts (not a second table)."""

    def __init__(self, batch_rows: int = 25_000) -> None:
        self.batch_rows = batch_rows
        self._held: list[pa.Table] = []
        self._held_rows = 0
        self._parts: list[dict[str, np.ndarray]] = []
        self._rows: list[int] = []

    def add(self, persons: pa.Table) -> None:
        self._held.append(persons)
        self._held_rows += persons.num_rows
        if self._held_rows >= self.batch_rows:
            self._build()

    def table(self, job: Any) -> pd.DataFrame:
        """The whole table, framed, sized and sorted by the job's VideoMetadata."""
        self._build()
        if not self._parts:
            return table_from_parts(job, [])
        names = list(dict.fromkeys(name for part in self._parts for name in part))
        columns = {}
        for name in names:  # absent in a part: a landmark type that part never saw
            columns[name] = np.concatenate([part.pop(name) if name in part else np.full(rows, NAN)
                                            for part, rows in zip(self._parts, self._rows)])
        self._parts, self._rows = [], []
        return _framed(job, pd.DataFrame(columns, copy=False))

    def _build(self) -> None:
        if self._held:
            part = build_table(pa.concat_tables(self._held))
            self._parts.append({name: part[name].to_numpy() for name in part.columns})
            self._rows.append(len(part))
            self._held, self._held_rows = [], 0


def table_from_job(job: Any) -> pd.DataFrame:
    """`build_table` for a `client.JobResult`, sized and timed by its VideoMetadata."""
    meta = job.video_metadata or {}
    return build_table(job.persons, width=meta.get("FrameWidth"), height=meta.get("FrameHeight"),
                       fps=meta.get("FrameRate"))


def _np(arr: Any, dtype: Any) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)


def _floats(struct: Any, keys: Sequence[str], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Float columns from a struct array's fields; null (absent) values become NaN."""
    return {name: _np(pc.struct_field(struct, key).fill_null(NAN), np.float64) for key, name in zip(keys, names)}


def _landmark_columns(landmarks: Any, n: int) -> dict[str, np.ndarray]:
    flat = pc.list_flatten(landmarks)
    rows = _np(pc.list_parent_indices(landmarks), np.int64)
    types = pc.struct_field(flat, "Type").dictionary_encode()
    codes = _np(types.indices.fill_null(-1), np.int64)
    xs = _np(pc.struct_field(flat, "X").fill_null(NAN), np.float64)
    ys = _np(pc.struct_field(flat, "Y").fill_null(NAN), np.float64)
    found = {t: i for i, t in enumerate(types.dictionary.to_pylist())}
    kinds = list(contract.BASIC_LANDMARKS) + sorted(set(found) - set(contract.BASIC_LANDMARKS))
    out: dict[str, np.ndarray] = {}
    for kind in kinds:
        x, y = np.full(n, NAN), np.full(n, NAN)
        if kind in found:
            sel = codes == found[kind]
            x[rows[sel]], y[rows[sel]] = xs[sel], ys[sel]
        out[f"lm_{kind}_x"], out[f"lm_{kind}_y"] = x, y
    return out


def add_pixels(table: pd.DataFrame, width: int, height: int) -> pd.DataFrame:
    """(Re)compute the pixel box columns from the ratio columns, in place, clipped to
    the frame (AWS's ratios are float32: Top + Height can be 1.0000000074505806)."""
    for prefix in ("", "face_"):
        left, top = table[f"{prefix}left"].to_numpy(), table[f"{prefix}top"].to_numpy()
        w, h = table[f"{prefix}width"].to_numpy(), table[f"{prefix}height"].to_numpy()
        table[f"{prefix}x1"] = np.clip(left * width, 0, width).astype(np.float32)
        table[f"{prefix}y1"] = np.clip(top * height, 0, height).astype(np.float32)
        table[f"{prefix}x2"] = np.clip((left + w) * width, 0, width).astype(np.float32)
        table[f"{prefix}y2"] = np.clip((top + h) * height, 0, height).astype(np.float32)
    table.attrs.update(width=int(width), height=int(height))
    return table


def ms_to_frames(ms: np.ndarray, fps: float) -> np.ndarray:
    """Vectorised `contract.ms_to_frame`: the 0-based frame on screen at each time."""
    ms = np.asarray(ms, dtype=np.float64)
    idx = np.floor(ms * fps / 1000.0 + 1e-6).astype(np.int64)
    for _ in range(3):  # the rounding corrections move at most a step or two
        step_up = np.rint((idx + 1) * 1000.0 / fps) <= ms
        step_down = (idx > 0) & (np.rint(idx * 1000.0 / fps) > ms)
        if not (step_up.any() or step_down.any()):
            break
        idx = idx + step_up - step_down
    return np.maximum(idx, 0)


def frames_from_timestamps(ms: np.ndarray, frame_times_ms: np.ndarray) -> np.ndarray:
    """The 0-based frame on screen at each time, given the video's real frame timestamps
    (for variable-rate video): the last frame not after each time."""
    pos = np.searchsorted(np.asarray(frame_times_ms), np.asarray(ms), side="right") - 1
    return np.maximum(pos, 0)


# -------------------------------------------------------------------------- summaries
def person_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per person: index, first_ms, last_ms, duration_ms, detections, faces,
    face_share (0..1), best_ms (time of the person's largest box, for a thumbnail)."""
    cols = ["index", "first_ms", "last_ms", "duration_ms", "detections", "faces", "face_share", "best_ms"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    g = table.groupby("index", sort=True)
    out = pd.DataFrame(
        {
            "first_ms": g["timestamp_ms"].min(),
            "last_ms": g["timestamp_ms"].max(),
            "detections": g.size(),
            "faces": g["has_face"].sum(),
        }
    )
    out["duration_ms"] = out["last_ms"] - out["first_ms"]
    out["face_share"] = out["faces"] / out["detections"]
    area = (table["width"] * table["height"]).fillna(-1.0)
    best_rows = area.groupby(table["index"]).idxmax()
    out["best_ms"] = table.loc[best_rows.to_numpy(), "timestamp_ms"].to_numpy()
    return out.reset_index()[cols]


def segments(table: pd.DataFrame, gap_ms: float | None = None) -> pd.DataFrame:
    """Spans where each person is tracked: a person's detections split where two in a
    row are more than `gap_ms` apart. By default the gap is 2.5x the table's typical
    sampling interval (at least 500 ms). Columns: index, start_ms, end_ms, detections."""
    cols = ["index", "start_ms", "end_ms", "detections"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    if gap_ms is None:
        gap_ms = default_gap_ms(table)
    t = table[["index", "timestamp_ms"]].sort_values(["index", "timestamp_ms"], kind="stable")
    idx, ts = t["index"].to_numpy(), t["timestamp_ms"].to_numpy()
    new = np.ones(len(ts), dtype=bool)
    new[1:] = (idx[1:] != idx[:-1]) | (np.diff(ts) > gap_ms)
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(ts)] - 1
    return pd.DataFrame(
        {"index": idx[starts], "start_ms": ts[starts], "end_ms": ts[ends], "detections": ends - starts + 1}
    )


def default_gap_ms(table: pd.DataFrame) -> float:
    """2.5x the median interval between a person's consecutive detections (>= 500 ms)."""
    t = table[["index", "timestamp_ms"]].sort_values(["index", "timestamp_ms"], kind="stable")
    d = np.diff(t["timestamp_ms"].to_numpy())
    same = t["index"].to_numpy()[1:] == t["index"].to_numpy()[:-1]
    d = d[same & (d > 0)]
    return max(500.0, 2.5 * float(np.median(d))) if len(d) else 500.0


def detections_per_second(table: pd.DataFrame) -> pd.DataFrame:
    """Columns second (int), detections, faces: the strip under the timeline."""
    sec = table["timestamp_ms"].to_numpy() // 1000
    df = pd.DataFrame({"second": sec, "faces": table["has_face"].to_numpy()})
    g = df.groupby("second")
    return pd.DataFrame({"detections": g.size(), "faces": g["faces"].sum()}).reset_index()


def heatmap(table: pd.DataFrame, bins: tuple[int, int] = (48, 36)) -> np.ndarray:
    """Where people stood: a (rows, cols) histogram of person box bottom-centres (the
    feet), in ratio space over the frame."""
    boxed = table[table["has_box"]]
    x = np.clip((boxed["left"] + boxed["width"] / 2).to_numpy(), 0.0, 1.0)  # float32 ratios
    y = np.clip((boxed["top"] + boxed["height"]).to_numpy(), 0.0, 1.0)  # may pass 1 by 1e-8
    hist, _, _ = np.histogram2d(y, x, bins=(bins[1], bins[0]), range=((0, 1), (0, 1)))
    return hist


# ---------------------------------------------------------------------------- exports
def to_csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode("utf-8")


def to_parquet(table: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    return buf.getvalue()


def to_mot(table: pd.DataFrame, fps: float) -> str:
    """MOTChallenge 2D results: `frame,id,left,top,width,height,conf,-1,-1,-1` with
    frame = ms_to_frame(Timestamp, fps) + 1, id = Index + 1, pixel boxes. Detections
    without a person box are left out (MOT has no face-only row)."""
    if "x1" not in table:
        raise ValueError("The table has no pixel boxes: the frame size is unknown")
    boxed = table[table["has_box"]]
    frames = ms_to_frames(boxed["timestamp_ms"].to_numpy(), fps) + 1
    x1, y1 = boxed["x1"].to_numpy(), boxed["y1"].to_numpy()
    w, h = boxed["x2"].to_numpy() - x1, boxed["y2"].to_numpy() - y1
    order = np.lexsort((boxed["index"].to_numpy(), frames))
    lines = [
        f"{frames[i]},{boxed['index'].iat[i] + 1},{x1[i]:.2f},{y1[i]:.2f},{w[i]:.2f},{h[i]:.2f},1,-1,-1,-1"
        for i in order
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def to_persons(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The table back to GetPersonTracking `Persons` elements (absent fields stay absent)."""
    lm_types = [c[3:-2] for c in table.columns if c.startswith("lm_") and c.endswith("_x")]
    rec = table.to_dict("list")
    out = []
    for i in range(len(table)):
        person: dict[str, Any] = {"Index": int(rec["index"][i])}
        if rec["has_box"][i]:
            person["BoundingBox"] = {k: float(rec[k.lower()][i]) for k in ("Width", "Height", "Left", "Top")}
        if rec["has_face"][i]:
            person["Face"] = _face_record(rec, i, lm_types)
        out.append({"Timestamp": int(rec["timestamp_ms"][i]), "Person": person})
    return out


def _face_record(rec: Mapping[str, list[Any]], i: int, lm_types: list[str]) -> dict[str, Any]:
    face: dict[str, Any] = {}
    if not math.isnan(rec["face_left"][i]):
        face["BoundingBox"] = {k: float(rec[f"face_{k.lower()}"][i]) for k in ("Width", "Height", "Left", "Top")}
    if not math.isnan(rec["face_confidence"][i]):
        face["Confidence"] = float(rec["face_confidence"][i])
    lms = [
        {"Type": t, "X": float(rec[f"lm_{t}_x"][i]), "Y": float(rec[f"lm_{t}_y"][i])}
        for t in lm_types
        if not math.isnan(rec[f"lm_{t}_x"][i])
    ]
    if lms:
        face["Landmarks"] = lms
    pose = {k: float(rec[f"pose_{k.lower()}"][i]) for k in ("Roll", "Yaw", "Pitch")}
    if not any(math.isnan(v) for v in pose.values()):
        face["Pose"] = pose
    quality = {k: float(rec[k.lower()][i]) for k in ("Brightness", "Sharpness") if not math.isnan(rec[k.lower()][i])}
    if quality:
        face["Quality"] = quality
    return face


def to_rekognition_json(table: pd.DataFrame, job: Any) -> str:
    """A GetPersonTracking response (as the AWS CLI prints it) for the rows of `table`,
    with the job's status, metadata, JobId, Video and JobTag."""
    doc = job.to_response()
    doc["Persons"] = to_persons(table)
    return json.dumps(doc, indent=1)
