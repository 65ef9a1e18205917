"""The generators (SRGAN's SRResNet, ESRGAN's RRDBNet), and how far each output pixel sees into its input."""
from __future__ import annotations

import math

import keras
from keras import layers

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.layers import (BicubicUpsample, FusedBatchNormalization, PixelShuffle,
                                      nearest_upsample_block, residual_block, rrdb_block, upsample_block)
from srgan_tf.modeling.policies import dtype_policy


def _srresnet_trunk(lr, config: GeneratorConfig):
    """SRResNet's head and residual blocks with their long skip: features at the input resolution."""
    filters, batch_norm = config.num_filters, config.generator_batch_norm
    x = layers.Conv2D(filters, 9, padding="same", name="head_conv")(lr)
    x = head = layers.PReLU(shared_axes=[1, 2], name="head_prelu")(x)
    for i in range(config.num_residual_blocks):
        x = residual_block(x, filters, name=f"res{i}", batch_norm=batch_norm,
                           residual_scaling=config.residual_scaling)
    x = layers.Conv2D(filters, 3, padding="same", name="body_conv")(x)
    if batch_norm:
        x = FusedBatchNormalization(name="body_bn")(x)
    return layers.Add(name="body_skip")([x, head])


def _srresnet_upsampler(x, config: GeneratorConfig):
    """SRResNet's pixel-shuffle upsamplers: features at the output resolution."""
    for i in range(int(math.log2(config.scale))):
        x = upsample_block(x, config.num_filters, name=f"up{i}")
    return x


def _rrdb_trunk(lr, config: GeneratorConfig):
    """ESRGAN's RRDBNet trunk of residual-in-residual dense blocks: features at the input resolution."""
    filters = config.num_filters
    x = head = layers.Conv2D(filters, 3, padding="same", name="head_conv")(lr)
    for i in range(config.num_residual_blocks):
        x = rrdb_block(x, filters, config.growth_channels, name=f"rrdb{i}")
    x = layers.Conv2D(filters, 3, padding="same", name="body_conv")(x)
    return layers.Add(name="body_skip")([x, head])


def _rrdb_upsampler(x, config: GeneratorConfig):
    """RRDBNet's nearest-neighbour upsamplers and the 3x3 convolution after them: features at the output
    resolution."""
    filters = config.num_filters
    for i in range(int(math.log2(config.scale))):
        x = nearest_upsample_block(x, filters, name=f"up{i}")
    x = layers.Conv2D(filters, 3, padding="same", name="hr_conv")(x)
    return layers.LeakyReLU(0.2, name="hr_lrelu")(x)


# Per network: its trunk, its own upsampler, the kernel of its last convolution, and the model's name.
_NETWORKS = {"srresnet": (_srresnet_trunk, _srresnet_upsampler, 9, "srresnet"),
             "rrdb": (_rrdb_trunk, _rrdb_upsampler, 3, "rrdbnet")}


def build_generator(config: GeneratorConfig) -> keras.Model:
    """LR in [0, 1] of any size to SR `scale` times larger, float32 under any policy.

    `generator="srresnet"`: the SRGAN paper's network by default, whose tanh output stays in [0, 1];
    `generator_batch_norm=False` drops BatchNorm (EDSR). `generator="rrdb"`: ESRGAN's RRDBNet, whose output
    is linear (unbounded, as EDSR's, and clipped where it becomes an image). `bicubic_residual=True` adds the
    network's output to a bicubic upsample of its input (VDSR), with a zero-initialised last layer, so
    training starts from bicubic quality instead of from noise; that output is not bounded either.
    `light_upsampler=True` replaces the network's upsamplers and output-resolution convolutions with one
    convolution at the input's resolution and a single pixel shuffle.
    """
    trunk, upsampler, tail_kernel, name = _NETWORKS[config.generator]
    lr = keras.Input((None, None, 3), name="lr")
    x = trunk(lr, config)
    # The last convolution computes in the policy's dtype: in float32, its 3 output channels at the output
    # resolution (a poor fit for the kernels) took a third of a bfloat16 step. What follows it is float32,
    # for numerically safe losses under mixed precision.
    initializer = "zeros" if config.bicubic_residual else "glorot_uniform"
    if config.light_upsampler:
        x = layers.Conv2D(3 * config.scale ** 2, 3, padding="same", kernel_initializer=initializer,
                          name="tail_conv")(x)
        x = PixelShuffle(config.scale, name="tail_shuffle")(x)
    else:
        x = upsampler(x, config)
        x = layers.Conv2D(3, tail_kernel, padding="same", kernel_initializer=initializer, name="tail_conv")(x)
    if config.bicubic_residual:
        sr = layers.Add(dtype="float32", name="sr")([BicubicUpsample(config.scale, dtype="float32",
                                                                     name="bicubic")(lr), x])
    elif config.generator == "rrdb":
        sr = layers.Activation("linear", dtype="float32", name="sr")(x)
    else:
        # tanh keeps the output inside the image range without clipping away gradients.
        x = layers.Activation("tanh", dtype="float32", name="tail_tanh")(x)
        sr = layers.Rescaling(0.5, offset=0.5, dtype="float32", name="sr")(x)
    return keras.Model(lr, sr, name=name)


def float32_generator(generator: keras.Model, config: GeneratorConfig) -> keras.Model:
    """`generator` if it computes in float32, else a float32 copy of it: evaluations and exports compute in
    float32 whatever precision trained the weights."""
    if all(layer.compute_dtype == "float32" for layer in generator.layers):
        return generator
    with dtype_policy("float32"):
        copy = build_generator(config)
    copy.set_weights(generator.get_weights())
    return copy


def receptive_radius(config: GeneratorConfig) -> int:
    """LR pixels on each side that can influence one output pixel, read off the generator's layers.

    Every convolution lies on the network's longest path (skips, the dense blocks' shortcuts and the bicubic
    branch run beside it), so the radius is the sum of their half-kernels, each in LR pixels at the
    resolution it works at (a layer after an x2 upsampler reaches half as far in the input). BatchNorm in
    inference mode, activations and residual scaling act per pixel, and a nearest-neighbour or pixel-shuffle
    upsampler reads one input pixel per output pixel. A tiling whose overlap is at least twice this radius
    is exact.
    """
    radius, resolution = 0.0, 1
    for layer in build_generator(config).layers:
        if isinstance(layer, layers.Conv2D):
            radius += layer.dilation_rate[0] * (layer.kernel_size[0] // 2) / resolution
        elif isinstance(layer, PixelShuffle):  # and NearestUpsample, a pixel shuffle of repeated channels
            resolution *= layer.factor
        elif isinstance(layer, BicubicUpsample):
            radius = max(radius, BicubicUpsample.RADIUS)
    return math.ceil(radius)
