"""Check that the converted ONNX gives TensorFlow's outputs (run by make_ssdlite_onnx.sh).

Usage: python verify_ssdlite_onnx.py FROZEN_GRAPH.pb MODEL.onnx
"""

from __future__ import annotations

import sys

import numpy as np
import onnxruntime as ort
import tensorflow as tf

INPUT = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3:0"
OUTPUTS = ["Postprocessor/raw_box_locations:0", "Postprocessor/Slice:0"]


def main(pb_path: str, onnx_path: str) -> None:
    graph_def = tf.compat.v1.GraphDef()
    with open(pb_path, "rb") as f:
        graph_def.ParseFromString(f.read())
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    # Smooth random blobs rather than white noise, so that some anchors score high.
    rng = np.random.default_rng(0)
    small = rng.uniform(0, 255, (2, 10, 10, 3)).astype(np.float32)
    images = tf.image.resize(small, (300, 300)).numpy()
    with tf.compat.v1.Session(graph=graph) as session:
        expected = session.run(OUTPUTS, {INPUT: images})
    got = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(
        None, {"image_rgb": images}
    )
    for name, e, g in zip(("boxes", "scores"), expected, got):
        diff = float(np.abs(e - g).max())
        print(f"{name}: shape {g.shape}, max |TF - ONNX| = {diff:.2e}")
        if e.shape != g.shape or diff > 1e-4:
            sys.exit(f"ONNX output {name} differs from TensorFlow's")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
