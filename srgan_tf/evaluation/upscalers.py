"""What an evaluation can upscale with: bicubic, a training checkpoint, an exported SavedModel, or a
generator held in memory.

Each takes one uint8 LR image `[h, w, 3]` and gives a uint8 SR image, the form in which SR results
are saved and compared in the literature.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from srgan_tf.common import imaging
from srgan_tf.training import checkpointing

BICUBIC = "bicubic"
SERVING_SIGNATURE = "predict_pixels"


@dataclasses.dataclass(frozen=True)
class Upscaler:
    """A named function from a uint8 LR image to a uint8 SR image `scale` times larger.

    `run` raises ValueError for an image it refuses (an evaluation skips that image). A wrong output size
    is the model's fault, not the image's, so it raises RuntimeError, which stops an evaluation.
    """

    name: str
    scale: int
    run: Callable[[np.ndarray], np.ndarray]
    label: str = "SR"  # short, for pictures and summaries

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        sr = np.asarray(self.run(lr))
        expected = (lr.shape[0] * self.scale, lr.shape[1] * self.scale, 3)
        if sr.shape != expected or sr.dtype != np.uint8:
            raise RuntimeError(f"{self.name} turned a {lr.shape} LR image into {sr.dtype} {sr.shape}; "
                               f"expected uint8 {expected} for x{self.scale}.")
        return sr


def bicubic(scale: int) -> Upscaler:
    """The baseline: bicubic interpolation, as every SR table reports it."""

    def run(lr):
        return imaging.to_uint8(imaging.bicubic_upscale(imaging.to_float(lr), scale)).numpy()

    return Upscaler(BICUBIC, scale, run, label=BICUBIC)


def from_checkpoint(path: str, scale: int) -> Upscaler:
    """The generator of a model directory (latest checkpoint) or of one checkpoint prefix."""
    generator, config, step = checkpointing.load_generator(path)
    if config.scale != scale:
        raise ValueError(f"{path} holds a x{config.scale} generator, but the evaluation is at x{scale}.")
    return from_generator(generator, scale, f"{path} (step {step})")


def from_generator(generator, scale: int, name: str) -> Upscaler:
    """A generator held in memory (during training, say), run untiled on the whole image."""

    # One trace for every image size.
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    def predict(lr):
        return imaging.to_uint8(generator(imaging.to_float(lr), training=False))

    return Upscaler(name, scale, lambda lr: predict(lr[None]).numpy()[0])


def from_saved_model(path: str, scale: int) -> Upscaler:
    """A SavedModel's `predict_pixels` signature: one uint8 `[N, H, W, 3]` input, one uint8 output.

    Input and output keys are read from the signature, so any naming the exporter chose works.
    """
    loaded = tf.saved_model.load(path)
    if SERVING_SIGNATURE not in loaded.signatures:
        raise ValueError(f"{path}: the SavedModel has no '{SERVING_SIGNATURE}' signature "
                         f"(it has {sorted(loaded.signatures)}).")
    signature = loaded.signatures[SERVING_SIGNATURE]
    _, inputs = signature.structured_input_signature
    outputs = {key: spec for key, spec in signature.structured_outputs.items() if spec.dtype == tf.uint8}
    if len(inputs) != 1 or next(iter(inputs.values())).dtype != tf.uint8 or len(outputs) != 1:
        raise ValueError(f"{path}: '{SERVING_SIGNATURE}' must take one uint8 image batch and return one "
                         f"uint8 image batch; it takes {inputs} and returns {signature.structured_outputs}.")
    (input_key,), (output_key,) = inputs, outputs

    def run(lr):
        # `loaded` is referenced here so its variables live as long as this upscaler.
        batch = {input_key: tf.constant(lr[None])}
        try:
            return loaded.signatures[SERVING_SIGNATURE](**batch)[output_key].numpy()[0]
        except tf.errors.InvalidArgumentError as error:  # e.g. over the export's pixel limit
            raise ValueError(f"{path} refused the image: {error.message}") from error

    return Upscaler(path, scale, run)


def resolve_saved_model(path: str) -> Optional[str]:
    """`path` if it is a SavedModel, its highest numeric version if it is a TF Serving base directory
    (`path/<version>/`), else None."""
    if tf.saved_model.contains_saved_model(path):
        return path
    if not os.path.isdir(path):
        return None
    versions = [int(name) for name in os.listdir(path)
                if name.isdigit() and tf.saved_model.contains_saved_model(os.path.join(path, name))]
    return os.path.join(path, str(max(versions))) if versions else None


def load_upscaler(model: str, scale: int) -> Upscaler:
    """`bicubic`, a SavedModel (or a TF Serving base directory: its latest version), or a training model
    directory / checkpoint prefix. Labelled with the last part of the path."""
    if model == BICUBIC:
        return bicubic(scale)
    saved_model = resolve_saved_model(model)
    if saved_model:
        upscaler = from_saved_model(saved_model, scale)
    elif os.path.exists(model) or tf.io.gfile.exists(model + ".index"):
        upscaler = from_checkpoint(model, scale)
    else:
        raise FileNotFoundError(f"{model}: no such SavedModel, model directory or checkpoint "
                                f"(or use '{BICUBIC}').")
    return dataclasses.replace(upscaler, label=os.path.basename(os.path.normpath(model)))
