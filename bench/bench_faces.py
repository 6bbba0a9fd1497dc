"""FaceAnalyzer.analyse() against yuface on the full frame, measured in the same run.

PETS09-S2L1 (768x576, person boxes from gt/gt.txt) and the 1080p Royal Opera House clip
(person boxes made around the faces the full-frame pass finds, as a person detector would
draw them). Both methods run on the same frames, alternating, with yuface on 1 thread.
Prints wall and CPU ms per frame, faces per frame and the ratios.

    python bench/bench_faces.py [--frames 100] [--hd-step 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import yuface
from tabulate import tabulate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere
from peoplepath.engine.faces import FaceAnalyzer, _openmp  # noqa: E402

DATA = REPO.parent / "shared" / "data"
PETS = DATA / "pets09_s2l1"
HD = DATA / "faces_royal_opera_house" / "video.mp4"


def pets_frames(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first `count` frames with their ground-truth person boxes (xyxy)."""
    gt = np.loadtxt(PETS / "gt" / "gt.txt", delimiter=",")
    gt = gt[gt[:, 6] != 0]
    capture = cv2.VideoCapture(str(PETS / "pets09_s2l1_h264.mp4"))
    out = []
    for number in range(1, count + 1):  # MOT frames are 1-based
        ok, image = capture.read()
        if not ok:
            break
        rows = gt[gt[:, 0] == number]
        out.append((image, np.column_stack([rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]])))
    return out


def hd_frames(step: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(HD))
    out, index = [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            return out
        if index % step == 0:
            out.append(image)
        index += 1


def full_frame(image: np.ndarray, min_confidence: float) -> np.ndarray:
    """The baseline: yuface on the whole frame; face boxes (x1, y1, x2, y2)."""
    raw = yuface.c_detect(image)
    raw = raw[raw[:, 0] >= min_confidence, 1:5].astype(np.float64)
    return np.column_stack([raw[:, :2], raw[:, :2] + raw[:, 2:4]])


def persons_around(faces: np.ndarray, height: int) -> np.ndarray:
    """Head-and-shoulders-down person boxes around faces, cut by the frame's bottom."""
    w = faces[:, 2] - faces[:, 0]
    h = faces[:, 3] - faces[:, 1]
    cx = (faces[:, 0] + faces[:, 2]) / 2
    top = faces[:, 1] - 0.4 * h
    return np.column_stack([cx - 1.8 * w, top, cx + 1.8 * w, np.minimum(top + 7.5 * h, height)])


def measure(analyzer: FaceAnalyzer, frames: list[tuple[np.ndarray, np.ndarray | None]]) -> dict[str, float]:
    """Run the baseline and analyse() alternately on each frame; totals per frame."""
    totals = dict.fromkeys(("base_wall", "base_cpu", "base_faces", "wall", "cpu", "faces", "persons"), 0.0)
    for image, boxes in frames:
        wall, cpu = time.perf_counter(), time.process_time()
        baseline = full_frame(image, analyzer.min_confidence)
        totals["base_wall"] += time.perf_counter() - wall
        totals["base_cpu"] += time.process_time() - cpu
        totals["base_faces"] += len(baseline)
        if boxes is None:
            boxes = persons_around(baseline, image.shape[0])
        wall, cpu = time.perf_counter(), time.process_time()
        faces = analyzer.analyse(image, boxes)
        totals["wall"] += time.perf_counter() - wall
        totals["cpu"] += time.process_time() - cpu
        totals["faces"] += sum(face is not None for face in faces)
        totals["persons"] += len(boxes)
    return {key: value / len(frames) for key, value in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="PETS frames (from the first)")
    parser.add_argument("--hd-step", type=int, default=5, help="use every n-th 1080p frame")
    args = parser.parse_args()
    analyzer = FaceAnalyzer()
    omp = _openmp()
    if omp is not None:
        omp.omp_set_num_threads(analyzer.threads)  # the baseline gets the same threads
    clips = {
        "PETS09-S2L1 768x576": [(image, boxes) for image, boxes in pets_frames(args.frames)],
        "Royal Opera House 1920x1080": [(image, None) for image in hd_frames(args.hd_step)],
    }
    full_frame(clips["PETS09-S2L1 768x576"][0][0], 70.0)  # warm up
    rows = []
    for name, frames in clips.items():
        m = measure(analyzer, frames)
        rows.append(
            [
                name,
                len(frames),
                f"{m['persons']:.1f}",
                f"{m['base_wall'] * 1e3:.1f} / {m['base_cpu'] * 1e3:.1f}",
                f"{m['base_faces']:.2f}",
                f"{m['wall'] * 1e3:.1f} / {m['cpu'] * 1e3:.1f}",
                f"{m['faces']:.2f}",
                f"{m['wall'] / m['base_wall']:.3f} / {m['cpu'] / m['base_cpu']:.3f}",
            ]
        )
    headers = [
        "clip",
        "frames",
        "persons/frame",
        "full frame ms wall/cpu",
        "faces/frame",
        "analyse ms wall/cpu",
        "faces/frame",
        "analyse/full ratio wall/cpu",
    ]
    print(tabulate(rows, headers=headers))


if __name__ == "__main__":
    main()
