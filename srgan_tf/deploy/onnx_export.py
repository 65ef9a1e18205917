"""A generator as an `.onnx` file (tf2onnx), for ONNX Runtime and any other ONNX consumer.

tf2onnx converts the pixel graph to standard operators: pixel shuffle becomes DepthToSpace, LeakyReLU
LeakyRelu, PReLU Relu/Neg/Mul/Add. An op it has no converter for would be left in the graph under its
TensorFlow name, so the result is checked against ONNX's operator schemas before it is kept.
"""
from __future__ import annotations

import logging

from srgan_tf.deploy.formats import ONNX, ModelInfo, import_extra
from srgan_tf.deploy.pixel_graph import PixelGraph

# Opset 17 (ONNX 1.12, 2022): what every ONNX Runtime of the last years and onnxruntime-web run.
DEFAULT_OPSET = 17


def convert_to_onnx(graph: PixelGraph, info: ModelInfo, opset: int = DEFAULT_OPSET) -> bytes:
    """The serialised ONNX model of `graph`, with `info` in its metadata."""
    tf2onnx = import_extra("tf2onnx", ONNX)
    onnx = import_extra("onnx", ONNX)
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)  # it logs every rewrite at INFO
    function = graph.upscale
    model, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=opset)
    unknown = {node.op_type for node in model.graph.node
               if node.domain not in ("", "ai.onnx") or not onnx.defs.has(node.op_type)}
    if unknown:
        raise graph.unconvertible(unknown, "ONNX")
    model.doc_string = f"srgan_tf x{info.scale} {info.generator}: uint8 [N, H, W, 3] -> uint8 [N, sH, sW, 3]"
    model.metadata_props.add(key=ModelInfo.KEY, value=info.to_json())
    return model.SerializeToString()
