"""Serialisable building blocks of the SRGAN networks (no Lambda layers)."""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable(package="srgan_tf")
class PixelShuffle(layers.Layer):
    """Sub-pixel upsampling: `[N, H, W, C * r^2] -> [N, rH, rW, C]` (Shi et al. 2016)."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.factor)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        grow = lambda d: None if d is None else d * self.factor  # noqa: E731
        return (n, grow(h), grow(w), c // (self.factor ** 2))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="srgan_tf")
class VggPreprocess(layers.Layer):
    """RGB in [0, 1] to what Keras' VGG19 expects: BGR in [0, 255] minus the ImageNet channel means."""

    MEAN_BGR = (103.939, 116.779, 123.68)

    def call(self, inputs):
        bgr = tf.reverse(tf.cast(inputs, self.compute_dtype), axis=[-1]) * 255.0
        return bgr - tf.constant(self.MEAN_BGR, dtype=self.compute_dtype)


def residual_block(x, filters: int, name: str):
    """conv-BN-PReLU-conv-BN plus the identity, as in SRResNet."""
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(y)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def upsample_block(x, filters: int, name: str):
    """conv to 4x the filters, pixel shuffle x2, PReLU."""
    x = layers.Conv2D(filters * 4, 3, padding="same", name=f"{name}_conv")(x)
    x = PixelShuffle(2, name=f"{name}_shuffle")(x)
    return layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)
