"""The frozen VGG19 feature extractor of the perceptual (content) loss."""
from __future__ import annotations

import contextlib
import math
import os

import keras
import numpy as np
from keras import layers

from srgan_tf.config import VGG_LAYERS, LossConfig
from srgan_tf.modeling.layers import VggPreprocess


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


def build_vgg_features(config: LossConfig, seed: int = 0) -> keras.Model:
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
