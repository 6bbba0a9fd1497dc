"""Convert the TFJS graph model `nanodet.{json,bin}` to ONNX (run by make_nanodet_onnx.sh).

The TFJS file holds a TF GraphDef in JSON (`modelTopology`) whose weight nodes are empty
`Const`s; the weights sit in the `.bin` file as float16 (floats) or int32 (ints, also for
int64 nodes). This script fills the constants, checks that the graph has only ops plain
TensorFlow knows, converts it with tf2onnx, renames the tensors, makes the spatial input
size free (the graph is fully convolutional; its upsampling uses scales and its reshapes
-1), and checks the ONNX against TensorFlow at the original 416x416 input.

Usage: python nanodet_tfjs_to_onnx.py nanodet.json OUT.onnx
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
import tf2onnx
from google.protobuf import json_format

INPUT = "input_1"
# TFJS output name -> ONNX name: person + 79 other COCO class scores (sigmoid) and box
# distributions (4 sides x 11 bins) per cell, for strides 8, 16 and 32.
OUTPUTS = {
    "Identity": "cls_s8", "Identity_1": "cls_s16", "Identity_2": "cls_s32",
    "Identity_3": "reg_s8", "Identity_4": "reg_s16", "Identity_5": "reg_s32",
}


def graph_def_from_tfjs(model_json: Path) -> tf.compat.v1.GraphDef:
    model = json.loads(model_json.read_text())
    graph = tf.compat.v1.GraphDef()
    json_format.ParseDict({"node": model["modelTopology"]["node"]}, graph)
    weights: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        data = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            stored = np.dtype(w.get("quantization", {}).get("dtype", w["dtype"]))
            if stored.kind == "u":
                sys.exit(f"{w['name']}: affine-quantized ({stored}) weights are not handled")
            count = int(np.prod(shape))
            weights[w["name"]] = np.frombuffer(data, stored, count, offset).reshape(shape)
            offset += count * stored.itemsize
        if offset != len(data):
            sys.exit(f"weights manifest covers {offset} of {len(data)} bytes")
    for node in graph.node:
        if node.op == "Const" and node.name in weights:
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name].astype(dtype)))
    unknown = sorted({n.op for n in graph.node if n.op.startswith("_") or n.op.startswith("Fused")})
    if unknown:
        sys.exit(f"TFJS-only fused ops need unfusing first: {unknown}")
    return graph


def to_onnx(graph: tf.compat.v1.GraphDef) -> onnx.ModelProto:
    model, _ = tf2onnx.convert.from_graph_def(
        graph, input_names=[f"{INPUT}:0"], output_names=[f"{k}:0" for k in OUTPUTS], opset=17
    )
    renames = {f"{INPUT}:0": "image", **{f"{k}:0": v for k, v in OUTPUTS.items()}}
    for node in model.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for value in [*model.graph.input, *model.graph.output]:
        value.name = renames[value.name]
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_param = "batch"
        if value in model.graph.input:
            dims[2].dim_param, dims[3].dim_param = "height", "width"
        else:
            dims[1].dim_param = "cells"
    onnx.checker.check_model(model)
    return model


def verify(graph: tf.compat.v1.GraphDef, onnx_path: Path) -> None:
    rng = np.random.default_rng(0)
    small = rng.uniform(-2, 2, (1, 13, 13, 3)).astype(np.float32)
    image = tf.image.resize(small, (416, 416)).numpy().transpose(0, 3, 1, 2)
    with tf.Graph().as_default() as g:
        tf.import_graph_def(graph, name="")
        with tf.compat.v1.Session(graph=g) as session:
            expected = session.run([f"{k}:0" for k in OUTPUTS], {f"{INPUT}:0": image})
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(list(OUTPUTS.values()), {"image": image})
    for name, e, o in zip(OUTPUTS.values(), expected, got):
        diff = float(np.abs(e - o).max())
        print(f"{name}: shape {o.shape}, max |TF - ONNX| = {diff:.2e}")
        if e.shape != o.shape or diff > 1e-3:
            sys.exit(f"ONNX output {name} differs from TensorFlow's")
    other = session.run(None, {"image": np.zeros((1, 3, 288, 384), np.float32)})
    cells = [o.shape[1] for o in other]
    if cells != [36 * 48, 18 * 24, 9 * 12] * 2:
        sys.exit(f"a 384x288 input gave cells {cells}")
    print("384x288 input: cells", cells[:3])


def main(model_json: str, out: str) -> None:
    graph = graph_def_from_tfjs(Path(model_json))
    onnx.save(to_onnx(graph), out)
    verify(graph, Path(out))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
