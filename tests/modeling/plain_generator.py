"""A generator from outside the package, as a user would add one: this module and one registration."""
from keras import layers

from srgan_tf.modeling.generator import GeneratorNetwork
from srgan_tf.modeling.layers import upsample_block


def _trunk(lr, config):
    return layers.Conv2D(config.num_filters, 3, padding="same", activation="relu", name="head_conv")(lr)


def _upsampler(x, config):
    for i in range(config.scale.bit_length() - 1):
        x = upsample_block(x, config.num_filters, name=f"up{i}")
    return x


PLAIN = GeneratorNetwork(model_name="plain", trunk=_trunk, upsampler=_upsampler, tail_kernel=3,
                         bounded_output=True)
