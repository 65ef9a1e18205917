"""Exports a training checkpoint as a versioned SavedModel for TF Serving (see `srgan_tf.serving.saved_model`),
or as a file that runs without TensorFlow (see `srgan_tf.deploy`).

    srgan-export --model_dir=runs/srgan --export_dir=exports [--version=N] [--overwrite]
    srgan-export --model=srresnet-x4 --export_dir=exports [--format=...]       # a shipped model (version 1)
    srgan-export --model_dir=runs/srgan --export_dir=exports --format=onnx       # exports/<N>.onnx
    srgan-export --model_dir=runs/srgan --export_dir=exports --format=litert \
        [--quantize=none|float16|dynamic_int8]                                   # exports/<N>[_<quantize>].tflite

The ONNX and LiteRT files are checked against TensorFlow's output on a probe picture before they are written.
"""
from __future__ import annotations

import os
import sys

from absl import flags

from srgan_tf import pretrained
from srgan_tf.common import commands

commands.quiet_tensorflow()  # before anything imports TensorFlow

from srgan_tf.deploy.export import export_portable  # noqa: E402
from srgan_tf.deploy.formats import LITERT, ONNX  # noqa: E402
from srgan_tf.deploy.litert_export import QUANTIZATIONS  # noqa: E402
from srgan_tf.deploy.onnx_export import DEFAULT_OPSET  # noqa: E402
from srgan_tf.modeling.checkpointing import load_generator  # noqa: E402
from srgan_tf.serving import tiling_flags  # noqa: E402
from srgan_tf.serving.saved_model import export_saved_model  # noqa: E402

SAVED_MODEL = "saved_model"
SHIPPED_VERSION = 1  # the default version of a shipped model's export: it has no training step of its own
_FORMAT_FLAGS = {"quantize": LITERT, "opset": ONNX}  # flags that only one format takes


def main(argv):
    del argv
    f = flags.FLAGS
    try:
        for name, model_format in _FORMAT_FLAGS.items():
            if f[name].present and f.format != model_format:
                raise ValueError(f"--{name} applies to --format={model_format} only, not --format={f.format}.")
        source = _source(f.model, f.model_dir)
        if source == f.model and not (os.path.exists(source) or os.path.exists(source + ".index")):
            # A shipped model's name; an unknown one is refused with the list of names.
            (generator, model_config), step = pretrained.load_generator(source), SHIPPED_VERSION
        else:
            generator, model_config, step = load_generator(source)
        version = step if f.version is None else f.version
        tiling = dict(tile_size=f.tile_size, tile_overlap=f.tile_overlap, overwrite=f.overwrite)
        if f.format == SAVED_MODEL:
            path = export_saved_model(generator, model_config, f.export_dir, version, max_pixels=f.max_pixels,
                                      **tiling)
            checked = None
        else:
            print(f"Converting {source} (step {step}) to {f.format}...")
            path, checked = export_portable(generator, model_config, f.export_dir, version, f.format,
                                            quantize=f.quantize, opset=f.opset, **tiling)
    except (FileNotFoundError, FileExistsError, ValueError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Exported {source} (step {step}) to {path}")
    if checked is not None:
        print(f"Checked against TensorFlow on a probe picture: {checked}")
    return 0


def _source(model, model_dir) -> str:
    """What to export: --model or --model_dir, exactly one of them."""
    if (model is None) == (model_dir is None):
        raise ValueError("Give --model (a shipped model's name, or a model directory / checkpoint) or "
                         "--model_dir, not both or neither.")
    return model if model is not None else model_dir


def _define_flags() -> None:
    """Called by `run()`: importing this module defines no flags."""
    flags.DEFINE_string("model_dir", None, "Model directory or checkpoint prefix to export.")
    flags.DEFINE_string("model", None, "A shipped model's name (srgan-upscale --list_models), or as --model_dir "
                                       "a model directory / checkpoint prefix.")
    tiling_flags.define_export_flags("Version: the directory (SavedModel) or file name; default: the "
                                     "checkpoint's global step.")
    flags.DEFINE_enum("format", SAVED_MODEL, [SAVED_MODEL, ONNX, LITERT],
                      "saved_model: a TF Serving version directory; onnx: <version>.onnx for ONNX Runtime "
                      "(extra .[onnx]); litert: <version>.tflite for the LiteRT interpreter (extra .[litert]).")
    flags.DEFINE_enum("quantize", "none", list(QUANTIZATIONS),
                      "LiteRT only: float32 weights (none), float16 weights, or int8 weights with activations "
                      "quantised on the fly (dynamic_int8).")
    flags.DEFINE_integer("opset", DEFAULT_OPSET, "ONNX only: the operator set version.", lower_bound=13)


def run() -> None:
    """The `srgan-export` command (`python -m srgan_tf.export`)."""
    _define_flags()
    commands.run(main)


if __name__ == "__main__":
    run()
