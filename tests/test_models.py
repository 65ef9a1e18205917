import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.modeling.discriminator import build_discriminator
from srgan_tf.modeling.generator import build_generator
from srgan_tf.modeling.vgg import build_vgg_features
from srgan_tf.config import ModelConfig
from srgan_tf.modeling.layers import PixelShuffle, VggPreprocess

TINY = dict(num_residual_blocks=2, num_filters=16, hr_patch_size=32, discriminator_filters=8, vgg_weights="none")


@pytest.fixture
def mixed_policy():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_default_generator_has_the_papers_size():
    generator = build_generator(ModelConfig())
    assert 1_500_000 < generator.count_params() < 1_600_000  # SRResNet: about 1.55 M


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_generator_upscales_any_size_into_unit_range(scale):
    generator = build_generator(ModelConfig(scale=scale, **TINY))
    lr = np.random.default_rng(0).random((2, 5, 7, 3), dtype=np.float32)
    sr = generator(lr).numpy()
    assert sr.shape == (2, 5 * scale, 7 * scale, 3)
    assert sr.min() >= 0.0 and sr.max() <= 1.0


def test_outputs_stay_float32_under_mixed_precision(mixed_policy):
    config = ModelConfig(**TINY)
    lr = tf.random.uniform([1, 8, 8, 3])
    assert build_generator(config)(lr).dtype == tf.float32
    assert build_discriminator(config)(tf.random.uniform([2, 32, 32, 3])).shape == (2, 1)
    assert build_discriminator(config)(tf.random.uniform([2, 32, 32, 3])).dtype == tf.float32
    vgg = build_vgg_features(config)
    assert vgg(tf.random.uniform([1, 32, 32, 3])).dtype == tf.float32
    assert all(v.dtype == "float32" for v in vgg.weights)


def test_generator_round_trips_through_keras_serialisation(tmp_path):
    generator = build_generator(ModelConfig(**TINY))
    path = str(tmp_path / "g.keras")
    generator.save(path)
    restored = keras.models.load_model(path)
    lr = np.random.default_rng(1).random((1, 6, 6, 3), dtype=np.float32)
    np.testing.assert_allclose(restored(lr), generator(lr), atol=1e-6)
    assert any(isinstance(layer, PixelShuffle) for layer in restored.layers)


def test_pixel_shuffle_matches_depth_to_space():
    x = tf.reshape(tf.range(2 * 3 * 3 * 8, dtype=tf.float32), [2, 3, 3, 8])
    np.testing.assert_array_equal(PixelShuffle(2)(x), tf.nn.depth_to_space(x, 2))
    assert PixelShuffle(2).compute_output_shape((None, 3, None, 8)) == (None, 6, None, 2)


@pytest.mark.parametrize("layer,keras_layer,channels,stride", [("vgg22", "block2_conv2", 128, 2),
                                                                ("vgg54", "block5_conv4", 512, 16)])
def test_vgg_features_come_from_the_named_layer_and_are_frozen(layer, keras_layer, channels, stride):
    vgg = build_vgg_features(ModelConfig(**{**TINY, "vgg_layer": layer}))
    # The paper's VGG<i><j>: the j-th convolution (after its ReLU) before the i-th max-pooling of VGG19.
    (vgg19,) = [inner for inner in vgg.layers if isinstance(inner, keras.Model)]
    assert vgg19.layers[-1].name == keras_layer
    assert vgg19.output.shape[-1] == channels
    assert vgg(tf.zeros([1, 32, 32, 3])).shape == (1, 32 // stride, 32 // stride, channels)
    assert not vgg.trainable_weights


def test_vgg_preprocessing_is_keras_caffe_mode():
    """RGB in [0, 1] becomes what VGG19's ImageNet weights expect: BGR in [0, 255] minus the channel means."""
    rgb = np.random.default_rng(0).random((2, 5, 7, 3), dtype=np.float32)
    expected = keras.applications.vgg19.preprocess_input(rgb * 255.0)
    np.testing.assert_allclose(VggPreprocess()(rgb), expected, rtol=0, atol=1e-4)  # seen: equal


def test_random_vgg_is_seeded():
    config = ModelConfig(**{**TINY, "vgg_layer": "vgg22"})
    x = tf.random.uniform([1, 16, 16, 3], seed=3)
    np.testing.assert_array_equal(build_vgg_features(config, seed=7)(x),
                                  build_vgg_features(config, seed=7)(x))
    assert not np.array_equal(build_vgg_features(config, seed=7)(x),
                              build_vgg_features(config, seed=8)(x))


def test_missing_vgg_weights_file_is_named():
    with pytest.raises(ValueError, match="--vgg_weights='/no/such/vgg.h5'"):
        build_vgg_features(ModelConfig(**{**TINY, "vgg_weights": "/no/such/vgg.h5"}))


def test_failed_imagenet_download_says_how_to_pass_a_local_file(monkeypatch):
    def offline(**kwargs):
        raise OSError("URL fetch failure: no route to host")

    monkeypatch.setattr(keras.applications, "VGG19", offline)
    with pytest.raises(RuntimeError, match="--vgg_weights=/path/to/that/file") as error:
        build_vgg_features(ModelConfig(**{**TINY, "vgg_weights": "imagenet"}))
    assert "no route to host" in str(error.value)


@pytest.mark.parametrize("bad,match", [(dict(scale=3), "--scale=3"),
                                      (dict(vgg_layer="vgg33"), "--vgg_layer='vgg33'")])
def test_bad_model_config_names_the_flag(bad, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**{**TINY, **bad})
