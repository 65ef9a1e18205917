"""ESRGAN's generator, RRDBNet (Wang et al. 2018): residual-in-residual dense blocks, no BatchNorm."""
from __future__ import annotations

import math

from keras import layers

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.generator import GeneratorNetwork
from srgan_tf.modeling.layers import nearest_upsample_block, rrdb_block


def _trunk(lr, config: GeneratorConfig):
    """RRDBNet's trunk of residual-in-residual dense blocks: features at the input resolution."""
    filters = config.num_filters
    x = head = layers.Conv2D(filters, 3, padding="same", name="head_conv")(lr)
    for i in range(config.num_residual_blocks):
        x = rrdb_block(x, filters, config.growth_channels, name=f"rrdb{i}")
    x = layers.Conv2D(filters, 3, padding="same", name="body_conv")(x)
    return layers.Add(name="body_skip")([x, head])


def _upsampler(x, config: GeneratorConfig):
    """RRDBNet's nearest-neighbour upsamplers and the 3x3 convolution after them: features at the output
    resolution."""
    filters = config.num_filters
    for i in range(int(math.log2(config.scale))):
        x = nearest_upsample_block(x, filters, name=f"up{i}")
    x = layers.Conv2D(filters, 3, padding="same", name="hr_conv")(x)
    return layers.LeakyReLU(0.2, name="hr_lrelu")(x)


# Its output is linear (unbounded, as EDSR's), clipped where it becomes an image.
RRDBNET = GeneratorNetwork(model_name="rrdbnet", trunk=_trunk, upsampler=_upsampler, tail_kernel=3,
                           bounded_output=False)
