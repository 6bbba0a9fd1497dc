#!/usr/bin/env bash
# Make peoplepath/models/nanodet_coco_int8.onnx from the committed fp32 peoplepath/models/nanodet_coco.onnx
# with onnxruntime's own quantisation tooling (assets/quantize_nanodet.py), calibrated on frames
# of ../shared/data's PETS09-S2L1 and TUD-Stadtmitte clips. PyPI only; under a minute of work
# on a quiet machine.
#
# Usage: bash assets/make_nanodet_int8.sh [output.onnx]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../peoplepath/models/nanodet_coco_int8.onnx"}
work=$(mktemp -d /tmp/nanodet_int8.XXXXXX)
trap 'rm -rf "$work"' EXIT

# onnxruntime.quantization needs the `onnx` package, which the engine does not: install it
# beside the project's requirements in a throw-away venv.
python3 -m venv "$work/venv"
. "$work/venv/bin/activate"
pip install --quiet -r "$here/../requirements.txt" onnx==1.23.2 ml_dtypes==0.7.0
python "$here/quantize_nanodet.py" --out "$out"
echo "sha256: $(sha256sum "$out" | cut -c1-64)  $(stat -c%s "$out") bytes"
