"""SRGAN's generator, SRResNet (Ledig et al. 2017), and EDSR's variant of it without BatchNorm."""
from __future__ import annotations

import math

from keras import layers

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.generator import GeneratorNetwork
from srgan_tf.modeling.layers import FusedBatchNormalization, residual_block, upsample_block


def _trunk(lr, config: GeneratorConfig):
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


def _upsampler(x, config: GeneratorConfig):
    """SRResNet's pixel-shuffle upsamplers: features at the output resolution."""
    for i in range(int(math.log2(config.scale))):
        x = upsample_block(x, config.num_filters, name=f"up{i}")
    return x


# tanh keeps the output inside the image range without clipping away gradients.
SRRESNET = GeneratorNetwork(model_name="srresnet", trunk=_trunk, upsampler=_upsampler, tail_kernel=9,
                            bounded_output=True)
