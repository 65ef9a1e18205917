"""The discriminator (with the generator and VGG) keeps float32 outputs under mixed precision."""
import keras
import pytest
import tensorflow as tf

from srgan_tf.config import DiscriminatorConfig, GeneratorConfig, LossConfig
from srgan_tf.modeling.discriminator import build_discriminator
from srgan_tf.modeling.generator import build_generator
from srgan_tf.modeling.vgg import build_vgg_features
from tests.tiny_models import TINY_GENERATOR


@pytest.fixture
def mixed_policy():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_outputs_stay_float32_under_mixed_precision(mixed_policy):
    lr = tf.random.uniform([1, 8, 8, 3])
    assert build_generator(GeneratorConfig(**TINY_GENERATOR))(lr).dtype == tf.float32
    discriminator = build_discriminator(DiscriminatorConfig(discriminator_filters=8), 32)
    assert discriminator(tf.random.uniform([2, 32, 32, 3])).shape == (2, 1)
    assert discriminator(tf.random.uniform([2, 32, 32, 3])).dtype == tf.float32
    vgg = build_vgg_features(LossConfig(vgg_weights="none"))
    assert vgg(tf.random.uniform([1, 32, 32, 3])).dtype == tf.float32
    assert all(v.dtype == "float32" for v in vgg.weights)
