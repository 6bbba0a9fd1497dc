"""What every model here shares: onnxruntime sessions set up for 2-core machines, and the
checks of their inputs and knobs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

MAX_THREADS = 64


def onnx_session(path: str | Path, threads: int) -> ort.InferenceSession:
    """A CPU session with `threads` intra-op threads and spinning off (MODELS.md: with
    two sessions alternating on 2 cores, spinning costs more than it saves).
    PEOPLEPATH_ORT_THREADS, when set, overrides `threads` (1 for a Dask worker per core)."""
    threads = int(os.environ.get("PEOPLEPATH_ORT_THREADS") or threads)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model not found: {path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check_bgr(image: np.ndarray, name: str = "image_bgr") -> None:
    """Raise ValueError unless `image` is a non-empty uint8 (H, W, 3) array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"{name} must be a uint8 numpy array")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"{name} must have shape (H, W, 3), got {image.shape}")


def fraction(name: str, value: float) -> float:
    """`value` as a float in (0, 1], or ValueError naming the knob."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"{name} must be a number with 0 < {name} <= 1, got {value!r}")
    return float(value)


def int_in(name: str, value: int, low: int, high: int) -> int:
    """`value` as an int in low..high, or ValueError naming the knob."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    return int(value)
