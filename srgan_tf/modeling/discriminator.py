"""The discriminators: an HR patch in, one real/fake logit out (SRGAN's, and ESRGAN's VGG128)."""
from __future__ import annotations

import keras
from keras import layers

from srgan_tf.config import DiscriminatorConfig
from srgan_tf.modeling.layers import FusedBatchNormalization


def _srgan_body(x, f: int):
    """SRGAN's: 3x3 convolutions, every other one strided, widths f to 8f, then a 1024-wide (16f) dense layer."""
    x = layers.Conv2D(f, 3, padding="same", name="conv0")(x)
    x = layers.LeakyReLU(0.2, name="lrelu0")(x)
    widths = [f, f * 2, f * 2, f * 4, f * 4, f * 8, f * 8]
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, strides=2 if i % 2 else 1, padding="same", name=f"conv{i}")(x)
        x = FusedBatchNormalization(name=f"bn{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu{i}")(x)
    return x, f * 16


def _vgg128_body(x, f: int):
    """ESRGAN's VGG128: five stages of a 3x3 convolution and a 4x4 one of stride 2 (widths f to 8f, BatchNorm
    after all but the first, no bias before BatchNorm), then a 100-wide dense layer. A 128x128 patch leaves
    4x4 features, as in the paper; other sizes leave size/32."""
    widths = [f, f * 2, f * 4, f * 8, f * 8]
    for stage, width in enumerate(widths):
        for part, (kernel, stride) in enumerate([(3, 1), (4, 2)]):
            name = f"conv{stage}_{part}"
            first = stage == 0 and part == 0
            x = layers.Conv2D(width, kernel, strides=stride, padding="same", use_bias=first, name=name)(x)
            if not first:
                x = FusedBatchNormalization(name=f"bn{stage}_{part}")(x)
            x = layers.LeakyReLU(0.2, name=f"lrelu{stage}_{part}")(x)
    return x, 100


_BODIES = {"vgg": _srgan_body, "vgg128": _vgg128_body}


def build_discriminator(config: DiscriminatorConfig, patch_size: int) -> keras.Model:
    """HR patch in [0, 1] of side `patch_size` to one real/fake logit (float32): `config.discriminator`'s
    convolutions, a dense layer with LeakyReLU, and a dense logit."""
    hr = keras.Input((patch_size, patch_size, 3), name="hr")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_signed")(hr)
    x, dense_width = _BODIES[config.discriminator](x, config.discriminator_filters)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_width, name="dense")(x)
    x = layers.LeakyReLU(0.2, name="dense_lrelu")(x)
    logits = layers.Dense(1, dtype="float32", name="logits")(x)
    return keras.Model(hr, logits, name="discriminator")
