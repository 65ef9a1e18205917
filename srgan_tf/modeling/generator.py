"""Building a registered generator network (`srgan_tf.registry.GENERATORS`: SRResNet, RRDBNet), its float32
copy, and how far each output pixel sees into its input."""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import keras
from keras import layers

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.layers import BicubicUpsample, PixelShuffle
from srgan_tf.modeling.policies import dtype_policy
from srgan_tf.registry import GENERATORS


@dataclasses.dataclass(frozen=True)
class GeneratorNetwork:
    """What `build_generator` needs of a network registered in `srgan_tf.registry.GENERATORS`.

    `trunk(lr, config)` returns features at the input's resolution; `upsampler(features, config)` takes them
    to the output's (unless `--light_upsampler` replaces it); a convolution of `tail_kernel` makes the three
    channels. `bounded_output`: a tanh keeps the output in [0, 1] (SRResNet), else it is linear (RRDBNet).
    """

    model_name: str
    trunk: Callable
    upsampler: Callable
    tail_kernel: int
    bounded_output: bool


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
    network: GeneratorNetwork = GENERATORS[config.generator]
    lr = keras.Input((None, None, 3), name="lr")
    x = network.trunk(lr, config)
    # The last convolution computes in the policy's dtype: in float32, its 3 output channels at the output
    # resolution (a poor fit for the kernels) took a third of a bfloat16 step. What follows it is float32,
    # for numerically safe losses under mixed precision.
    initializer = "zeros" if config.bicubic_residual else "glorot_uniform"
    if config.light_upsampler:
        x = layers.Conv2D(3 * config.scale ** 2, 3, padding="same", kernel_initializer=initializer,
                          name="tail_conv")(x)
        x = PixelShuffle(config.scale, name="tail_shuffle")(x)
    else:
        x = network.upsampler(x, config)
        x = layers.Conv2D(3, network.tail_kernel, padding="same", kernel_initializer=initializer,
                          name="tail_conv")(x)
    if config.bicubic_residual:
        sr = layers.Add(dtype="float32", name="sr")([BicubicUpsample(config.scale, dtype="float32",
                                                                     name="bicubic")(lr), x])
    elif network.bounded_output:
        x = layers.Activation("tanh", dtype="float32", name="tail_tanh")(x)
        sr = layers.Rescaling(0.5, offset=0.5, dtype="float32", name="sr")(x)
    else:
        sr = layers.Activation("linear", dtype="float32", name="sr")(x)
    return keras.Model(lr, sr, name=network.model_name)


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
