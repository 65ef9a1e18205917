"""The discriminators: an HR patch in, real/fake logits out, one per patch (SRGAN's, ESRGAN's VGG128) or one per
pixel (Real-ESRGAN's U-Net)."""
from __future__ import annotations

import keras
from keras import layers

from srgan_tf.config import DiscriminatorConfig
from srgan_tf.modeling.layers import FusedBatchNormalization, SpectralNormalization, StridedConv2D
from srgan_tf.registry import DISCRIMINATORS


def _patch_logit(x, width: int):
    """One logit per patch (float32): the features flattened, a `width`-wide dense layer with LeakyReLU, a
    dense logit."""
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(width, name="dense")(x)
    x = layers.LeakyReLU(0.2, name="dense_lrelu")(x)
    return layers.Dense(1, dtype="float32", name="logits")(x)


def srgan(x, f: int):
    """SRGAN's: 3x3 convolutions, every other one strided, widths f to 8f, then a 1024-wide (16f) dense layer."""
    x = layers.Conv2D(f, 3, padding="same", name="conv0")(x)
    x = layers.LeakyReLU(0.2, name="lrelu0")(x)
    widths = [f, f * 2, f * 2, f * 4, f * 4, f * 8, f * 8]
    for i, width in enumerate(widths, start=1):
        x = StridedConv2D(width, 3, strides=2 if i % 2 else 1, padding="same", name=f"conv{i}")(x)
        x = FusedBatchNormalization(name=f"bn{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu{i}")(x)
    return _patch_logit(x, f * 16)


def vgg128(x, f: int):
    """ESRGAN's VGG128: five stages of a 3x3 convolution and a 4x4 one of stride 2 (widths f to 8f, BatchNorm
    after all but the first, no bias before BatchNorm), then a 100-wide dense layer. A 128x128 patch leaves
    4x4 features, as in the paper; other sizes leave size/32."""
    widths = [f, f * 2, f * 4, f * 8, f * 8]
    for stage, width in enumerate(widths):
        for part, (kernel, stride) in enumerate([(3, 1), (4, 2)]):
            name = f"conv{stage}_{part}"
            first = stage == 0 and part == 0
            x = StridedConv2D(width, kernel, strides=stride, padding="same", use_bias=first, name=name)(x)
            if not first:
                x = FusedBatchNormalization(name=f"bn{stage}_{part}")(x)
            x = layers.LeakyReLU(0.2, name=f"lrelu{stage}_{part}")(x)
    return _patch_logit(x, 100)


def _normalized_conv(x, width: int, kernel: int, index: int, strides: int = 1):
    """The U-Net's convolution `index`: spectrally normalised, without bias, then LeakyReLU 0.2."""
    conv = layers.Conv2D(width, kernel, strides=strides, padding="same", use_bias=False, name=f"conv{index}")
    x = SpectralNormalization(conv, name=f"sn_conv{index}")(x)
    return layers.LeakyReLU(0.2, name=f"lrelu{index}")(x)


def unet(x, f: int):
    """Real-ESRGAN's U-Net (UNetDiscriminatorSN): it judges every pixel, which gives the generator feedback
    on each region of a patch, and spectral normalisation keeps the larger network's training stable.

    A 3x3 convolution (width f); three 4x4 ones of stride 2 (2f, 4f, 8f); three bilinear x2 upsamplings, each
    followed by a 3x3 convolution (4f, 2f, f) whose output is added to the features of the same size on the
    way down; two more 3x3 ones (f), and a 3x3 convolution to one logit per pixel. All but the first and last
    are spectrally normalised, without bias. On the even sizes the U-Net allows, "same" padding of the
    strided convolutions pads one pixel on each side, as Real-ESRGAN's padding=1.
    """
    x = layers.Conv2D(f, 3, padding="same", name="conv0")(x)
    skips = [layers.LeakyReLU(0.2, name="lrelu0")(x)]
    for index, width in enumerate([f * 2, f * 4, f * 8], start=1):
        skips.append(_normalized_conv(skips[-1], width, 4, index, strides=2))
    x = skips.pop()
    for index, width in enumerate([f * 4, f * 2, f], start=4):
        # In float32 under mixed precision, as TensorFlow's bilinear resize computes anyway: XLA cannot compile
        # the gradient of one of float16 or bfloat16 features (tensorflow/tensorflow#81273).
        x = layers.UpSampling2D(2, interpolation="bilinear", dtype="float32", name=f"upsample{index}")(x)
        x = _normalized_conv(x, width, 3, index)
        x = layers.Add(name=f"skip{index}")([x, skips.pop()])
    for index in (7, 8):
        x = _normalized_conv(x, f, 3, index)
    return layers.Conv2D(1, 3, padding="same", dtype="float32", name="logits")(x)


def build_discriminator(config: DiscriminatorConfig, patch_size: int) -> keras.Model:
    """HR patch in [0, 1] of side `patch_size` to float32 real/fake logits of `config.discriminator`: `[N, 1]`,
    or `[N, patch_size, patch_size, 1]` for the U-Net."""
    config.check_patch_size(patch_size)
    hr = keras.Input((patch_size, patch_size, 3), name="hr")
    x = layers.Rescaling(2.0, offset=-1.0, name="to_signed")(hr)
    logits = DISCRIMINATORS[config.discriminator](x, config.discriminator_filters)
    return keras.Model(hr, logits, name="discriminator")
