"""A cheap appearance descriptor per person box: a hue x saturation histogram.

The histogram covers the box's middle (20-80% of its width, 15-90% of its height: torso
and legs, little background or neighbour) in HSV, 16 hue x 8 saturation bins, and sums to
1. About 0.05 ms a box. ByteTracker uses it to refuse ambiguous matches between people
dressed differently (tracker.py).
"""

from __future__ import annotations

import cv2
import numpy as np

HUE_BINS, SAT_BINS = 16, 8
SIZE = HUE_BINS * SAT_BINS
_X_MARGIN, _TOP_MARGIN, _BOTTOM_MARGIN = 0.2, 0.15, 0.1


def histograms(image_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """(N, 128) float32 histograms, one per (x1, y1, x2, y2) pixel box; a box too small
    to crop (under 2x2 pixels inside the image) gets the uniform histogram."""
    if not isinstance(image_bgr, np.ndarray) or image_bgr.dtype != np.uint8 or image_bgr.ndim != 3:
        raise ValueError("image_bgr must be a uint8 (H, W, 3) array")
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    height, width = image_bgr.shape[:2]
    out = np.full((len(boxes), SIZE), 1.0 / SIZE, np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        w, h = x2 - x1, y2 - y1
        xa, xb = int(max(0, x1 + _X_MARGIN * w)), int(min(width, x2 - _X_MARGIN * w))
        ya, yb = int(max(0, y1 + _TOP_MARGIN * h)), int(min(height, y2 - _BOTTOM_MARGIN * h))
        if xb - xa < 2 or yb - ya < 2:
            continue
        hsv = cv2.cvtColor(image_bgr[ya:yb, xa:xb], cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [HUE_BINS, SAT_BINS], [0, 180, 0, 256]).ravel()
        out[i] = hist / max(float(hist.sum()), 1e-9)
    return out
