"""The per-video pipeline: decode -> detect persons -> track -> faces -> records.

`Pipeline.analyse` analyses one chunk of a video (chunking.ChunkSpec; by default the
whole video) into a compact chunking.ChunkResult; chunking.finish stitches a video's
chunks and runs the offline steps. `Pipeline.run` does both in this process.
"""

from __future__ import annotations

import json
import threading
import time
from queue import Full, Queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generator, Iterator, TypeVar

import numpy as np

from ..store import DetectionRow
from ..video import Frame, VideoInfo, iter_frames, probe
from .appearance import histograms
from .chunking import WHOLE_VIDEO, ChunkBuilder, ChunkResult, ChunkSpec, JobTracks, Timings, face_row, finish, plan_chunks
from .detector import PersonDetector
from .detector_nanodet import INT8_MODEL_PATH, NanoDetPersonDetector, is_dark
from .face_schedule import FaceSchedule
from .faces import FaceAnalyzer
from .tracker import ByteTracker, confirm_hits
from .settings import EngineSettings
from .types import Detections

ProgressFn = Callable[[float], None]
T = TypeVar("T")

__all__ = ["EngineSettings", "Pipeline", "TrackingResult", "Timings", "video_metadata", "make_detector"]


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
    """Holds the models (loaded once, reused across videos and chunks); each `analyse`
    makes its own tracker, so chunks and runs never share tracking state."""

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self.detector = make_detector(self.settings)
        self.faces = FaceAnalyzer(min_confidence=self.settings.face_min_confidence) if self.settings.faces else None

    def run(self, path: str | Path, progress: ProgressFn | None = None, *, chunk_seconds: float = 0) -> TrackingResult:
        """Analyse one video, in chunks of `chunk_seconds` one after another (0: one
        chunk), with all its rows in memory. Raises video.VideoError when it cannot be
        decoded."""
        info, tracks, timings = self.track(path, progress, chunk_seconds=chunk_seconds)
        rows = [row for batch in tracks.rows() for row in batch]
        return TrackingResult(info=info, rows=rows, persons=tracks.persons, timings=timings)

    def track(
        self, path: str | Path, progress: ProgressFn | None = None, *, chunk_seconds: float = 0
    ) -> tuple[VideoInfo, JobTracks, Timings]:
        """Analyse one video chunk by chunk in this process and finish it; the rows stay
        compact until `JobTracks.rows` builds them."""
        info = probe(path)
        specs = plan_chunks(info.duration_ms, chunk_seconds)
        results: list[ChunkResult] = []
        for spec in specs:
            done = len(results)
            part = None if progress is None else (lambda f, done=done: progress((done + f) / len(specs)))
            results.append(self.analyse(path, spec, part))
        timings = sum((r.timings for r in results), Timings())
        return info, finish(info, results, self.settings), timings

    def analyse(self, path: str | Path, spec: ChunkSpec | None = None, progress: ProgressFn | None = None) -> ChunkResult:
        """Analyse the frames of one chunk (None: the whole video) with a fresh tracker:
        a pure function of (video, spec, settings). Raises video.VideoError when the file
        cannot be decoded; a chunk where no frame decodes gives an empty result."""
        spec = spec or WHOLE_VIDEO
        info = probe(path)
        settings = self.settings
        frame_rate = min(info.fps or settings.max_fps, settings.max_fps)
        tracker = ByteTracker(
            high_threshold=settings.track_high_threshold,
            low_threshold=settings.track_low_threshold,
            new_track_threshold=settings.track_new_threshold,
            match_iou=settings.track_match_iou,
            lost_track_seconds=settings.track_lost_seconds,
            min_hits=confirm_hits(settings.track_min_hits, settings.track_confirm_seconds, frame_rate),
            appearance_gate=settings.appearance_gate,
            motion_buffer=settings.track_motion_buffer,
            frame_rate=frame_rate,
        )
        timings = Timings()
        builder = ChunkBuilder(spec, extend_frames=int(round(settings.extend_seconds * frame_rate)))
        schedule = FaceSchedule(self.faces, every=settings.face_every) if self.faces is not None else None
        end_ms = info.duration_ms if spec.end_ms is None else min(spec.end_ms, info.duration_ms)
        expected = max(1, int((end_ms - spec.start_ms) / 1000 * frame_rate))
        frames = _prefetched(iter_frames(path, max_fps=settings.max_fps, start_ms=spec.start_ms, end_ms=spec.end_ms))
        started = time.perf_counter()
        detected = self._detected(frames, timings)
        try:
            for ordinal, (frame, people) in enumerate(detected):
                t1 = time.perf_counter()
                # Histograms of the detector's own boxes, before narrowing (as tuned).
                features = histograms(frame.image, people.xyxy) if settings.appearance_gate < 1.0 else None
                narrowed = scale_widths(people, settings.box_width_scale)
                dark = settings.track_dark_new_threshold != settings.track_new_threshold and is_dark(frame.image)
                tracked = tracker.update(narrowed, features,
                                         new_track_threshold=settings.track_dark_new_threshold if dark else None)
                t2 = time.perf_counter()
                ids = np.array([b.track_id for b in tracked], np.int32)
                boxes = np.array([b.xyxy for b in tracked], np.float32).reshape(-1, 4)
                scores = np.array([b.score for b in tracked], np.float32)
                faces = None
                if schedule is not None and tracked:
                    faces = np.stack([face_row(f) for f in schedule.faces(ordinal, frame.image, tracked)])
                builder.add_frame(frame.timestamp_ms, ids, boxes, scores, faces, narrowed)
                t3 = time.perf_counter()
                timings.track += t2 - t1
                timings.faces += t3 - t2
                timings.frames += 1
                if progress is not None and ordinal % 25 == 0:
                    progress(min(0.99, ordinal / expected))
        finally:  # the detector's thread first: it reads the decoder's
            detected.close()
            frames.close()
        timings.wall += time.perf_counter() - started
        return builder.result(timings)

    def _detected(self, frames: Iterator[Frame], timings: Timings) -> Generator[tuple[Frame, Detections], None, None]:
        """Each frame with its person boxes, in order: detected on a worker thread
        `settings.detect_ahead` frames ahead of the caller (onnxruntime releases the GIL,
        so detection overlaps tracking and faces), or here when detect_ahead is 0.
        Adds the time of decoding and detection to `timings`."""
        detected = (self._detect_one(frame, timings) for frame in _timed(frames, timings))
        if self.settings.detect_ahead == 0:
            return detected
        return _prefetched(detected, depth=self.settings.detect_ahead, name="detect-ahead")

    def _detect_one(self, frame: Frame, timings: Timings) -> tuple[Frame, Detections]:
        t0 = time.perf_counter()
        people = self.detector.detect(frame.image)
        timings.detect += time.perf_counter() - t0
        return frame, people


def make_detector(settings: EngineSettings) -> PersonDetector | NanoDetPersonDetector:
    """The person detector `settings.detector` names, with the settings' score threshold."""
    if settings.detector == "nanodet":
        return NanoDetPersonDetector(
            model_path=INT8_MODEL_PATH if settings.detector_int8 else None,
            score_threshold=settings.detector_score_threshold,
            input_long_side=settings.detector_input_long_side,
            low_light=settings.detector_low_light,
            threads=settings.detector_threads,
        )
    return PersonDetector(score_threshold=settings.detector_score_threshold, threads=settings.detector_threads)


def scale_widths(detections: Detections, scale: float) -> Detections:
    """Boxes narrowed (or widened) by `scale` about their centres."""
    if scale == 1.0 or not len(detections):
        return detections
    xyxy = detections.xyxy.copy()
    centre, half = (xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 2] - xyxy[:, 0]) * scale / 2
    xyxy[:, 0], xyxy[:, 2] = centre - half, centre + half
    return Detections(xyxy, detections.scores)


def _prefetched(items: Iterator[T], depth: int = 4, name: str = "decode-ahead") -> Generator[T, None, None]:
    """`items` produced ahead in a thread (FFmpeg and onnxruntime release the GIL) while
    the caller works on earlier items, at most `depth` ahead; errors from the producer
    are raised here, in order."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put(("item", item), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(("end", None))
        except BaseException as exc:  # handed to the consumer
            queue.put(("error", exc))

    worker = threading.Thread(target=produce, name=name, daemon=True)
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


def _timed(frames: Iterator[Frame], timings: Timings) -> Iterator[Frame]:
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        timings.decode += time.perf_counter() - t0
        if frame is None:
            return
        yield frame
