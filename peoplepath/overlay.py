"""Drawing detections on frames: person boxes (a stable colour per Index, labelled), face
boxes, landmarks, recent path trails, and errors against ground truth.

Each drawing style is a small class behind a one-method base (`Annotator.draw_on`);
`render` copies the frame once and runs the annotators on the copy, so the caller's
array is never changed. Boxes are drawn from the table's ratio columns scaled to the
image, and trails are computed from the table for the current time (no state carried
between frames), so jumping anywhere in time draws the right thing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from . import analytics


# Distinct BGR colours (Tableau 20 order, colour-blind friendlier first).
_PALETTE = (
    (180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
    (75, 86, 140), (194, 119, 227), (34, 189, 188), (207, 190, 23), (127, 127, 127),
    (232, 199, 174), (120, 187, 255), (138, 223, 152), (150, 152, 255), (213, 176, 197),
    (148, 156, 196), (210, 182, 247), (141, 219, 219), (229, 218, 158), (199, 199, 199),
)


def color_for(index: int) -> tuple[int, int, int]:
    """The BGR colour of person `index`: the same in every frame, plot and export."""
    return _PALETTE[int(index) % len(_PALETTE)]


def color_hex(index: int) -> str:
    """`color_for(index)` as a CSS '#rrggbb' colour (for plots)."""
    b, g, r = color_for(index)
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class View:
    """What to draw: `detections` are the table rows on the frame, `table` the whole
    results table (for trails), `t_ms` the frame's time."""

    detections: pd.DataFrame
    table: pd.DataFrame | None = None
    t_ms: int = 0


class Annotator(ABC):
    @abstractmethod
    def draw_on(self, canvas: np.ndarray, view: View) -> None:
        """Draw on `canvas` (a copy `render` owns) in place."""


def render(image: np.ndarray, view: View, annotators: Sequence[Annotator]) -> np.ndarray:
    """A copy of the BGR `image` with every annotator's drawing on it."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"Expected a BGR image of shape (H, W, 3); got {image.shape}")
    canvas = np.ascontiguousarray(image).copy()
    for annotator in annotators:
        annotator.draw_on(canvas, view)
    return canvas


def _scale(canvas: np.ndarray) -> tuple[int, int]:
    return canvas.shape[1], canvas.shape[0]


def _thickness(canvas: np.ndarray) -> int:
    return max(1, round(min(canvas.shape[:2]) / 300))


def _boxes(rows: pd.DataFrame, prefix: str, w: int, h: int) -> np.ndarray:
    """Pixel boxes from ratio columns, clipped to the frame (AWS's ratios are float32,
    so an edge may pass 1 by 1e-8); the last pixel row/column is w-1 / h-1."""
    left, top = rows[f"{prefix}left"].to_numpy(), rows[f"{prefix}top"].to_numpy()
    bw, bh = rows[f"{prefix}width"].to_numpy(), rows[f"{prefix}height"].to_numpy()
    boxes = np.stack([left * w, top * h, (left + bw) * w, (top + bh) * h], axis=1)
    return np.clip(boxes, 0, [w - 1, h - 1, w - 1, h - 1])


def _feet(rows: pd.DataFrame, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Bottom-centre points of person boxes in pixels, inside the frame."""
    xs = (rows["left"].to_numpy() + rows["width"].to_numpy() / 2) * w
    ys = (rows["top"].to_numpy() + rows["height"].to_numpy()) * h
    return np.clip(xs, 0, w - 1), np.clip(ys, 0, h - 1)


class BoxAnnotator(Annotator):
    """Person boxes in each person's colour, labelled with the Index."""

    def __init__(self, label: bool = True) -> None:
        self.label = label

    def draw_on(self, canvas: np.ndarray, view: View) -> None:
        rows = view.detections[view.detections["has_box"]]
        w, h = _scale(canvas)
        t = _thickness(canvas)
        for (x1, y1, x2, y2), idx in zip(_boxes(rows, "", w, h), rows["index"].to_numpy()):
            color = color_for(idx)
            p1, p2 = (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2)))
            cv2.rectangle(canvas, p1, p2, color, t + 1, cv2.LINE_AA)
            if self.label:
                _label(canvas, f"#{idx}", p1, color)


def _label(canvas: np.ndarray, text: str, anchor: tuple[int, int], color: tuple[int, int, int],
           below: bool = False) -> None:
    scale = max(0.45, min(canvas.shape[:2]) / 900)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = min(max(anchor[0], 0), max(canvas.shape[1] - tw - 6, 0))
    y = anchor[1] - th - base - 4
    y = anchor[1] if y < 0 else y  # no room above: put the label inside the box
    if below:  # under the anchor, or above it at the bottom of the frame
        y = anchor[1] + 1 if anchor[1] + th + base + 5 <= canvas.shape[0] else anchor[1] - th - base - 4
    cv2.rectangle(canvas, (x, y), (x + tw + 6, y + th + base + 4), color, -1)
    luminance = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(canvas, text, (x + 3, y + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thick, cv2.LINE_AA)


class FaceAnnotator(Annotator):
    """Face boxes: thin white boxes with a corner tick in the person's colour."""

    def draw_on(self, canvas: np.ndarray, view: View) -> None:
        rows = view.detections[view.detections["has_face"] & view.detections["face_left"].notna()]
        w, h = _scale(canvas)
        sizes = _face_sizes(rows, w, h)
        for (x1, y1, x2, y2), idx, size in zip(_boxes(rows, "face_", w, h), rows["index"].to_numpy(), sizes):
            t = face_line_width(size, _thickness(canvas))
            p1, p2 = (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2)))
            cv2.rectangle(canvas, p1, p2, (255, 255, 255), t, cv2.LINE_AA)
            tick = max(2, (p2[0] - p1[0]) // 4)
            cv2.line(canvas, p1, (p1[0] + tick, p1[1]), color_for(idx), t + (size >= 40))
            cv2.line(canvas, p1, (p1[0], p1[1] + tick), color_for(idx), t + (size >= 40))


def _face_sizes(rows: pd.DataFrame, w: int, h: int) -> np.ndarray:
    """Each face's size in pixels: its box width, else 2.5x the distance between the
    eyes, else 40."""
    size = rows["face_width"].to_numpy() * w
    if "lm_eyeLeft_x" in rows and "lm_eyeRight_x" in rows:
        eyes = np.hypot((rows["lm_eyeLeft_x"] - rows["lm_eyeRight_x"]).to_numpy() * w,
                        (rows["lm_eyeLeft_y"] - rows["lm_eyeRight_y"]).to_numpy() * h) * 2.5
        size = np.where(np.isfinite(size), size, eyes)
    return np.where(np.isfinite(size) & (size > 0), size, 40.0)


def face_line_width(face_px: float, frame_line: int) -> int:
    """Line width of a face box: the frame's width for faces of 60 px or more, thinner
    for smaller faces (1 px below 30 px) so the marks never hide the face."""
    return int(max(1, min(frame_line, round(face_px / 30))))


def landmark_radius(face_px: float, frame_radius: int) -> int:
    """Radius of a landmark dot: a sixteenth of the face (at least 1 px), at most the
    frame's usual radius; dots of a 15 px face are 1 px, not larger than the face."""
    return int(max(1, min(frame_radius, round(face_px / 16))))


class LandmarkAnnotator(Annotator):
    """Face landmarks as dots: eyes cyan, nose yellow, mouth magenta, others white."""

    COLORS = {"eye": (255, 255, 0), "nose": (0, 255, 255), "mouth": (255, 0, 255)}

    def draw_on(self, canvas: np.ndarray, view: View) -> None:
        rows = view.detections[view.detections["has_face"]]
        if rows.empty:
            return
        w, h = _scale(canvas)
        frame_radius = max(2, _thickness(canvas) + 1)
        radii = [landmark_radius(size, frame_radius) for size in _face_sizes(rows, w, h)]
        kinds = [c[3:-2] for c in rows.columns if c.startswith("lm_") and c.endswith("_x")]
        for kind in kinds:
            xs = np.clip(rows[f"lm_{kind}_x"].to_numpy() * w, 0, w - 1)
            ys = np.clip(rows[f"lm_{kind}_y"].to_numpy() * h, 0, h - 1)
            color = next((c for key, c in self.COLORS.items() if kind.startswith(key)), (255, 255, 255))
            for x, y, radius in zip(xs, ys, radii):
                if np.isfinite(x) and np.isfinite(y):
                    centre = (int(round(x)), int(round(y)))
                    if radius >= 2:  # a dark rim, where there is room for one
                        cv2.circle(canvas, centre, radius, (0, 0, 0), -1, cv2.LINE_AA)
                        radius -= 1
                    cv2.circle(canvas, centre, radius, color, -1, cv2.LINE_AA if radius >= 2 else cv2.LINE_8)


class TrailAnnotator(Annotator):
    """Each person's recent path: the bottom-centre (feet) of their boxes over the last
    `history_ms` up to the current time, fading with age."""

    def __init__(self, history_ms: int = 3000) -> None:
        if history_ms <= 0:
            raise ValueError(f"history_ms must be positive; got {history_ms}")
        self.history_ms = history_ms

    def draw_on(self, canvas: np.ndarray, view: View) -> None:
        if view.table is None or view.table.empty:
            return
        tab = view.table
        ts = tab["timestamp_ms"].to_numpy()
        lo, hi = np.searchsorted(ts, view.t_ms - self.history_ms, "left"), np.searchsorted(ts, view.t_ms, "right")
        recent = tab.iloc[lo:hi]
        recent = recent[recent["has_box"]]
        if view.detections is not None and not view.detections.empty:
            recent = recent[recent["index"].isin(view.detections["index"].unique())]
        w, h = _scale(canvas)
        t = _thickness(canvas) + 1
        for idx, rows in recent.groupby("index", sort=False):
            if len(rows) < 2:
                continue
            xs, ys = _feet(rows, w, h)
            age = (view.t_ms - rows["timestamp_ms"].to_numpy()) / self.history_ms
            base = np.array(color_for(idx), dtype=np.float64)
            for k in range(1, len(rows)):
                fade = 1.0 - 0.75 * float(age[k])
                color = tuple(int(c) for c in base * fade + 255 * (1 - fade) * 0.2)
                p1 = (int(round(xs[k - 1])), int(round(ys[k - 1])))
                p2 = (int(round(xs[k])), int(round(ys[k])))
                cv2.line(canvas, p1, p2, color, t, cv2.LINE_AA)


class GroundTruthAnnotator(Annotator):
    """Errors against ground truth on one frame, from `gt_compare.compare` events (boxes
    in pixels of a `size` = (width, height) frame, scaled to the canvas): missed people
    (FN) as dashed magenta ground-truth boxes labelled with their ground-truth id, false
    boxes (FP) tinted red and labelled under the box, identity switches (IDSW) as a
    yellow diamond labelled with the Index that tracked this person before; with
    `matched`, the ground truth of true boxes as thin green boxes. `View` is not used."""

    MISSED, FALSE, SWITCH, MATCHED = (255, 0, 255), (0, 0, 255), (0, 215, 255), (80, 200, 80)

    def __init__(self, events: pd.DataFrame, size: tuple[int, int], *, matched: bool = False) -> None:
        if size[0] <= 0 or size[1] <= 0:
            raise ValueError(f"size must be a positive (width, height); got {size}")
        self.events, self.size, self.matched = events, size, matched

    def draw_on(self, canvas: np.ndarray, view: View) -> None:
        scale = np.array([canvas.shape[1] / self.size[0], canvas.shape[0] / self.size[1]] * 2)
        t = _thickness(canvas)
        ev = self.events
        pred = (ev[["x1", "y1", "x2", "y2"]].to_numpy(np.float64) * scale).round()
        truth = (ev[["gt_x1", "gt_y1", "gt_x2", "gt_y2"]].to_numpy(np.float64) * scale).round()
        for kind, gt_id, prev, box, gt_box in zip(ev["kind"].astype(str), ev["gt_id"], ev["prev_index"], pred, truth):
            if kind in ("TP", "IDSW") and self.matched:
                cv2.rectangle(canvas, _pt(gt_box[:2]), _pt(gt_box[2:]), self.MATCHED, t, cv2.LINE_AA)
            if kind == "FN":
                _dashed_rect(canvas, _pt(gt_box[:2]), _pt(gt_box[2:]), self.MISSED, t + 1)
                _label(canvas, f"gt {gt_id}", _pt((gt_box[0], gt_box[3])), self.MISSED)
            elif kind == "FP":
                (x1, y1), (x2, y2) = _pt(box[:2]), _pt(box[2:])
                tint = canvas[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)]
                tint[:] = (tint * 0.7 + np.array(self.FALSE) * 0.3).astype(np.uint8)
                cv2.rectangle(canvas, (x1, y1), (x2, y2), self.FALSE, t + 2, cv2.LINE_AA)
                _label(canvas, "false", (x1, y2), self.FALSE, below=True)
            elif kind == "IDSW":
                (cx, cy), r = _pt((box[2], box[1])), max(6, 3 * t + 3)  # top-right corner: clear of the label
                diamond = np.array([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], np.int32)
                cv2.fillPoly(canvas, [diamond], self.SWITCH, cv2.LINE_AA)
                cv2.polylines(canvas, [diamond], True, (0, 0, 0), max(1, t), cv2.LINE_AA)
                _label(canvas, f"was #{prev}", _pt((box[0], box[3])), self.SWITCH)


def _pt(xy: Sequence[float]) -> tuple[int, int]:
    return int(xy[0]), int(xy[1])


def _dashed_rect(canvas: np.ndarray, p1: tuple[int, int], p2: tuple[int, int], color: tuple[int, int, int],
                 thickness: int, dash: int = 8) -> None:
    """A rectangle drawn in dashes (OpenCV has no dashed line style)."""
    corners = [p1, (p2[0], p1[1]), p2, (p1[0], p2[1]), p1]
    for (xa, ya), (xb, yb) in zip(corners, corners[1:]):
        length = max(abs(xb - xa), abs(yb - ya))
        for s in range(0, length, 2 * dash):
            e = min(s + dash, length)
            a = (xa + (xb - xa) * s // max(length, 1), ya + (yb - ya) * s // max(length, 1))
            b = (xa + (xb - xa) * e // max(length, 1), ya + (yb - ya) * e // max(length, 1))
            cv2.line(canvas, a, b, color, thickness, cv2.LINE_AA)


def annotators(*, boxes: bool = True, faces: bool = True, landmarks: bool = True, trails: bool = False,
               trail_ms: int = 3000) -> list[Annotator]:
    """The standard annotator stack, trails underneath, landmarks on top."""
    out: list[Annotator] = []
    if trails:
        out.append(TrailAnnotator(trail_ms))
    if boxes:
        out.append(BoxAnnotator())
    if faces:
        out.append(FaceAnnotator())
    if landmarks:
        out.append(LandmarkAnnotator())
    return out


def draw_path(image: np.ndarray, table: pd.DataFrame, index: int) -> np.ndarray:
    """A copy of `image` with person `index`'s whole path (feet points) drawn on it,
    a dot at the start and an arrow at the end."""
    rows = table[(table["index"] == index) & table["has_box"]]
    canvas = np.ascontiguousarray(image).copy()
    if rows.empty:
        return canvas
    w, h = _scale(canvas)
    pts = np.stack(_feet(rows, w, h), axis=1).round().astype(np.int32)
    color, t = color_for(index), _thickness(canvas) + 1
    cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, color, t, cv2.LINE_AA)
    cv2.circle(canvas, tuple(int(v) for v in pts[0]), t * 3, color, -1, cv2.LINE_AA)
    if len(pts) > 1:
        cv2.arrowedLine(canvas, tuple(int(v) for v in pts[-2]), tuple(int(v) for v in pts[-1]), color, t, tipLength=1.0)
    return canvas


def heatmap_overlay(image: np.ndarray, hist: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """A copy of `image` with a (rows, cols) histogram in ratio space blended over it
    as a colour map."""
    canvas = np.ascontiguousarray(image).copy()
    if hist.max() <= 0:
        return canvas
    norm = (np.sqrt(hist / hist.max()) * 255).astype(np.uint8)
    heat = cv2.resize(norm, (canvas.shape[1], canvas.shape[0]), interpolation=cv2.INTER_CUBIC)
    heat = cv2.GaussianBlur(heat, (0, 0), sigmaX=max(canvas.shape[:2]) / 80)
    colored = cv2.applyColorMap(heat, cv2.COLORMAP_INFERNO)
    weight = (heat.astype(np.float32) / 255.0 * alpha)[..., None]
    return (canvas * (1 - weight) + colored * weight).astype(np.uint8)


class GeometryAnnotator(Annotator):
    """Lines and zones of an `analytics.Geometry` (frame ratios): zones tinted and
    outlined, lines with an arrow towards their `in` side (+1: the right of from -> to as
    seen on screen), each named; `draft` points (ratios) as numbered dots."""

    LINE, ZONE, DRAFT = (0, 215, 255), (230, 160, 0), (255, 0, 255)

    def __init__(self, geometry: "analytics.Geometry", draft: Sequence[tuple[float, float]] = ()) -> None:
        self.geometry, self.draft = geometry, list(draft)

    def draw_on(self, canvas: np.ndarray, view: View) -> None:
        w, h = _scale(canvas)
        t = _thickness(canvas) + 1
        scale = np.array([w, h], np.float64)
        for zone in self.geometry.zones:
            pts = (np.array(zone.polygon) * scale).round().astype(np.int32).reshape(-1, 1, 2)
            tint = canvas.copy()
            cv2.fillPoly(tint, [pts], self.ZONE, cv2.LINE_AA)
            cv2.addWeighted(tint, 0.25, canvas, 0.75, 0, dst=canvas)
            cv2.polylines(canvas, [pts], True, self.ZONE, t, cv2.LINE_AA)
            _label(canvas, zone.name, _pt(pts[:, 0].min(axis=0)), self.ZONE, below=True)
        for line in self.geometry.lines:
            a, b = np.array(line.start) * scale, np.array(line.end) * scale
            cv2.line(canvas, _pt(a.round()), _pt(b.round()), self.LINE, t + 1, cv2.LINE_AA)
            mid, d = (a + b) / 2, b - a
            normal = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-9)  # towards side +1 (y down)
            tip = mid + normal * max(18.0, min(w, h) / 18)
            cv2.arrowedLine(canvas, _pt(mid.round()), _pt(tip.round()), self.LINE, t, cv2.LINE_AA, tipLength=0.35)
            _label(canvas, f"{line.name} (in)", _pt(tip.round()), self.LINE)
        for k, (x, y) in enumerate(self.draft, 1):
            p = _pt((round(x * w), round(y * h)))
            cv2.circle(canvas, p, t * 3, self.DRAFT, -1, cv2.LINE_AA)
            _label(canvas, str(k), p, self.DRAFT)
