"""A generator as a `.tflite` file for the LiteRT interpreter, in float32, float16 or with int8 weights.

Only LiteRT's builtin operators are allowed (no Flex ops, which would need TensorFlow's kernels linked into
the app): pixel shuffle is DEPTH_TO_SPACE, PReLU PRELU, LeakyReLU LEAKY_RELU. The input is declared
`[-1, -1, -1, 3]`, so `resize_tensor_input` takes any batch and size.
"""
from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from srgan_tf.deploy.formats import ModelInfo
from srgan_tf.deploy.pixel_graph import PixelGraph

# none: float32; float16: weights stored in float16 (half the file, computed in float32 on CPUs);
# dynamic_int8: weights in int8, activations quantised on the fly (a quarter of the file, faster on CPUs).
QUANTIZATIONS = ("none", "float16", "dynamic_int8")
_UNSUPPORTED_OP = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")


def convert_to_litert(graph: PixelGraph, info: ModelInfo, quantize: str = "none") -> bytes:
    """The `.tflite` flatbuffer of `graph`, with `info` in its metadata."""
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"--quantize={quantize} is not one of {', '.join(QUANTIZATIONS)}.")
    converter = tf.lite.TFLiteConverter.from_concrete_functions([graph.concrete_function()], graph)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        flatbuffer = converter.convert()
    except Exception as error:  # the converter's ConverterError is not public API
        unsupported = set(_UNSUPPORTED_OP.findall(str(error)))
        if unsupported:
            raise graph.unconvertible(unsupported, "LiteRT") from None
        raise
    return _with_info(flatbuffer, info)


def _with_info(flatbuffer: bytes, info: ModelInfo) -> bytes:
    """`flatbuffer` with `info` as a named metadata buffer, where LiteRT keeps data it does not run."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(info.to_json().encode(), np.uint8)
    model.buffers.append(buffer)
    metadata = schema.MetadataT()
    metadata.name = ModelInfo.KEY
    metadata.buffer = len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [metadata]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_info(flatbuffer: bytes, name: str) -> ModelInfo:
    """The `ModelInfo` an export stored in a `.tflite` file."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    key = ModelInfo.KEY.encode()
    ours = [entry for entry in model.metadata or [] if entry.name in (key, ModelInfo.KEY)]
    text = bytes(model.buffers[ours[0].buffer].data).decode("utf-8", "replace") if ours else None
    return ModelInfo.from_json(text, name)
