"""The per-video pipeline: decode -> detect persons -> track -> faces -> records."""

from __future__ import annotations

import json
import threading
import time
from queue import Full, Queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .. import contract
from ..store import DetectionRow
from ..video import VideoInfo, iter_frames, probe
from .appearance import histograms
from .detector import PersonDetector
from .detector_nanodet import INT8_MODEL_PATH, NanoDetPersonDetector
from .extend import extend_tracks
from .face_schedule import FaceSchedule
from .offline import merge_fragments
from .faces import FaceAnalyzer
from .tracker import ByteTracker, postprocess
from .settings import EngineSettings
from .types import Detections, Face

ProgressFn = Callable[[float], None]


@dataclass
class Timings:
    """Seconds spent per stage over a run, and the frames analysed."""

    decode: float = 0.0
    detect: float = 0.0
    track: float = 0.0
    faces: float = 0.0
    frames: int = 0

    @property
    def total(self) -> float:
        return self.decode + self.detect + self.track + self.faces


@dataclass
class TrackingResult:
    info: VideoInfo
    rows: list[DetectionRow]
    persons: int
    timings: Timings

    def video_metadata(self) -> dict[str, Any]:
        return video_metadata(self.info)

    def persons_records(self) -> list[dict[str, Any]]:
        """The detections as Rekognition `Persons` elements, in TIMESTAMP order."""
        return [json.loads(r.record) for r in self.rows]


def video_metadata(info: VideoInfo) -> dict[str, Any]:
    """VideoInfo -> Rekognition VideoMetadata."""
    return {
        "Codec": info.codec,
        "DurationMillis": int(info.duration_ms),
        "Format": info.format,
        "FrameRate": float(info.fps),
        "FrameHeight": int(info.height),
        "FrameWidth": int(info.width),
        "ColorRange": info.color_range,
    }


class Pipeline:
    """Holds the models (loaded once, reused across videos); each `run` makes its own
    tracker, so runs never share tracking state."""

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self.detector = make_detector(self.settings)
        self.faces = FaceAnalyzer(min_confidence=self.settings.face_min_confidence) if self.settings.faces else None

    def run(self, path: str | Path, progress: ProgressFn | None = None) -> TrackingResult:
        """Analyse one video. Raises video.VideoError when it cannot be decoded."""
        info = probe(path)
        settings = self.settings
        frame_rate = min(info.fps or settings.max_fps, settings.max_fps)
        tracker = ByteTracker(
            high_threshold=settings.track_high_threshold,
            low_threshold=settings.track_low_threshold,
            new_track_threshold=settings.track_new_threshold,
            match_iou=settings.track_match_iou,
            lost_track_seconds=settings.track_lost_seconds,
            min_hits=settings.track_min_hits,
            appearance_gate=settings.appearance_gate,
            frame_rate=frame_rate,
        )
        timings = Timings()
        timestamps: list[int] = []
        tracks: dict[int, list[tuple[int, np.ndarray, float]]] = {}
        # Faces by analysed frame, beside the tracked box they were found in: offline steps
        # renumber and join tracks, but keep each entry's box, so a face follows its box.
        faces: dict[int, list[tuple[np.ndarray, Face]]] = {}
        schedule = FaceSchedule(self.faces, every=settings.face_every) if self.faces is not None else None
        seen: list[Detections] = []  # the tracker's input per analysed frame, for extend_tracks
        expected = max(1, int(info.frame_count * min(1.0, settings.max_fps / (info.fps or settings.max_fps))))
        frames = _timed(_prefetched(iter_frames(path, max_fps=settings.max_fps)), timings)
        for ordinal, frame in enumerate(frames):
            timestamps.append(frame.timestamp_ms)
            t0 = time.perf_counter()
            people = self.detector.detect(frame.image)
            t1 = time.perf_counter()
            # Histograms of the detector's own boxes, before narrowing (as tuned).
            features = histograms(frame.image, people.xyxy) if settings.appearance_gate < 1.0 else None
            narrowed = scale_widths(people, settings.box_width_scale)
            seen.append(narrowed)
            tracked = tracker.update(narrowed, features)
            t2 = time.perf_counter()
            for box in tracked:
                tracks.setdefault(box.track_id, []).append((ordinal, box.xyxy, box.score))
            if schedule is not None and tracked:
                found = schedule.faces(ordinal, frame.image, tracked)
                for box, face in zip(tracked, found):
                    if face is not None:
                        faces.setdefault(ordinal, []).append((box.xyxy, face))
            t3 = time.perf_counter()
            timings.detect += t1 - t0
            timings.track += t2 - t1
            timings.faces += t3 - t2
            timings.frames += 1
            if progress is not None and ordinal % 25 == 0:
                progress(min(0.99, ordinal / expected))
        if not timestamps:
            from ..video import VideoError

            raise VideoError("The video has no decodable frames")
        max_gap_frames = int(round(settings.max_gap_seconds * frame_rate))
        if settings.merge_fragments:
            tracks = merge_fragments(tracks, max_gap_frames=max_gap_frames, max_distance=settings.merge_max_distance)
        if settings.extend_tracks:
            tracks = extend_tracks(tracks, seen, min_iou=settings.extend_min_iou)
        tracks = postprocess(tracks, min_track_frames=settings.min_track_frames, max_gap_frames=max_gap_frames)
        rows = _records(tracks, faces, timestamps, info)
        return TrackingResult(info=info, rows=rows, persons=len(tracks), timings=timings)


def make_detector(settings: EngineSettings) -> PersonDetector | NanoDetPersonDetector:
    """The person detector `settings.detector` names, with the settings' score threshold."""
    if settings.detector == "nanodet":
        return NanoDetPersonDetector(
            model_path=INT8_MODEL_PATH if settings.detector_int8 else None,
            score_threshold=settings.detector_score_threshold,
            input_long_side=settings.detector_input_long_side,
            low_light=settings.detector_low_light,
        )
    return PersonDetector(score_threshold=settings.detector_score_threshold)


def scale_widths(detections: Detections, scale: float) -> Detections:
    """Boxes narrowed (or widened) by `scale` about their centres."""
    if scale == 1.0 or not len(detections):
        return detections
    xyxy = detections.xyxy.copy()
    centre, half = (xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 2] - xyxy[:, 0]) * scale / 2
    xyxy[:, 0], xyxy[:, 2] = centre - half, centre + half
    return Detections(xyxy, detections.scores)


def _prefetched(frames: Iterator[Any], depth: int = 4) -> Iterator[Any]:
    """Decode ahead in a thread (FFmpeg releases the GIL) while the models run; errors
    from the decoder are raised here, in order."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def decode() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        queue.put(("frame", frame), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(("end", None))
        except BaseException as exc:  # handed to the consumer
            queue.put(("error", exc))

    worker = threading.Thread(target=decode, name="decode-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def _timed(frames: Iterator[Any], timings: Timings) -> Iterator[Any]:
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        timings.decode += time.perf_counter() - t0
        if frame is None:
            return
        yield frame


def _face_of(faces: dict[int, list[tuple[np.ndarray, Face]]], ordinal: int, xyxy: np.ndarray) -> Face | None:
    """The face found in frame `ordinal` inside exactly this tracked box, if any."""
    for box, face in faces.get(ordinal, ()):
        if box is xyxy or np.array_equal(box, xyxy):
            return face
    return None


def _records(
    tracks: dict[int, list[tuple[int, np.ndarray, float]]],
    faces: dict[int, list[tuple[np.ndarray, Face]]],
    timestamps: list[int],
    info: VideoInfo,
) -> list[DetectionRow]:
    """Number persons 0, 1, 2 ... by first appearance and build the stored rows in
    TIMESTAMP order."""
    order = sorted(tracks, key=lambda tid: (tracks[tid][0][0], float(tracks[tid][0][1][0])))
    index_of = {tid: i for i, tid in enumerate(order)}
    rows: list[DetectionRow] = []
    for tid, entries in tracks.items():
        for ordinal, xyxy, score in entries:
            record = contract.person_detection(
                timestamps[ordinal], index_of[tid], xyxy, _face_of(faces, ordinal, xyxy), info.width, info.height
            )
            rows.append(
                DetectionRow(timestamps[ordinal], index_of[tid], round(float(score) * 100.0, 3), json.dumps(record, separators=(",", ":")))
            )
    rows.sort(key=lambda r: (r.timestamp_ms, r.person_index))
    return rows
