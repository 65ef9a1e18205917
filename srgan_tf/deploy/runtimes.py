"""Running portable exports: ONNX Runtime for `.onnx` files, the LiteRT interpreter for `.tflite` files.

Each model is a callable on one uint8 window `[h, w, 3]` giving uint8 `[scale*h, scale*w, 3]`, the form
`serving.tiling.upscale_in_tiles_eagerly` tiles with.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from srgan_tf.deploy.formats import LITERT, ONNX, ModelInfo, format_of, import_extra
from srgan_tf.deploy.litert_export import read_info
from srgan_tf.deploy.pixel_graph import INPUT_NAME


class OnnxModel:
    """An `.onnx` export in an ONNX Runtime CPU session."""

    format = ONNX

    def __init__(self, content: bytes, name: str, threads: Optional[int] = None):
        onnxruntime = import_extra("onnxruntime", ONNX)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self._session = onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for unreadable models
            raise ValueError(f"{name}: not a model ONNX Runtime can load ({error}).") from error
        metadata = self._session.get_modelmeta().custom_metadata_map
        self.info = ModelInfo.from_json(metadata.get(ModelInfo.KEY), name)

    def __call__(self, window: np.ndarray) -> np.ndarray:
        return self._session.run(None, {INPUT_NAME: window[None]})[0][0]


class LiteRTModel:
    """A `.tflite` export in the LiteRT interpreter, resized to each window's shape as it comes."""

    format = LITERT

    def __init__(self, content: bytes, name: str, threads: Optional[int] = None):
        interpreter = import_extra("ai_edge_litert.interpreter", LITERT)
        try:
            # Without num_threads the interpreter may use a single core; ONNX Runtime uses them all by default.
            self._interpreter = interpreter.Interpreter(model_content=content, num_threads=threads or os.cpu_count())
        except ValueError as error:
            raise ValueError(f"{name}: not a model LiteRT can load ({error}).") from error
        self.info = read_info(content, name)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._shape = None

    def __call__(self, window: np.ndarray) -> np.ndarray:
        if window.shape != self._shape:
            self._interpreter.resize_tensor_input(self._input, (1,) + window.shape)
            self._interpreter.allocate_tensors()
            self._shape = window.shape
        self._interpreter.set_tensor(self._input, window[None])
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[0]


_MODELS = {ONNX: OnnxModel, LITERT: LiteRTModel}


def load_portable(path: str, threads: Optional[int] = None):
    """The runtime model for an `.onnx` or `.tflite` file."""
    model_format = format_of(path)
    if model_format is None:
        raise ValueError(f"{path}: not an .onnx or .tflite file.")
    try:
        with open(path, "rb") as f:
            content = f.read()
    except OSError as error:
        raise FileNotFoundError(f"{path}: cannot read the model ({error.strerror}).") from error
    return _MODELS[model_format](content, path, threads)


def from_content(model_format: str, content: bytes, name: str, threads: Optional[int] = None):
    """The runtime model for a converted model still in memory (checked before it is written)."""
    return _MODELS[model_format](content, name, threads)
