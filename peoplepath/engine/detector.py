"""Person detector: SSDLite-MobileNetV2 (fine-tuned on people) in onnxruntime.

The ONNX file (made by `assets/make_ssdlite_onnx.sh`) stops before the TF graph's own
post-processing: for each 300x300 RGB image it gives the 1917 anchor boxes already decoded
(normalised ymin, xmin, ymax, xmax) and their person scores. Score filtering and one
class-agnostic NMS over all boxes happen here in numpy.

Like the original package, a frame is resized to 300x300 without keeping its aspect ratio.
Optional tiling runs the full frame plus `tiles` overlapping strips along the frame's longer
side in one batch, so that small people are seen larger (about 3x the time for `tiles=2`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .runtime import MAX_THREADS, check_bgr, fraction, int_in, onnx_session
from .types import Detections

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "ssdlite_person.onnx"
INPUT_SIZE = 300
MAX_TILES = 8
TILE_OVERLAP = 0.25  # fraction of a strip shared with its neighbour


class PersonDetector:
    """Finds people in BGR frames; `detect` returns pixel boxes in the frame's coordinates.

    score_threshold: keep boxes scoring at least this (0 < t <= 1). On PETS09-S2L1 true
        people mostly score 0.35-0.98; false positives cluster below 0.2.
    threads: onnxruntime intra-op threads (1..64); spinning is off.
    nms_iou: boxes overlapping a higher-scoring box by more than this IoU are dropped
        (0 < iou <= 1).
    tiles: 0 runs the full frame only; 2..8 also runs that many overlapping strips.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        score_threshold: float = 0.3,
        threads: int = 2,
        nms_iou: float = 0.5,
        tiles: int = 0,
    ) -> None:
        self.score_threshold = fraction("score_threshold", score_threshold)
        self.nms_iou = fraction("nms_iou", nms_iou)
        self.threads = int_in("threads", threads, 1, MAX_THREADS)
        self.tiles = int_in("tiles", tiles, 0, MAX_TILES)
        if self.tiles == 1:
            raise ValueError("tiles must be 0 (full frame only) or 2..8 strips, got 1")
        path = Path(model_path) if model_path is not None else DEFAULT_MODEL_PATH
        self._session = onnx_session(path, self.threads)
        self._input = self._session.get_inputs()[0].name

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Person boxes (x1, y1, x2, y2 pixels, inside the image) and scores in 0..1."""
        check_bgr(image_bgr)
        height, width = image_bgr.shape[:2]
        regions = [(0, 0, width, height), *strips(width, height, self.tiles)]
        batch = np.stack(
            [
                cv2.resize(image_bgr[y0:y1, x0:x1], (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
                for x0, y0, x1, y1 in regions
            ]
        )
        batch = batch[..., ::-1].astype(np.float32)  # the TF model takes RGB, 0..255
        boxes, scores = self._session.run(None, {self._input: batch})
        all_boxes, all_scores = [], []
        for (x0, y0, x1, y1), region_boxes, region_scores in zip(regions, boxes, scores):
            keep = region_scores[:, 0] >= self.score_threshold
            ymin, xmin, ymax, xmax = region_boxes[keep].T
            w, h = x1 - x0, y1 - y0
            all_boxes.append(np.stack([x0 + xmin * w, y0 + ymin * h, x0 + xmax * w, y0 + ymax * h], axis=1))
            all_scores.append(region_scores[keep, 0])
        xyxy = np.concatenate(all_boxes)
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
        score = np.clip(np.concatenate(all_scores), 0.0, 1.0)
        real = (xyxy[:, 2] - xyxy[:, 0] >= 1) & (xyxy[:, 3] - xyxy[:, 1] >= 1)
        xyxy, score = xyxy[real], score[real]
        keep = nms(xyxy, score, self.nms_iou)
        return Detections(xyxy[keep], score[keep])


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy class-agnostic NMS, highest score first."""
    order = np.argsort(-scores, kind="stable")
    areas = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    kept: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(int(best))
        inter_w = np.minimum(xyxy[best, 2], xyxy[rest, 2]) - np.maximum(xyxy[best, 0], xyxy[rest, 0])
        inter_h = np.minimum(xyxy[best, 3], xyxy[rest, 3]) - np.maximum(xyxy[best, 1], xyxy[rest, 1])
        inter = inter_w.clip(0) * inter_h.clip(0)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.array(kept, dtype=np.int64)


def strips(width: int, height: int, count: int) -> list[tuple[int, int, int, int]]:
    """`count` overlapping (x0, y0, x1, y1) strips along the longer side; [] for count 0."""
    if count == 0:
        return []
    long_side = max(width, height)
    size = long_side / (count - (count - 1) * TILE_OVERLAP)
    spans = []
    for i in range(count):
        start = round(i * size * (1 - TILE_OVERLAP))
        spans.append((start, long_side if i == count - 1 else round(start + size)))
    if width >= height:
        return [(a, 0, b, height) for a, b in spans]
    return [(0, a, width, b) for a, b in spans]


