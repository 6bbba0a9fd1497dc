"""Faces protected in frames that leave the machine: every face box the engine found,
grown a little, and for a person without a face box the top of its person box (the head
region), replaced by a smooth blur that keeps no detail of the face.

A frame between two sampled detections (the engine may analyse fewer frames than the
video has) is covered by both detections' regions and the region interpolated between
them, so a moving face is hidden on every frame of an export.
"""

from __future__ import annotations

from typing import Any, Mapping

import cv2
import numpy as np
import pandas as pd

from . import overlay

FACE_GROW = 0.25  # each side of a face box grows by this share of its size
HEAD_SHARE = 0.22  # the head region: this top share of a person box (and a margin above it)
NEAR_MS = 1000  # detections this close to a frame's time cover it
CELLS = 4  # the blurred region keeps this many cells across its shorter side, smoothed


BOX_COLUMNS = ("left", "top", "width", "height", "face_left", "face_top", "face_width", "face_height")
Rows = Mapping[str, Any]  # a results table, or its columns as arrays


def _col(rows: Rows, name: str, dtype: Any = float) -> np.ndarray:
    return np.asarray(rows[name], dtype=dtype)


def face_regions(rows: Rows, width: int, height: int) -> np.ndarray:
    """(k, 4) int pixel regions x1, y1, x2, y2 (clipped to the frame) to blur for the
    detections `rows` of a results table: face boxes grown by FACE_GROW; for detections
    without a face box, the head region of the person box."""
    face = _col(rows, "has_face", bool) & ~np.isnan(_col(rows, "face_left"))
    head = ~face & _col(rows, "has_box", bool)
    fl, ft, fw, fh = (_col(rows, f"face_{k}")[face] for k in ("left", "top", "width", "height"))
    faces = np.stack([fl - FACE_GROW * fw, ft - FACE_GROW * fh, fl + (1 + FACE_GROW) * fw,
                      ft + (1 + FACE_GROW) * fh], axis=1)
    bl, bt, bw, bh = (_col(rows, k)[head] for k in ("left", "top", "width", "height"))
    heads = np.stack([bl, bt - 0.03 * bh, bl + bw, bt + HEAD_SHARE * bh], axis=1)
    ratios = np.concatenate([faces, heads]).reshape(-1, 4)
    px = ratios * np.array([width, height, width, height], float)
    px = np.column_stack([np.floor(px[:, :2]), np.ceil(px[:, 2:])])
    px = np.clip(px, 0, [width, height, width, height]).astype(np.int64)
    return px[(px[:, 2] > px[:, 0]) & (px[:, 3] > px[:, 1])]


def blur_regions(image: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Blur each region of `image` in place (a region is shrunk to CELLS cells across
    and smoothly enlarged back, so no detail survives); returns `image`."""
    for x1, y1, x2, y2 in regions:
        roi = image[y1:y2, x1:x2]
        w, h = roi.shape[1], roi.shape[0]
        scale = CELLS / max(min(w, h), 1)
        small = cv2.resize(roi, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        roi[:] = cv2.GaussianBlur(smooth, (0, 0), sigmaX=max(1.0, min(w, h) / 8))
    return image


def covering_rows(table: pd.DataFrame, t_ms: int, near_ms: int = NEAR_MS) -> dict[str, np.ndarray]:
    """The detections that cover time `t_ms` of a time-sorted results table, as columns
    (has_box, has_face and BOX_COLUMNS): per person, its latest detection at or before
    `t_ms` and its first after it (each within `near_ms`), and, for a person with both,
    its boxes interpolated to `t_ms`."""
    ts = table["timestamp_ms"].to_numpy()
    lo, hi = np.searchsorted(ts, t_ms - near_ms, "left"), np.searchsorted(ts, t_ms + near_ms, "right")
    cols = {c: table[c].to_numpy()[lo:hi] for c in ("index", "timestamp_ms", "has_box", "has_face", *BOX_COLUMNS)}
    idx, when = cols["index"], cols["timestamp_ms"]
    early, late = np.flatnonzero(when <= t_ms)[::-1], np.flatnonzero(when > t_ms)
    before = early[np.unique(idx[early], return_index=True)[1]]  # each person's latest
    after = late[np.unique(idx[late], return_index=True)[1]]  # each person's first
    persons, b_at, a_at = np.intersect1d(idx[before], idx[after], return_indices=True)
    b, a = before[b_at], after[a_at]
    share = (t_ms - when[b]) / np.maximum(when[a] - when[b], 1)
    pick = np.concatenate([before, after, b])
    out = {c: cols[c][pick] for c in ("has_box", "has_face", *BOX_COLUMNS)}
    for c in BOX_COLUMNS:
        out[c][len(before) + len(after):] += share * (cols[c][a] - cols[c][b])  # NaN where either lacks it
    n = len(before) + len(after)
    out["has_box"][n:] &= cols["has_box"][a]
    out["has_face"][n:] &= cols["has_face"][a]
    return out


class FaceBlurAnnotator(overlay.Annotator):
    """Blurs every face of the frame's time (`View.t_ms`, with `View.table`; else the
    frame's own detections). Put it first, so the drawing on top stays sharp."""

    def draw_on(self, canvas: np.ndarray, view: overlay.View) -> None:
        w, h = canvas.shape[1], canvas.shape[0]
        regions = [face_regions(view.detections, w, h)]
        if view.table is not None and len(view.table):
            regions.append(face_regions(covering_rows(view.table, view.t_ms), w, h))
        blur_regions(canvas, np.concatenate(regions))


def blur_faces(image: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    """A copy of `image` with the faces of the detections `rows` blurred."""
    return blur_regions(np.ascontiguousarray(image).copy(), face_regions(rows, image.shape[1], image.shape[0]))
