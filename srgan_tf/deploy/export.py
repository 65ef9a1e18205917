"""Writing a generator as an `.onnx` or `.tflite` file: convert, check against TensorFlow, then publish.

The converted model is run by its runtime on a probe picture before anything is written, and compared with
the TensorFlow graph it came from; the file is written under a temporary name and renamed into place.
"""
from __future__ import annotations

import os
from typing import Optional, Tuple

import keras

from srgan_tf.common.files import write_bytes_atomic
from srgan_tf.config import GeneratorConfig
from srgan_tf.deploy import formats
from srgan_tf.deploy.formats import ONNX, ModelInfo
from srgan_tf.deploy.litert_export import convert_to_litert
from srgan_tf.deploy.onnx_export import DEFAULT_OPSET, convert_to_onnx
from srgan_tf.deploy.parity import Parity, parity, probe_image
from srgan_tf.deploy.pixel_graph import OUTPUT_NAME, PixelGraph
from srgan_tf.deploy.runtimes import from_content
from srgan_tf.modeling.generator import float32_generator
from srgan_tf.serving.tiling import DEFAULT_TILE_SIZE, tiling_for


def export_file_name(model_format: str, version: int, quantize: str = "none") -> str:
    """`<version>.onnx`, `<version>.tflite`, or `<version>_<quantize>.tflite` for a quantised one."""
    stem = str(version) if quantize == "none" else f"{version}_{quantize}"
    return stem + formats.SUFFIXES[model_format]


def export_portable(generator: keras.Model, config: GeneratorConfig, export_dir: str, version: int,
                    model_format: str, *, quantize: str = "none", opset: int = DEFAULT_OPSET,
                    tile_size: int = DEFAULT_TILE_SIZE, tile_overlap: Optional[int] = None,
                    overwrite: bool = False) -> Tuple[str, Parity]:
    """Writes `export_dir/<file>` (see `export_file_name`); returns its path and its parity with TensorFlow
    on `probe_image()`. The tiling flags are recorded for the runtimes (the file itself is untiled)."""
    if model_format not in formats.SUFFIXES:
        raise ValueError(f"--format={model_format} is not a portable format ({', '.join(formats.SUFFIXES)}).")
    formats.require_extra(model_format)
    path = os.path.join(export_dir, export_file_name(model_format, version, quantize))
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass --overwrite to replace it.")
    tile_overlap = tiling_for(config, tile_size, tile_overlap).tile_overlap
    info = ModelInfo(scale=config.scale, tile_overlap=tile_overlap, generator=config.generator)
    graph = PixelGraph(float32_generator(generator, config))
    if model_format == ONNX:
        content = convert_to_onnx(graph, info, opset)
    else:
        content = convert_to_litert(graph, info, quantize)
    probe = probe_image()
    reference = graph.upscale(probe[None])[OUTPUT_NAME].numpy()[0]
    checked = parity(reference, from_content(model_format, content, path)(probe))
    write_bytes_atomic(path, content)
    return path, checked
