"""Make peoplepath/models/nanodet_coco_int8.onnx from the committed fp32 nanodet_coco.onnx with
onnxruntime's own tooling (onnxruntime.quantization, static QDQ on the convolutions but the first
and the heads, int8
weights per channel, uint8 activations (min-max) calibrated on frames of the shared clips).

    python assets/quantize_nanodet.py [--frames N] [--out PATH]

Needs the PyPI package `onnx` (onnxruntime.quantization reads and writes the graph with
it); see make_nanodet_int8.sh, which installs it in a throw-away venv. Calibration reads
every k-th frame of ../shared/data's PETS09-S2L1 and TUD-Stadtmitte clips, prepared as
the engine prepares them (detector_nanodet.preprocess at 384 px).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from peoplepath.engine.detector_nanodet import DEFAULT_MODEL_PATH, INT8_MODEL_PATH, preprocess  # noqa: E402
from peoplepath.video import iter_frames  # noqa: E402

# Kept in float: the first convolution (it reads the image) and the three head
# convolutions whose outputs are the class scores and box distributions. Quantising the
# heads too cost PETS09-S2L1 4.9 HOTA and 10 IDF1 (scores shift, so tracker thresholds and
# associations change).
FLOAT_CONVS = ("Conv__146", "Conv__177", "Conv__179", "Conv__181")
SHARED = REPO.parent / "shared" / "data"
CLIPS = (SHARED / "pets09_s2l1" / "pets09_s2l1_h264.mp4", SHARED / "tud_stadtmitte" / "tud_stadtmitte_h264.mp4")


class Frames(CalibrationDataReader):
    """`per_clip` evenly spaced frames of each calibration clip, as network inputs."""

    def __init__(self, per_clip: int, long_side: int = 384) -> None:
        blobs = []
        for clip in CLIPS:
            frames = [f.image for f in iter_frames(clip)]
            for i in np.linspace(0, len(frames) - 1, per_clip).round().astype(int):
                blobs.append(preprocess(frames[i], long_side)[0])
        self._items = iter([{"image": b} for b in blobs])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=24, help="calibration frames per clip")
    parser.add_argument("--out", type=Path, default=INT8_MODEL_PATH)
    args = parser.parse_args()
    prepared = args.out.with_suffix(".prep.onnx")
    quant_pre_process(str(DEFAULT_MODEL_PATH), str(prepared), skip_symbolic_shape=True)
    try:
        quantize_static(
            str(prepared),
            str(args.out),
            Frames(args.frames),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=["Conv"],
            nodes_to_exclude=list(FLOAT_CONVS),
        )
    finally:
        prepared.unlink(missing_ok=True)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
