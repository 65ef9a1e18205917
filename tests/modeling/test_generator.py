"""The SRResNet generator: size, any input size, serialisation, the BatchNorm-free and bicubic options."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.generator import build_generator, float32_generator
from srgan_tf.modeling.layers import PixelShuffle
from srgan_tf.modeling.policies import dtype_policy
from tests.tiny_models import FAST, TINY_GENERATOR, generator_of


def test_default_generator_has_the_papers_size():
    generator = build_generator(GeneratorConfig())
    assert 1_500_000 < generator.count_params() < 1_600_000  # SRResNet: about 1.55 M


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_generator_upscales_any_size_into_unit_range(scale):
    generator = build_generator(GeneratorConfig(scale=scale, **TINY_GENERATOR))
    lr = np.random.default_rng(0).random((2, 5, 7, 3), dtype=np.float32)
    sr = generator(lr).numpy()
    assert sr.shape == (2, 5 * scale, 7 * scale, 3)
    assert sr.min() >= 0.0 and sr.max() <= 1.0


def test_generator_round_trips_through_keras_serialisation(tmp_path):
    generator = build_generator(GeneratorConfig(**TINY_GENERATOR))
    path = str(tmp_path / "g.keras")
    generator.save(path)
    restored = keras.models.load_model(path)
    lr = np.random.default_rng(1).random((1, 6, 6, 3), dtype=np.float32)
    np.testing.assert_allclose(restored(lr), generator(lr), atol=1e-6)
    assert any(isinstance(layer, PixelShuffle) for layer in restored.layers)


def test_a_bicubic_residual_generator_starts_at_bicubic():
    lr = tf.random.stateless_uniform([1, 9, 11, 3], seed=[1, 2])
    sr = build_generator(generator_of(FAST))(lr)
    np.testing.assert_allclose(sr, tf.image.resize(lr, [36, 44], "bicubic"), atol=1e-5)


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
