"""The SRGAN discriminator: an HR patch in, one real/fake logit out."""
from __future__ import annotations

import keras
from keras import layers

from srgan_tf.config import DiscriminatorConfig
from srgan_tf.modeling.layers import FusedBatchNormalization


def build_discriminator(config: DiscriminatorConfig, patch_size: int) -> keras.Model:
    """SRGAN discriminator: HR patch in [0, 1] to one real/fake logit (float32)."""
    size, f = patch_size, config.discriminator_filters
    hr = keras.Input((size, size, 3), name="hr")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_signed")(hr)
    x = layers.Conv2D(f, 3, padding="same", name="conv0")(x)
    x = layers.LeakyReLU(0.2, name="lrelu0")(x)
    widths = [f, f * 2, f * 2, f * 4, f * 4, f * 8, f * 8]
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, strides=2 if i % 2 else 1, padding="same", name=f"conv{i}")(x)
        x = FusedBatchNormalization(name=f"bn{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(f * 16, name="dense")(x)
    x = layers.LeakyReLU(0.2, name="dense_lrelu")(x)
    logits = layers.Dense(1, dtype="float32", name="logits")(x)
    return keras.Model(hr, logits, name="discriminator")
