"""The SRResNet generator, the SRGAN discriminator and the frozen VGG19 feature extractor."""
from __future__ import annotations

import contextlib
import math
import os

import keras
import numpy as np
from keras import layers

from srgan_tf.config import VGG_LAYERS, ModelConfig
from srgan_tf.layers import BicubicUpsample, VggPreprocess, residual_block, upsample_block


def build_generator(config: ModelConfig) -> keras.Model:
    """SRResNet: LR in [0, 1] of any size to SR `scale` times larger, float32 under any policy.

    The paper's network by default, whose tanh output stays in [0, 1]. `generator_batch_norm=False` drops
    BatchNorm (EDSR), and `bicubic_residual=True` adds the network's output to a bicubic upsample of its input
    (VDSR), with a zero-initialised last layer, so training starts from bicubic quality instead of from noise;
    that output is not bounded (as EDSR's), and is clipped where it becomes an image.
    """
    filters, batch_norm = config.num_filters, config.generator_batch_norm
    lr = keras.Input((None, None, 3), name="lr")
    x = layers.Conv2D(filters, 9, padding="same", name="head_conv")(lr)
    x = head = layers.PReLU(shared_axes=[1, 2], name="head_prelu")(x)
    for i in range(config.num_residual_blocks):
        x = residual_block(x, filters, name=f"res{i}", batch_norm=batch_norm,
                           residual_scaling=config.residual_scaling)
    x = layers.Conv2D(filters, 3, padding="same", name="body_conv")(x)
    if batch_norm:
        x = layers.BatchNormalization(name="body_bn")(x)
    x = layers.Add(name="body_skip")([x, head])
    for i in range(int(math.log2(config.scale))):
        x = upsample_block(x, filters, name=f"up{i}")
    # The output layers stay float32 for numerically safe losses under mixed precision.
    if config.bicubic_residual:
        x = layers.Conv2D(3, 9, padding="same", dtype="float32", kernel_initializer="zeros", name="tail_conv")(x)
        sr = layers.Add(dtype="float32", name="sr")([BicubicUpsample(config.scale, dtype="float32",
                                                                     name="bicubic")(lr), x])
    else:
        # tanh keeps the output inside the image range without clipping away gradients.
        x = layers.Conv2D(3, 9, padding="same", dtype="float32", name="tail_conv")(x)
        x = layers.Activation("tanh", dtype="float32", name="tail_tanh")(x)
        sr = layers.Rescaling(0.5, offset=0.5, dtype="float32", name="sr")(x)
    return keras.Model(lr, sr, name="srresnet")


def build_discriminator(config: ModelConfig) -> keras.Model:
    """SRGAN discriminator: HR patch in [0, 1] to one real/fake logit (float32)."""
    size, f = config.hr_patch_size, config.discriminator_filters
    hr = keras.Input((size, size, 3), name="hr")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_signed")(hr)
    x = layers.Conv2D(f, 3, padding="same", name="conv0")(x)
    x = layers.LeakyReLU(0.2, name="lrelu0")(x)
    widths = [f, f * 2, f * 2, f * 4, f * 4, f * 8, f * 8]
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, strides=2 if i % 2 else 1, padding="same", name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(f * 16, name="dense")(x)
    x = layers.LeakyReLU(0.2, name="dense_lrelu")(x)
    logits = layers.Dense(1, dtype="float32", name="logits")(x)
    return keras.Model(hr, logits, name="discriminator")


@contextlib.contextmanager
def _float32_policy():
    """Builds layers in float32 whatever the global mixed-precision policy is."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _seeded_init(model: keras.Model, seed: int) -> None:
    """Deterministic He-normal weights, so a run with random VGG features is reproducible and resumable."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kernel, bias = layer.get_weights()
            fan_in = np.prod(kernel.shape[:-1])
            layer.set_weights([
                rng.normal(0.0, math.sqrt(2.0 / fan_in), kernel.shape).astype(np.float32),
                np.zeros_like(bias),
            ])


def build_vgg_features(config: ModelConfig, seed: int = 0) -> keras.Model:
    """Frozen VGG19 up to the configured layer, float32, taking RGB in [0, 1].

    `vgg_weights`: "imagenet" (Keras' download and cache), "none" (random, seeded) or a local weights file.
    """
    weights = config.vgg_weights
    if weights not in ("imagenet", "none") and not os.path.isfile(weights):
        raise ValueError(f"--vgg_weights={weights!r}: no such file (use 'imagenet', 'none' or a path).")
    with _float32_policy():
        try:
            vgg = keras.applications.VGG19(
                include_top=False, weights=None if weights == "none" else weights, input_shape=(None, None, 3))
        except Exception as error:  # network, HTTP or a corrupt cache: say how to recover
            if weights != "imagenet":
                raise ValueError(f"--vgg_weights={weights!r} could not be loaded: {error}") from error
            raise RuntimeError(
                "Could not load the VGG19 ImageNet weights (no internet?). Download "
                "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 on a machine with internet and pass "
                f"--vgg_weights=/path/to/that/file, or --vgg_weights=none for random features. Cause: {error}"
            ) from error
        if weights == "none":
            _seeded_init(vgg, seed)
        rgb = keras.Input((None, None, 3), name="rgb")
        features = keras.Model(vgg.input, vgg.get_layer(VGG_LAYERS[config.vgg_layer]).output)
        model = keras.Model(rgb, features(VggPreprocess(name="vgg_preprocess")(rgb)),
                            name=f"vgg19_{config.vgg_layer}")
    model.trainable = False
    return model
