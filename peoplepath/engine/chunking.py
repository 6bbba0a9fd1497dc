"""A video as consecutive chunks, each analysed on its own, and their stitching into one job.

`plan_chunks` cuts a video's time line into chunks that own consecutive `core` spans; each
chunk but the first also analyses `overlap` seconds before its core, so its tracker is
warmed up where its core starts and its tracks can be matched with the previous chunk's
over the frames both analysed. A `ChunkResult` holds a chunk's detections as compact
columns (no per-box objects), so it is small to keep, send or store. `finish` stitches
the chunks (Hungarian matching of tracks by box IoU over the shared frames; each
detection is taken from the chunk whose core holds its time), runs the offline steps
(fragment merging, gap filling) on compact arrays, numbers the persons by first
appearance and returns a `JobTracks`, whose rows are built batch by batch.

Measured on PETS09-S2L1 (113 s at 7 fps, faces off) in six 20 s chunks with 3 s lead-ins:
HOTA / MOTA / IDF1 65.11 / 81.66 / 88.98 against 65.11 / 81.61 / 88.96 in one chunk, the
same 22 ids (tests/test_chunking.py holds it).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
from scipy.optimize import linear_sum_assignment

from .. import contract
from ..store import DetectionRow
from ..video import VideoError, VideoInfo
from .extend import extend_tracks
from .offline import FIT_FRAMES, chain_roots, link_fragments, motion
from .settings import EngineSettings
from .tracker import fill_gaps, iou_matrix
from .types import Detections, Face

# A face as one float32 row: box (4), confidence, the five landmarks' (x, y) in
# contract.BASIC_LANDMARKS order (10), pose roll / yaw / pitch, brightness, sharpness.
FACE_COLUMNS = 20
# Tracks of adjacent chunks can be one person when their boxes in the frames where both
# are seen overlap by at least this mean IoU.
STITCH_MIN_IOU = 0.5


@dataclass(frozen=True)
class ChunkSpec:
    """One chunk of a video's time line, in ms. The chunk analyses frames with
    start_ms <= timestamp < end_ms (None: to the end) and owns those in its core."""

    index: int
    start_ms: int
    end_ms: int | None
    core_start_ms: int
    core_end_ms: int | None

    def owns(self, ms: np.ndarray) -> np.ndarray:
        """Which of the timestamps `ms` lie in this chunk's core."""
        inside = ms >= self.core_start_ms
        return inside if self.core_end_ms is None else inside & (ms < self.core_end_ms)


WHOLE_VIDEO = ChunkSpec(0, 0, None, 0, None)
# A chunk's tracker needs more history than the time it keeps lost tracks (2 s): on
# PETS09-S2L1 in 20 s chunks, 2 s lead-ins lost 0.9 HOTA / 1.7 IDF1 against one chunk
# (a crossing at a lead-in's start), 3 s and 4 s lost nothing (+0.0 / +0.0, same ids).
DEFAULT_OVERLAP_SECONDS = 3.0


def plan_chunks(duration_ms: float, chunk_seconds: float, overlap_seconds: float = DEFAULT_OVERLAP_SECONDS) -> list[ChunkSpec]:
    """Cut [0, duration) into cores of `chunk_seconds`, each chunk starting
    `overlap_seconds` before its core. One chunk when the video is no longer than
    `chunk_seconds` or chunk_seconds <= 0 (never chunk). The last chunk runs to the end
    (end None), so frames past a container's stated duration are still analysed; a last
    core shorter than the overlap is joined to the one before."""
    if not overlap_seconds >= 0:
        raise ValueError(f"overlap_seconds must be >= 0, got {overlap_seconds!r}")
    if not duration_ms >= 0:
        raise ValueError(f"duration_ms must be >= 0, got {duration_ms!r}")
    if not chunk_seconds > 0 or duration_ms <= chunk_seconds * 1000:
        return [WHOLE_VIDEO]
    if overlap_seconds >= chunk_seconds:
        raise ValueError(f"overlap_seconds ({overlap_seconds}) must be shorter than chunk_seconds ({chunk_seconds})")
    length, overlap = int(round(chunk_seconds * 1000)), int(round(overlap_seconds * 1000))
    bounds = list(range(0, int(duration_ms), length))
    if len(bounds) > 1 and duration_ms - bounds[-1] < max(overlap, 1):
        bounds.pop()
    specs = []
    for i, core_start in enumerate(bounds):
        core_end = bounds[i + 1] if i + 1 < len(bounds) else None
        specs.append(ChunkSpec(i, max(0, core_start - overlap), core_end, core_start, core_end))
    return specs


@dataclass
class Timings:
    """Seconds spent per stage over a run, the frames analysed, and the elapsed time
    (`wall`; stages that run on their own threads overlap, so it can be less than
    their sum)."""

    decode: float = 0.0
    detect: float = 0.0
    track: float = 0.0
    faces: float = 0.0
    frames: int = 0
    wall: float = 0.0

    @property
    def total(self) -> float:
        """Elapsed seconds: `wall` when measured, else the sum of the stages."""
        return self.wall or self.decode + self.detect + self.track + self.faces

    def __add__(self, other: Timings) -> Timings:
        names = ("decode", "detect", "track", "faces", "frames", "wall")
        return Timings(*(getattr(self, k) + getattr(other, k) for k in names))


_COLUMNS = ("track", "timestamp_ms", "xyxy", "score", "face")


@dataclass
class ChunkResult:
    """A chunk's analysis as compact columns, one row per tracked box.

    `frame_ms`: the time of every analysed frame (int64); `track`: the chunk's own
    track id (int32); `timestamp_ms` (int64); `xyxy` (n, 4) float32 pixels; `score`
    float32 0..1; `face` (n, FACE_COLUMNS) float32, NaN where no face was found.
    """

    spec: ChunkSpec
    frame_ms: np.ndarray
    track: np.ndarray
    timestamp_ms: np.ndarray
    xyxy: np.ndarray
    score: np.ndarray
    face: np.ndarray
    timings: Timings = field(default_factory=Timings)

    def __len__(self) -> int:
        return len(self.track)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        meta = json.dumps({"spec": asdict(self.spec), "timings": asdict(self.timings)})
        np.savez_compressed(buffer, frame_ms=self.frame_ms, meta=np.array(meta), **{k: getattr(self, k) for k in _COLUMNS})
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ChunkResult:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            columns = {k: z[k] for k in ("frame_ms", *_COLUMNS)}
        return cls(spec=ChunkSpec(**meta["spec"]), timings=Timings(**meta["timings"]), **columns)


class ChunkBuilder:
    """Collects a chunk's tracked boxes frame by frame into buffers that double when full.

    With `extend_frames` > 0, the detections of each frame that no tracked box covers are
    kept too, and `result` extends every track over them by up to that many frames before
    its first box and after its last (extend.extend_tracks)."""

    # A detection is some track's own when it overlaps a tracked box of its frame this much.
    OWN_IOU = 0.5

    def __init__(self, spec: ChunkSpec, extend_frames: int = 0) -> None:
        self.spec = spec
        self.extend_frames = extend_frames
        self._free: list[tuple[int, np.ndarray, np.ndarray]] = []  # (frame ordinal, xyxy, score)
        self._frames = np.zeros(1024, np.int64)
        self._n_frames = 0
        self._cols = {
            "track": np.zeros(1024, np.int32),
            "timestamp_ms": np.zeros(1024, np.int64),
            "xyxy": np.zeros((1024, 4), np.float32),
            "score": np.zeros(1024, np.float32),
            "face": np.full((1024, FACE_COLUMNS), np.nan, np.float32),
        }
        self._n = 0

    def add_frame(
        self, timestamp_ms: int, track: np.ndarray, xyxy: np.ndarray, score: np.ndarray, face: np.ndarray | None,
        detections: Detections | None = None,
    ) -> None:
        """One analysed frame and its k tracked boxes (`face`: (k, FACE_COLUMNS) or None);
        `detections`: the frame's detector boxes, for extending tracks."""
        if self.extend_frames and detections is not None and len(detections):
            taken = iou_matrix(detections.xyxy, xyxy).max(axis=1) >= self.OWN_IOU if len(xyxy) else np.zeros(0, bool)
            free = ~taken if len(xyxy) else np.ones(len(detections), bool)
            if free.any():
                self._free.append((self._n_frames, detections.xyxy[free], detections.scores[free]))
        if self._n_frames == len(self._frames):
            self._frames = np.concatenate([self._frames, np.zeros_like(self._frames)])
        self._frames[self._n_frames] = timestamp_ms
        self._n_frames += 1
        k = len(track)
        if self._n + k > len(self._cols["track"]):
            size = max(2 * len(self._cols["track"]), self._n + k)
            for name, col in self._cols.items():
                grown = np.full((size, *col.shape[1:]), np.nan if name == "face" else 0, col.dtype)
                grown[: self._n] = col[: self._n]
                self._cols[name] = grown
        rows = slice(self._n, self._n + k)
        self._cols["track"][rows] = track
        self._cols["timestamp_ms"][rows] = timestamp_ms
        self._cols["xyxy"][rows] = xyxy
        self._cols["score"][rows] = score
        if face is not None:
            self._cols["face"][rows] = face
        self._n += k

    def result(self, timings: Timings) -> ChunkResult:
        """The chunk's columns, copied to their exact size (tracks extended, in frame order)."""
        columns = {name: col[: self._n].copy() for name, col in self._cols.items()}
        frames = self._frames[: self._n_frames].copy()
        if self.extend_frames and self._free:
            columns = self._extended(columns, frames)
        return ChunkResult(self.spec, frames, timings=timings, **columns)

    def _extended(self, columns: dict[str, np.ndarray], frames: np.ndarray) -> dict[str, np.ndarray]:
        cand_frame = np.concatenate([np.full(len(b), f, np.int64) for f, b, _ in self._free])
        cand_xyxy = np.concatenate([b for _, b, _ in self._free]).astype(np.float32)
        cand_score = np.concatenate([s for _, _, s in self._free]).astype(np.float32)
        track, at, chosen = extend_tracks(
            columns["track"], np.searchsorted(frames, columns["timestamp_ms"]), columns["xyxy"],
            cand_frame, cand_xyxy, max_frames=self.extend_frames,
        )
        added = {
            "track": track.astype(np.int32), "timestamp_ms": frames[at], "xyxy": cand_xyxy[chosen],
            "score": cand_score[chosen], "face": np.full((len(track), FACE_COLUMNS), np.nan, np.float32),
        }
        merged = {name: np.concatenate([columns[name], added[name]]) for name in columns}
        order = np.argsort(merged["timestamp_ms"], kind="stable")
        return {name: col[order] for name, col in merged.items()}


def face_row(face: Face | None) -> np.ndarray:
    """A Face as a FACE_COLUMNS float32 row (all NaN for None)."""
    if face is None:
        return np.full(FACE_COLUMNS, np.nan, np.float32)
    points = [face.landmarks[name] for name in contract.BASIC_LANDMARKS]
    return np.array(
        [*face.xyxy, face.confidence, *(v for p in points for v in p), *face.pose, face.brightness, face.sharpness],
        np.float32,
    )


def face_of_row(row: np.ndarray) -> Face | None:
    """The Face a face_row holds, or None for a NaN row."""
    if np.isnan(row[4]):
        return None
    values = row.astype(np.float64)
    landmarks = {name: (float(values[5 + 2 * i]), float(values[6 + 2 * i])) for i, name in enumerate(contract.BASIC_LANDMARKS)}
    return Face(values[:4], float(values[4]), landmarks, tuple(float(v) for v in values[15:18]), float(values[18]), float(values[19]))


@dataclass
class JobTracks:
    """A job's final detections, sorted by (timestamp, person index), as compact columns."""

    info: VideoInfo
    frame_ms: np.ndarray  # every analysed frame's time, over all chunks
    persons: int
    timestamp_ms: np.ndarray
    person: np.ndarray
    xyxy: np.ndarray
    score: np.ndarray
    face: np.ndarray

    @property
    def detections(self) -> int:
        return len(self.timestamp_ms)

    def rows(self, batch: int = 5000) -> Iterator[list[DetectionRow]]:
        """The stored rows in TIMESTAMP order, `batch` at a time, each batch built when asked for."""
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        width, height = self.info.width, self.info.height
        for lo in range(0, self.detections, batch):
            out = []
            for i in range(lo, min(lo + batch, self.detections)):
                ts, index = int(self.timestamp_ms[i]), int(self.person[i])
                record = contract.person_detection(ts, index, self.xyxy[i], face_of_row(self.face[i]), width, height)
                score = round(float(self.score[i]) * 100.0, 3)
                out.append(DetectionRow(ts, index, score, json.dumps(record, separators=(",", ":"))))
            yield out


def _stitch(a: ChunkResult, b: ChunkResult) -> dict[int, int]:
    """Tracks of chunk b that continue tracks of chunk a (b's id -> a's id): Hungarian on
    the IoU of their boxes summed over the frames both chunks analysed, weighted up
    linearly towards b's core (where a hands over: of two fragments in a that b sees as
    one track, the later one is b's continuation, and the offline merge may join the
    earlier one to it), among pairs whose mean IoU there (over frames where both are
    seen) is at least STITCH_MIN_IOU."""
    end = a.spec.end_ms if a.spec.end_ms is not None else np.iinfo(np.int64).max
    window = lambda ms: ms[(ms >= b.spec.start_ms) & (ms < end)]  # noqa: E731
    shared = np.intersect1d(window(a.frame_ms), window(b.frame_ms))
    in_a, in_b = np.isin(a.timestamp_ms, shared), np.isin(b.timestamp_ms, shared)
    ids_a, ids_b = np.unique(a.track[in_a]), np.unique(b.track[in_b])
    if not len(ids_a) or not len(ids_b):
        return {}
    overlap = np.zeros((len(ids_a), len(ids_b)))
    mean_iou, both = np.zeros_like(overlap), np.zeros_like(overlap)
    rows_a, rows_b = np.flatnonzero(in_a), np.flatnonzero(in_b)
    for ts, weight in zip(shared, np.arange(1, len(shared) + 1) / len(shared)):
        ra, rb = rows_a[a.timestamp_ms[rows_a] == ts], rows_b[b.timestamp_ms[rows_b] == ts]
        if not len(ra) or not len(rb):
            continue
        ia, ib = np.searchsorted(ids_a, a.track[ra]), np.searchsorted(ids_b, b.track[rb])
        iou = iou_matrix(a.xyxy[ra], b.xyxy[rb])
        overlap[np.ix_(ia, ib)] += weight * iou
        mean_iou[np.ix_(ia, ib)] += iou
        both[np.ix_(ia, ib)] += 1
    mean = np.divide(mean_iou, both, out=np.zeros_like(overlap), where=both > 0)
    weight = np.where(mean >= STITCH_MIN_IOU, overlap, 0.0)
    rows, cols = linear_sum_assignment(-weight)
    return {int(ids_b[c]): int(ids_a[r]) for r, c in zip(rows, cols) if weight[r, c] > 0}


def finish(info: VideoInfo, results: list[ChunkResult], settings: EngineSettings) -> JobTracks:
    """Stitch a video's chunk results, run the offline steps and number the persons
    0, 1, 2 ... by first appearance (then by left edge). Raises VideoError when no
    chunk analysed a frame."""
    results = sorted(results, key=lambda r: r.spec.index)
    frame_ms = np.unique(np.concatenate([r.frame_ms for r in results] or [np.zeros(0, np.int64)]))
    if not len(frame_ms):
        raise VideoError("The video has no decodable frames")
    parts: list[tuple[np.ndarray, ChunkResult, np.ndarray]] = []  # (global ids, chunk, kept rows)
    next_id, previous, previous_ids = 0, None, {}
    for r in results:
        continues = _stitch(previous, r) if previous is not None else {}
        ids: dict[int, int] = {}
        for local in np.unique(r.track).tolist():
            if local in continues:
                ids[local] = previous_ids[continues[local]]
            else:
                ids[local], next_id = next_id, next_id + 1
        kept = np.flatnonzero(r.spec.owns(r.timestamp_ms))
        parts.append((np.array([ids[t] for t in r.track[kept].tolist()], np.int64), r, kept))
        previous, previous_ids = r, ids
    track = np.concatenate([p[0] for p in parts] + [np.zeros(0, np.int64)])
    ms = np.concatenate([r.timestamp_ms[k] for _, r, k in parts] + [np.zeros(0, np.int64)])
    xyxy = np.concatenate([r.xyxy[k] for _, r, k in parts] + [np.zeros((0, 4), np.float32)])
    score = np.concatenate([r.score[k] for _, r, k in parts] + [np.zeros(0, np.float32)])
    face = np.concatenate([r.face[k] for _, r, k in parts] + [np.zeros((0, FACE_COLUMNS), np.float32)])
    frame = np.searchsorted(frame_ms, ms)

    frame_rate = min(info.fps or settings.max_fps, settings.max_fps)
    max_gap_frames = int(round(settings.max_gap_seconds * frame_rate))
    if settings.merge_fragments and len(track):
        track = _merged(track, frame, xyxy, max_gap_frames, settings.merge_max_distance)
    track, frame, xyxy, score, source = fill_gaps(
        track, frame, xyxy, score, min_track_frames=settings.min_track_frames, max_gap_frames=max_gap_frames
    )
    face = np.where((source >= 0)[:, None], face[np.maximum(source, 0)] if len(face) else face[:0], np.nan)
    face = face.astype(np.float32).reshape(-1, FACE_COLUMNS)

    # Rows are sorted by (track, frame): each track's first row is where its id first appears.
    ids, first = np.unique(track, return_index=True)
    order = np.lexsort((xyxy[first, 0], frame[first]))
    person_of = np.empty(len(ids), np.int64)
    person_of[order] = np.arange(len(ids))
    person = person_of[np.searchsorted(ids, track)]
    final = np.lexsort((person, frame))
    return JobTracks(
        info=info, frame_ms=frame_ms, persons=len(ids), timestamp_ms=frame_ms[frame[final]], person=person[final],
        xyxy=xyxy[final], score=score[final], face=face[final],
    )


def _merged(track: np.ndarray, frame: np.ndarray, xyxy: np.ndarray, max_gap_frames: int, max_distance: float) -> np.ndarray:
    """Track ids after offline.merge_fragments' joining, from each track's first and last
    FIT_FRAMES rows only."""
    order = np.lexsort((frame, track))
    t, f, b = track[order], frame[order], xyxy[order]
    ids, first, counts = np.unique(t, return_index=True, return_counts=True)
    ends, starts = {}, {}
    for tid, lo, n in zip(ids.tolist(), first.tolist(), counts.tolist()):
        head, tail = slice(lo, lo + min(n, FIT_FRAMES)), slice(lo + n - min(n, FIT_FRAMES), lo + n)
        ends[tid] = motion(f[tail], b[tail])
        starts[tid] = motion(f[head][::-1], b[head][::-1])
    roots = chain_roots(link_fragments(ends, starts, max_gap_frames=max_gap_frames, max_distance=max_distance))
    if not roots:
        return track
    return np.array([roots.get(tid, tid) for tid in track.tolist()], np.int64)
