"""Test videos whose frames carry their own index as a pattern of black and white blocks.

Each frame paints its 0-based index as BITS blocks (1 = white) and, in a second row, the
same bits inverted; `read_number` decodes the pattern and returns None unless both rows
agree, so a misread can never pass for another frame.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

BITS = 12
BLOCK = 20
TOP = 40  # the code rows start here, leaving room for moving texture above and below


def paint(index: int, width: int = 320, height: int = 240) -> np.ndarray:
    """A BGR frame: a moving gradient with `index` painted as two rows of blocks."""
    assert width >= BITS * BLOCK + 2 * BLOCK and height >= TOP + 3 * BLOCK
    y, x = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (x * 2 + index * 3) % 256
    image[..., 1] = (y * 2 + index * 5) % 256
    image[..., 2] = ((x + y) + index * 7) % 256
    for bit in range(BITS):
        on = (index >> bit) & 1
        x0 = BLOCK + bit * BLOCK
        image[TOP : TOP + BLOCK, x0 : x0 + BLOCK] = 255 * on
        image[TOP + BLOCK : TOP + 2 * BLOCK, x0 : x0 + BLOCK] = 255 * (1 - on)
    return image


def read_number(image: np.ndarray) -> int | None:
    """The index painted by `paint`, or None if the pattern is unreadable."""
    gray = image.mean(axis=2)
    number = 0
    for bit in range(BITS):
        cx = BLOCK + bit * BLOCK + BLOCK // 2
        upper = gray[TOP + 5 : TOP + BLOCK - 5, cx - 5 : cx + 5].mean()
        lower = gray[TOP + BLOCK + 5 : TOP + 2 * BLOCK - 5, cx - 5 : cx + 5].mean()
        if (upper > 128) == (lower > 128) or min(abs(upper - 128), abs(lower - 128)) < 60:
            return None
        number |= int(upper > 128) << bit
    return number


def write_pyav(
    path: Path,
    *,
    codec: str = "libx264",
    frames: int = 120,
    fps: float = 25,
    size: tuple[int, int] = (320, 240),
    gop: int = 250,
    bframes: int = 2,
    options: dict[str, str] | None = None,
    audio: bool = False,
    container_options: dict[str, str] | None = None,
    pix_fmt: str = "yuv420p",
) -> Path:
    """Encode painted frames with PyAV (H.264 mp4, MPEG-4 in AVI, msmpeg4 in AVI ...).

    An mp4 written this way has its moov index at the end unless
    container_options={"movflags": "faststart"}.
    """
    width, height = size
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = bframes
        if codec == "libx264":
            stream.options = {
                "preset": "veryfast",
                "crf": "20",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}",
                **(options or {}),
            }
        else:
            stream.codec_context.bit_rate = 2_000_000
            stream.options = options or {}
        sound = out.add_stream("aac", rate=44100) if audio else None
        samples = 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(paint(i, width, height), format="bgr24")
            frame.pts, frame.time_base = i, 1 / rate
            out.mux(stream.encode(frame))
            while sound is not None and samples < (i + 1) * 44100 / float(rate):
                out.mux(sound.encode(_tone(samples)))
                samples += 1024
        out.mux(stream.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))
    return path


def _tone(start: int) -> av.AudioFrame:
    t = (start + np.arange(1024)) / 44100
    data = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
    frame = av.AudioFrame.from_ndarray(data, format="fltp", layout="mono")
    frame.sample_rate, frame.pts = 44100, start
    return frame


def write_cv2(
    path: Path, fourcc: str, *, frames: int = 120, fps: float = 25, size: tuple[int, int] = (320, 240)
) -> Path:
    """Encode painted frames with OpenCV (e.g. 'mp4v' into .mp4, 'XVID' into .avi)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for i in range(frames):
        writer.write(paint(i, *size))
    writer.release()
    return path


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """A WAV file: a container PyAV opens, with no video stream."""
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("pcm_s16le", rate=44100, layout="mono")
        t = np.arange(int(44100 * seconds)) / 44100
        data = (3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(data, format="s16", layout="mono")
        frame.sample_rate = 44100
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
