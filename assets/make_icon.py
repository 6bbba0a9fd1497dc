"""Draw the page icon (assets/icon.png, 64x64: a walking figure on a dot path) with
OpenCV, so the dashboard ships its icon instead of fetching one from a font host.

    python assets/make_icon.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parent / "icon.png"
SIZE, SCALE = 64, 8  # drawn 8x larger, then shrunk for smooth edges


def draw() -> np.ndarray:
    s = SIZE * SCALE
    img = np.zeros((s, s, 4), np.uint8)  # BGRA, transparent
    blue, orange = (181, 110, 31, 255), (46, 87, 228, 255)

    def p(x: float, y: float) -> tuple[int, int]:
        return int(x * SCALE), int(y * SCALE)

    def limb(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> None:
        cv2.polylines(img, [np.array([p(*a), p(*b), p(*c)])], False, blue, 6 * SCALE, cv2.LINE_AA)

    for i, x in enumerate((8, 20, 32, 44, 56)):  # the path
        cv2.circle(img, p(x, 59), int((1.5 + 0.4 * i) * SCALE), orange, -1, cv2.LINE_AA)
    cv2.circle(img, p(36, 9), 6 * SCALE, blue, -1, cv2.LINE_AA)  # head
    cv2.line(img, p(34, 19), p(29, 36), blue, 8 * SCALE, cv2.LINE_AA)  # body
    limb((34, 21), (41, 28), (47, 27))  # front arm
    limb((33, 21), (25, 26), (19, 31))  # back arm
    limb((29, 36), (36, 44), (38, 53))  # front leg
    limb((29, 36), (23, 45), (15, 50))  # back leg
    return cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


if __name__ == "__main__":
    cv2.imwrite(str(OUT), draw())
    print(f"wrote {OUT}")
