"""The frozen VGG19 feature extractor of the perceptual (content) loss."""
from __future__ import annotations

import math
import os
from typing import Sequence

import keras
import numpy as np
from keras import layers

from srgan_tf.config import BEFORE_RELU, LossConfig
from srgan_tf.modeling.layers import VggPreprocess
from srgan_tf.modeling.policies import dtype_policy


def _vgg_policy() -> str:
    """float32 under mixed_float16, whose range VGG's activations (up to thousands, and their squares in the
    loss) could overflow; any other policy, bfloat16's float32 range included, is kept."""
    policy = keras.config.dtype_policy().name
    return "float32" if policy == "mixed_float16" else policy


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


def _features_before_relu(conv: layers.Conv2D, inputs):
    """What `conv` computes on `inputs` before its ReLU: a linear copy of it, with its weights."""
    linear = layers.Conv2D(conv.filters, conv.kernel_size, padding=conv.padding, name=conv.name + BEFORE_RELU)
    features = linear(inputs)
    linear.set_weights(conv.get_weights())
    return features


def keras_layer(name: str) -> str:
    """The Keras VGG19 layer of a feature map named as in `config.VGG_LAYERS`: "vgg54_before_relu" is the
    convolution "block5_conv4" (before its ReLU)."""
    return f"block{name[3]}_conv{name[4]}"


def _feature_maps(vgg: keras.Model, names: Sequence[str]) -> keras.Model:
    """VGG19's layers up to the deepest of the named feature maps, with one output per name, in their order.

    A convolution whose features are wanted before its ReLU runs once, linearly, and its ReLU follows as a layer
    of its own, feeding the next layers (and the output of the same convolution after its ReLU, if also named):
    no convolution is computed twice.
    """
    def key(name: str) -> str:
        return keras_layer(name) + (BEFORE_RELU if name.endswith(BEFORE_RELU) else "")

    split = {keras_layer(name) for name in names if name.endswith(BEFORE_RELU)}
    missing = {key(name) for name in names}
    maps = {}
    x = inputs = keras.Input((None, None, 3), name="bgr")
    for layer in vgg.layers[1:]:  # a chain: convolutions and max-poolings
        if not missing:
            break
        if layer.name in split:
            maps[layer.name + BEFORE_RELU] = _features_before_relu(layer, x)
            x = layers.Activation(layer.activation, name=layer.name + "_relu")(maps[layer.name + BEFORE_RELU])
        else:
            x = layer(x)
        maps[layer.name] = x
        missing -= {layer.name, layer.name + BEFORE_RELU}
    outputs = [maps[key(name)] for name in names]
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs)


def build_vgg_features(config: LossConfig, seed: int = 0) -> keras.Model:
    """Frozen VGG19 up to the deepest layer of `config.weighted_vgg_layers` (each after its ReLU, or before it
    for `*_before_relu`), taking RGB in [0, 1]; float32 weights, computing in the global policy's dtype (float32
    under mixed_float16).

    Its output: the features of --vgg_layer (one layer), or a list of each layer's, in the order of
    --vgg_layer_weights.

    `vgg_weights`: "imagenet" (Keras' download and cache), "none" (random, seeded) or a local weights file.
    """
    weights = config.vgg_weights
    if weights not in ("imagenet", "none") and not os.path.isfile(weights):
        raise ValueError(f"--vgg_weights={weights!r}: no such file (use 'imagenet', 'none' or a path).")
    with dtype_policy(_vgg_policy()):
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
        names = [name for name, _ in config.weighted_vgg_layers]
        features = _feature_maps(vgg, names)
        model = keras.Model(rgb, features(VggPreprocess(dtype="float32", name="vgg_preprocess")(rgb)),
                            name="vgg19_" + "_".join(names))
    model.trainable = False
    return model
