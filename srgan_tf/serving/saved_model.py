"""A generator as a versioned SavedModel for TF Serving.

`export_dir/<version>/` is the layout TF Serving polls. Each version is written under a temporary name
that TF Serving ignores (not all digits) and renamed into place, so a server never loads half a version,
and an existing version is only replaced when asked to. The SavedModel carries warm-up requests in
`assets.extra/tf_serving_warmup_requests`, so the first real request does not pay for initialisation.
"""
from __future__ import annotations

import operator
import os
import shutil
import tempfile
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.generator import float32_generator
from srgan_tf.serving.module import DEFAULT_MAX_PIXELS, SuperResolutionModule
from srgan_tf.serving.signatures import IMAGE_BYTES, PIXELS, PREDICT_PIXELS, PREDICT_PIXELS16, SERVE_ENCODED
from srgan_tf.serving.tiling import DEFAULT_TILE_SIZE, tiling_for

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def warmup_requests(size: int = 24) -> list:
    """`PredictionLog`s exercising each signature, `serving_default` with an 8-bit RGB PNG."""
    ramp = np.linspace(0, 255, size, dtype=np.float64)
    pixels = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], ramp[::-1, None]), axis=-1)
    pixels = pixels.astype(np.uint8)
    requests = []
    for signature, name, value in [
        (SERVE_ENCODED, IMAGE_BYTES, tf.make_tensor_proto([tf.io.encode_png(pixels).numpy()])),
        (PREDICT_PIXELS, PIXELS, tf.make_tensor_proto(pixels[None])),
        (PREDICT_PIXELS16, PIXELS, tf.make_tensor_proto(pixels[None].astype(np.uint16) * 257)),
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


def check_absent(version_dir: str) -> None:
    """Refuses an existing version. Exports that are not to overwrite one check before any slow work (a
    command writing several versions checks them all before the first)."""
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
        check_absent(version_dir)
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


def export_saved_model(generator: keras.Model, model_config: GeneratorConfig, export_dir: str, version: int, *,
                       tile_size: int = DEFAULT_TILE_SIZE, tile_overlap: Optional[int] = None,
                       max_pixels: int = DEFAULT_MAX_PIXELS, overwrite: bool = False) -> str:
    """Writes `generator`, computing in float32, as SavedModel `export_dir/<version>/` and returns that
    directory.

    Signatures: `serving_default` (encoded images in `image_bytes` -> PNG `image_bytes` of the same channels
    and depth, `height`, `width`), `predict_pixels` (uint8 `pixels` -> uint8 `pixels`) and `predict_pixels16`
    (uint16 `pixels` -> uint16 `pixels`). Images larger than `tile_size` are upscaled
    in tiles sharing `tile_overlap` pixels (default: `tiling_for`'s, exact for small generators, within one
    grey level for the paper's); images over `max_pixels` input pixels are refused with INVALID_ARGUMENT.
    """
    version = _version_number(version)
    tiling = tiling_for(model_config, tile_size, tile_overlap)
    version_dir = os.path.join(export_dir, str(version))
    if not overwrite:
        check_absent(version_dir)  # fail before the slow save; _publish checks again when renaming
    os.makedirs(export_dir, exist_ok=True)
    staging_dir = tempfile.mkdtemp(dir=export_dir, prefix=f".tmp-{version}-")
    os.chmod(staging_dir, 0o755)  # mkdtemp makes it private; a server running as another user must read it
    try:
        module = SuperResolutionModule(float32_generator(generator, model_config), model_config.scale, tiling,
                                       max_pixels)
        tf.saved_model.save(module, staging_dir, signatures=module.signatures())
        _write_warmup_requests(staging_dir)
        _publish(staging_dir, version_dir, overwrite)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return version_dir
