"""The discriminators: float32 logits under mixed precision (with the generator's and VGG's), and the U-Net's
per-pixel logits and spectral normalisation."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.config import DiscriminatorConfig, GeneratorConfig, LossConfig
from srgan_tf.modeling.discriminator import build_discriminator
from srgan_tf.modeling.generator import build_generator
from srgan_tf.modeling.layers import SpectralNormalization
from srgan_tf.modeling.policies import dtype_policy
from srgan_tf.modeling.vgg import build_vgg_features
from tests.tiny_models import TINY_GENERATOR

UNET = DiscriminatorConfig(discriminator="unet", discriminator_filters=4)


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
    assert build_discriminator(UNET, 16)(tf.random.uniform([2, 16, 16, 3]), training=True).dtype == tf.float32
    vgg = build_vgg_features(LossConfig(vgg_weights="none"))
    assert vgg(tf.random.uniform([1, 32, 32, 3])).dtype == tf.float32
    assert all(v.dtype == "float32" for v in vgg.weights)


@pytest.mark.parametrize("size", [16, 32])
def test_the_unet_gives_one_logit_per_pixel(size):
    discriminator = build_discriminator(UNET, size)
    assert discriminator.name == "discriminator"
    assert discriminator(tf.random.uniform([2, size, size, 3])).shape == (2, size, size, 1)


def test_spectral_normalization_brings_the_largest_singular_value_of_each_kernel_to_one():
    keras.utils.set_random_seed(0)
    discriminator = build_discriminator(UNET, 16)
    normalized = [layer for layer in discriminator.layers if isinstance(layer, SpectralNormalization)]
    assert [layer.layer.name for layer in normalized] == [f"conv{i}" for i in range(1, 9)]

    def largest_singular_values():
        return np.array([np.linalg.svd(np.reshape(layer.layer.kernel.numpy(), [-1, layer.layer.filters]),
                                       compute_uv=False)[0] for layer in normalized])

    assert largest_singular_values().max() > 1.2  # Glorot's kernels are not normalised
    train = tf.function(lambda x: discriminator(x, training=True))
    hr = tf.random.uniform([1, 16, 16, 3])
    for _ in range(40):  # a power iteration per call
        train(hr)
    np.testing.assert_allclose(largest_singular_values(), 1.0, atol=0.01)


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_the_unets_training_step_compiles_with_xla_under_mixed_precision(precision):
    """XLA fails to compile the gradient of a bilinear upsampling of float16 or bfloat16 features
    (tensorflow/tensorflow#81273): the U-Net upsamples in float32."""
    with dtype_policy(precision):
        discriminator = build_discriminator(UNET, 16)

    @tf.function(jit_compile=True)
    def gradients(hr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(discriminator(hr, training=True))
        return tape.gradient(loss, discriminator.trainable_variables)

    for gradient in gradients(tf.random.uniform([2, 16, 16, 3])):
        assert np.all(np.isfinite(gradient.numpy())) and np.any(gradient.numpy())


def test_the_unet_refuses_patches_it_cannot_halve_three_times():
    with pytest.raises(ValueError, match="--hr_patch_size=20 must be a multiple of 8 for --discriminator=unet"):
        build_discriminator(UNET, 20)
