"""Exporting a generator as a versioned SavedModel for TF Serving.

`export_dir/<version>/` is the layout TF Serving polls. Each version is written under a temporary name
that TF Serving ignores (not all digits) and renamed into place, so a server never loads half a version,
and an existing version is only replaced when asked to. The SavedModel carries warm-up requests in
`assets.extra/tf_serving_warmup_requests`, so the first real request does not pay for initialisation.

    python -m srgan_tf.export --model_dir=runs/srgan --export_dir=exports [--version=N] [--overwrite]
"""
from __future__ import annotations

import operator
import os
import shutil
import sys
import tempfile
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from srgan_tf.checkpoints import load_generator
from srgan_tf.config import ModelConfig
from srgan_tf.serving import DEFAULT_MAX_PIXELS, SuperResolutionModule
from srgan_tf.tiling import DEFAULT_TILE_SIZE, tiling_for

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def warmup_requests(size: int = 24) -> list:
    """`PredictionLog`s exercising both signatures (every request runs the same decode/tile/encode graph)."""
    ramp = np.linspace(0, 255, size, dtype=np.float64)
    pixels = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], ramp[::-1, None]), axis=-1)
    pixels = pixels.astype(np.uint8)
    requests = []
    for signature, name, value in [
        ("serving_default", "image_bytes", tf.make_tensor_proto([tf.io.encode_png(pixels).numpy()])),
        ("predict_pixels", "pixels", tf.make_tensor_proto(pixels[None])),
    ]:
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = signature
        request.inputs[name].CopyFrom(value)
        log = prediction_log_pb2.PredictLog(request=request)
        requests.append(prediction_log_pb2.PredictionLog(predict_log=log))
    return requests


def _write_warmup_requests(saved_model_dir: str) -> None:
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in warmup_requests():
            writer.write(log.SerializeToString())


def _check_absent(version_dir: str) -> None:
    if os.path.exists(version_dir):
        version = os.path.basename(version_dir)
        raise FileExistsError(f"{version_dir} already exists; pass --overwrite to replace version {version}.")


def _publish(staging_dir: str, version_dir: str, overwrite: bool) -> None:
    """Renames a complete export into place.

    With `overwrite`, the old version is moved aside first and deleted only once the new one is in place
    (between the two renames a polling server may briefly see no such version).
    """
    export_dir, version = os.path.split(version_dir)
    retired = None
    if not overwrite:
        _check_absent(version_dir)
    elif os.path.exists(version_dir):
        retired = tempfile.mkdtemp(dir=export_dir, prefix=f".old-{version}-")
        os.replace(version_dir, os.path.join(retired, version))
    try:
        os.rename(staging_dir, version_dir)  # fails if another writer published this version meanwhile
    except OSError:
        if retired is not None:
            os.replace(os.path.join(retired, version), version_dir)
        raise
    finally:
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)


def _version_number(version) -> int:
    """TF Serving only loads directories named by non-negative integers."""
    try:
        number = operator.index(version)
    except TypeError:
        number = -1
    if number < 0:
        raise ValueError(f"--version={version!r}: a version must be a non-negative integer "
                         "(the name of TF Serving's version directory).")
    return number


def export_saved_model(generator: keras.Model, model_config: ModelConfig, export_dir: str, version: int, *,
                       tile_size: int = DEFAULT_TILE_SIZE, tile_overlap: Optional[int] = None,
                       max_pixels: int = DEFAULT_MAX_PIXELS, overwrite: bool = False) -> str:
    """Writes `generator` as SavedModel `export_dir/<version>/` and returns that directory.

    Signatures: `serving_default` (encoded images in `image_bytes` -> PNG `image_bytes`, `height`, `width`)
    and `predict_pixels` (uint8 `pixels` -> uint8 `pixels`). Images larger than `tile_size` are upscaled
    in tiles sharing `tile_overlap` pixels (default: exact for this generator); images over `max_pixels`
    input pixels are refused with INVALID_ARGUMENT.
    """
    version = _version_number(version)
    tiling = tiling_for(model_config, tile_size, tile_overlap)
    version_dir = os.path.join(export_dir, str(version))
    if not overwrite:
        _check_absent(version_dir)  # fail before the slow save; _publish checks again when renaming
    os.makedirs(export_dir, exist_ok=True)
    staging_dir = tempfile.mkdtemp(dir=export_dir, prefix=f".tmp-{version}-")
    os.chmod(staging_dir, 0o755)  # mkdtemp makes it private; a server running as another user must read it
    try:
        module = SuperResolutionModule(generator, model_config.scale, tiling, max_pixels)
        tf.saved_model.save(module, staging_dir, signatures=module.signatures())
        _write_warmup_requests(staging_dir)
        _publish(staging_dir, version_dir, overwrite)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return version_dir


def main(argv):
    del argv
    f = flags.FLAGS
    try:
        generator, model_config, step = load_generator(f.model_dir)
        version = step if f.version is None else f.version
        path = export_saved_model(generator, model_config, f.export_dir, version, tile_size=f.tile_size,
                                  tile_overlap=f.tile_overlap, max_pixels=f.max_pixels, overwrite=f.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Exported {f.model_dir} (step {step}) to {path}")
    return 0


def _define_flags() -> None:
    """Flags exist only when this module is the program, so importing `export_saved_model` defines none."""
    flags.DEFINE_string("model_dir", None, "Model directory or checkpoint prefix to export.", required=True)
    flags.DEFINE_string("export_dir", None, "Directory TF Serving polls; writes <export_dir>/<version>.",
                        required=True)
    flags.DEFINE_integer("version", None, "Version directory name; default: the checkpoint's global step.",
                         lower_bound=0)
    flags.DEFINE_bool("overwrite", False, "Replace an existing version directory.")
    flags.DEFINE_integer("tile_size", DEFAULT_TILE_SIZE, "Input pixels per tile side (bounds memory).",
                         lower_bound=1)
    flags.DEFINE_integer("tile_overlap", None, "Input pixels shared by neighbouring tiles (default: exact).",
                         lower_bound=0)
    flags.DEFINE_integer("max_pixels", DEFAULT_MAX_PIXELS, "Largest accepted input, in pixels per image.",
                         lower_bound=1)


if __name__ == "__main__":
    _define_flags()
    app.run(main)
