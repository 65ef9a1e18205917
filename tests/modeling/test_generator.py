"""The generators: SRResNet and RRDBNet sizes, any input size, serialisation, the BatchNorm-free and bicubic
options, ESRGAN's initialisation."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.generator import build_generator, float32_generator
from srgan_tf.modeling.layers import NearestUpsample, PixelShuffle
from srgan_tf.modeling.policies import dtype_policy
from tests.tiny_models import FAST, RRDB_GENERATOR, TINY_GENERATOR, generator_of


def test_default_generator_has_the_papers_size():
    generator = build_generator(GeneratorConfig())
    assert 1_500_000 < generator.count_params() < 1_600_000  # SRResNet: about 1.55 M


def test_rrdb_generator_has_the_papers_parameter_count():
    generator = build_generator(GeneratorConfig(generator="rrdb", num_residual_blocks=23))
    assert generator.count_params() == 16_697_987  # ESRGAN's RRDBNet, x4, 23 blocks, as published


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_rrdb_generator_upscales_any_size_with_one_nearest_upsampler_per_factor_of_two(scale):
    generator = build_generator(GeneratorConfig(generator="rrdb", scale=scale, **RRDB_GENERATOR))
    lr = np.random.default_rng(0).random((2, 5, 7, 3), dtype=np.float32)
    assert generator(lr).shape == (2, 5 * scale, 7 * scale, 3)
    upsamplers = [layer for layer in generator.layers if isinstance(layer, NearestUpsample)]
    assert len(upsamplers) == np.log2(scale) and all(u.factor == 2 for u in upsamplers)
    assert not [layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_rrdb_dense_blocks_start_small_as_esrgan_initialises_them():
    generator = build_generator(GeneratorConfig(generator="rrdb", num_residual_blocks=2, num_filters=64))
    for name in ("rrdb0_rdb1_conv1", "rrdb1_rdb3_conv5"):
        kernel = generator.get_layer(name).kernel.numpy()
        fan_in = np.prod(kernel.shape[:-1])
        # He-normal times 0.1: a standard deviation of 0.1 * sqrt(2 / fan_in).
        assert np.std(kernel) == pytest.approx(0.1 * np.sqrt(2 / fan_in), rel=0.05), name
    head = generator.get_layer("head_conv").kernel.numpy()
    assert np.std(head) > 2 * 0.1 * np.sqrt(2 / np.prod(head.shape[:-1]))  # the rest keep Keras' default


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_generator_upscales_any_size_into_unit_range(scale):
    generator = build_generator(GeneratorConfig(scale=scale, **TINY_GENERATOR))
    lr = np.random.default_rng(0).random((2, 5, 7, 3), dtype=np.float32)
    sr = generator(lr).numpy()
    assert sr.shape == (2, 5 * scale, 7 * scale, 3)
    assert sr.min() >= 0.0 and sr.max() <= 1.0


@pytest.mark.parametrize("network", ["srresnet", "rrdb"])
def test_generator_round_trips_through_keras_serialisation(tmp_path, network):
    generator = build_generator(GeneratorConfig(generator=network, **TINY_GENERATOR))
    path = str(tmp_path / "g.keras")
    generator.save(path)
    restored = keras.models.load_model(path)
    lr = np.random.default_rng(1).random((1, 6, 6, 3), dtype=np.float32)
    np.testing.assert_allclose(restored(lr), generator(lr), atol=1e-6)
    upsamplers = {type(layer) for layer in restored.layers} & {PixelShuffle, NearestUpsample}
    assert upsamplers == {PixelShuffle if network == "srresnet" else NearestUpsample}


def test_a_bicubic_residual_generator_starts_at_bicubic():
    lr = tf.random.stateless_uniform([1, 9, 11, 3], seed=[1, 2])
    sr = build_generator(generator_of(FAST))(lr)
    np.testing.assert_allclose(sr, tf.image.resize(lr, [36, 44], "bicubic"), atol=1e-5)


@pytest.mark.parametrize("scale", [2, 4])
def test_the_light_upsampler_is_one_convolution_at_input_resolution_and_one_pixel_shuffle(scale):
    config = dict(FAST, scale=scale, light_upsampler=True)
    light, classic = build_generator(generator_of(config)), build_generator(generator_of(dict(FAST, scale=scale)))
    (shuffle,) = [layer for layer in light.layers if isinstance(layer, PixelShuffle)]
    assert shuffle.factor == scale and light.get_layer("tail_conv").filters == 3 * scale ** 2
    assert light.count_params() < classic.count_params()
    lr = tf.random.stateless_uniform([1, 9, 11, 3], seed=[1, 2])
    # Zero-initialised before the shuffle, it starts at bicubic too.
    np.testing.assert_allclose(light(lr), tf.image.resize(lr, [9 * scale, 11 * scale], "bicubic"), atol=1e-5)


def test_batch_norm_free_blocks_have_no_batch_norm_and_scaled_residuals():
    generator = build_generator(GeneratorConfig(num_residual_blocks=2, num_filters=8, generator_batch_norm=False,
                                                residual_scaling=0.1))
    names = [layer.name for layer in generator.layers]
    assert not [n for n in names if "bn" in n] and "res1_scale" in names
    assert generator.get_layer("res1_scale").scale == 0.1


def test_a_generator_trained_in_bfloat16_is_evaluated_and_exported_as_a_float32_copy():
    config = GeneratorConfig(**TINY_GENERATOR)
    with dtype_policy("mixed_bfloat16"):
        trained = build_generator(config)
    lr = np.random.default_rng(1).random((1, 6, 6, 3), dtype=np.float32)
    copy = float32_generator(trained, config)
    assert copy is not trained and all(layer.compute_dtype == "float32" for layer in copy.layers)
    for trained_weight, copied_weight in zip(trained.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(trained_weight, copied_weight)
    # Same weights, computed in float32 rather than bfloat16 (8 significant bits).
    difference = np.abs(copy(lr).numpy() - trained(lr).numpy()).max()
    assert 0 < difference < 0.02
    assert float32_generator(copy, config) is copy
