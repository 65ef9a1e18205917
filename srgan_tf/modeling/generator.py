"""The SRResNet generator, and how far each output pixel sees into its input."""
from __future__ import annotations

import math

import keras
from keras import layers

from srgan_tf.config import ModelConfig
from srgan_tf.modeling.layers import BicubicUpsample, residual_block, upsample_block


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


def receptive_radius(config: ModelConfig) -> int:
    """LR pixels on each side that can influence one output pixel of the SRResNet generator.

    A tiling whose overlap is at least twice this is exact: 9x9 head, two 3x3 convs per residual
    block, the 3x3 body conv, one 3x3 conv per x2 upsampler (at growing resolution) and the 9x9 tail.
    BatchNorm (in inference mode) and residual scaling act per pixel, and the bicubic residual reaches
    only 2 LR pixels, well inside this radius: the same radius holds for every generator variant.
    """
    upsamplers = int(math.log2(config.scale))
    radius = 4 + 2 * config.num_residual_blocks + 1
    radius += sum(1 / 2 ** i for i in range(upsamplers)) + 4 / config.scale
    return math.ceil(radius)
