"""Tiny networks the tests share: their configs, and a tiny SRResNet saved as a model dir and a SavedModel."""
import dataclasses
import io
import os
import shutil
import sys

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling import checkpointing
from srgan_tf.modeling.generator import build_generator
from srgan_tf.serving.saved_model import export_saved_model

# One residual block: receptive radius 10 LR pixels at x2, so tiles sharing 20 pixels are exact.
TINY = GeneratorConfig(num_residual_blocks=1, num_filters=8, scale=2)
STEP = 7
TILE_SIZE, TILE_OVERLAP, MAX_PIXELS = 32, 20, 100 * 100

# Small generators, for the tests of the networks themselves.
TINY_GENERATOR = dict(num_residual_blocks=2, num_filters=16)
RRDB_GENERATOR = dict(num_residual_blocks=1, num_filters=8, growth_channels=4)
# The networks of the trainer tests, as settings: one residual block of 8 filters, a 4-filter discriminator
# on 16-pixel patches, random VGG22 features.
MODEL = dict(num_residual_blocks=1, num_filters=8, hr_patch_size=16, discriminator_filters=4, vgg_layer="vgg22",
             vgg_weights="none")
# The fast-learning generator: BatchNorm-free blocks over a bicubic upsample.
FAST = dict(MODEL, num_residual_blocks=2, num_filters=16, generator_batch_norm=False, bicubic_residual=True)
# ESRGAN's networks and losses, tiny: RRDBNet, the VGG128 discriminator, RaGAN, L1 on features before the ReLU
# plus a weighted L1 pixel term.
ESRGAN = dict(MODEL, generator="rrdb", **RRDB_GENERATOR, discriminator="vgg128", adversarial="relativistic",
              vgg_layer="vgg22_before_relu", content_loss_type="l1", pixel_loss="l1", pixel_weight=1e-2,
              adversarial_weight=5e-3)


def generator_of(settings: dict) -> GeneratorConfig:
    """The generator's part of a dict of settings (MODEL, FAST)."""
    names = {field.name for field in dataclasses.fields(GeneratorConfig)}
    return GeneratorConfig(**{name: value for name, value in settings.items() if name in names})


def make_model_dir(model_dir: str, config: GeneratorConfig = TINY, step: int = STEP, seed: int = 0):
    """A training model directory (config and one checkpoint at `step`) holding a generator with seeded
    weights, so that tests comparing its output to 8-bit results see the same rounding every run; returns
    the generator."""
    keras.utils.set_random_seed(seed)
    generator = build_generator(config)
    checkpointing.write_model_config(model_dir, config)
    checkpoint = tf.train.Checkpoint(generator=generator, step=tf.Variable(step, dtype=tf.int64))
    tf.train.CheckpointManager(checkpoint, model_dir, max_to_keep=1, checkpoint_name="ckpt").save()
    return generator


def export_tiny(generator, export_dir: str, version: int = STEP, **kwargs) -> str:
    options = dict(tile_size=TILE_SIZE, tile_overlap=TILE_OVERLAP, max_pixels=MAX_PIXELS)
    return export_saved_model(generator, TINY, export_dir, version, **{**options, **kwargs})


def keras_upscale(generator, pixels: np.ndarray) -> np.ndarray:
    """The generator's float output in [0, 1] for uint8 `[H, W, 3]`, untiled: the reference."""
    return generator(pixels[None].astype(np.float32) / 255.0, training=False).numpy()[0]


def encode(pixels: np.ndarray, image_format: str = "PNG", mode: str = None) -> bytes:
    image = Image.fromarray(pixels)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def saved_model_cli() -> str:
    """The `saved_model_cli` of the running environment (next to its python), else the one on PATH."""
    beside_python = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    found = beside_python if os.path.exists(beside_python) else shutil.which("saved_model_cli")
    assert found, "saved_model_cli not found next to the python running the tests nor on PATH"
    return found


def run_like_tf_serving(saved_model_dir: str, request) -> dict:
    """Runs a `PredictRequest` the way TF Serving does: a TF1 session over the SavedModel's MetaGraph
    (variables restored through the graph's handles), inputs fed by the signature's tensor names."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], saved_model_dir)
        signature = meta_graph.signature_def[request.model_spec.signature_name or "serving_default"]
        feeds = {signature.inputs[key].name: tf.make_ndarray(value) for key, value in request.inputs.items()}
        fetches = {key: info.name for key, info in signature.outputs.items()}
        return session.run(fetches, feeds)
