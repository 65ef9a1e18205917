"""The frozen VGG19 features of the content loss: its layer, seeding, weights files (modeling/vgg.py)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.config import LossConfig
from srgan_tf.modeling.vgg import build_vgg_features


@pytest.mark.parametrize("layer,keras_layer,channels,stride", [("vgg22", "block2_conv2", 128, 2),
                                                                ("vgg54", "block5_conv4", 512, 16)])
def test_vgg_features_come_from_the_named_layer_and_are_frozen(layer, keras_layer, channels, stride):
    vgg = build_vgg_features(LossConfig(vgg_layer=layer, vgg_weights="none"))
    # The paper's VGG<i><j>: the j-th convolution (after its ReLU) before the i-th max-pooling of VGG19.
    (vgg19,) = [inner for inner in vgg.layers if isinstance(inner, keras.Model)]
    assert vgg19.layers[-1].name == keras_layer
    assert vgg19.output.shape[-1] == channels
    assert vgg(tf.zeros([1, 32, 32, 3])).shape == (1, 32 // stride, 32 // stride, channels)
    assert not vgg.trainable_weights


@pytest.mark.parametrize("layer", ["vgg22", "vgg54"])
def test_features_before_relu_are_the_same_layer_without_its_relu(layer):
    x = tf.random.uniform([2, 32, 32, 3], seed=5)
    after = build_vgg_features(LossConfig(vgg_layer=layer, vgg_weights="none"), seed=7)(x).numpy()
    before = build_vgg_features(LossConfig(vgg_layer=f"{layer}_before_relu", vgg_weights="none"), seed=7)(x).numpy()
    assert before.shape == after.shape
    assert (before < 0).mean() > 0.1  # what ESRGAN's loss keeps and the ReLU drops
    np.testing.assert_allclose(np.maximum(before, 0), after, rtol=1e-5, atol=1e-5 * np.abs(after).max())


# Out of depth order, before and after the ReLU of one convolution, and down to block 5 (2x2 on 32 pixels).
SEVERAL = ("vgg54_before_relu", "vgg12_before_relu", "vgg22", "vgg22_before_relu")


def test_several_layers_give_the_features_each_gives_alone_from_one_vgg():
    config = LossConfig(vgg_layer_weights=",".join(f"{layer}:1" for layer in SEVERAL), vgg_weights="none")
    vgg = build_vgg_features(config, seed=7)
    x = tf.random.uniform([2, 32, 32, 3], seed=6)
    features = vgg(x)
    assert isinstance(features, list) and len(features) == len(SEVERAL)
    for layer, multi in zip(SEVERAL, features):
        alone = build_vgg_features(LossConfig(vgg_layer=layer, vgg_weights="none"), seed=7)(x).numpy()
        assert multi.shape == alone.shape, layer
        np.testing.assert_allclose(multi.numpy(), alone, rtol=1e-5, atol=1e-5 * np.abs(alone).max(), err_msg=layer)
    # One VGG19 to block5_conv4: each of its 16 convolutions once, the ones split from their ReLU included.
    (inner,) = [layer for layer in vgg.layers if isinstance(layer, keras.Model)]
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in inner.layers) == 16
    assert not vgg.trainable_weights


def test_random_vgg_is_seeded():
    config = LossConfig(vgg_layer="vgg22", vgg_weights="none")
    x = tf.random.uniform([1, 16, 16, 3], seed=3)
    np.testing.assert_array_equal(build_vgg_features(config, seed=7)(x),
                                  build_vgg_features(config, seed=7)(x))
    assert not np.array_equal(build_vgg_features(config, seed=7)(x),
                              build_vgg_features(config, seed=8)(x))


def test_missing_vgg_weights_file_is_named():
    with pytest.raises(ValueError, match="--vgg_weights='/no/such/vgg.h5'"):
        build_vgg_features(LossConfig(vgg_weights="/no/such/vgg.h5"))


def test_failed_imagenet_download_says_how_to_pass_a_local_file(monkeypatch):
    def offline(**kwargs):
        raise OSError("URL fetch failure: no route to host")

    monkeypatch.setattr(keras.applications, "VGG19", offline)
    with pytest.raises(RuntimeError, match="--vgg_weights=/path/to/that/file") as error:
        build_vgg_features(LossConfig(vgg_weights="imagenet"))
    assert "no route to host" in str(error.value)


def test_vgg_computes_in_bfloat16_under_that_policy_with_float32_weights_and_close_features():
    config = LossConfig(vgg_layer="vgg22", vgg_weights="none")
    x = tf.random.uniform([1, 16, 16, 3], seed=4)
    reference = build_vgg_features(config, seed=7)(x)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        vgg = build_vgg_features(config, seed=7)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    features = vgg(x)
    assert features.dtype == tf.bfloat16
    assert all(w.dtype == "float32" for w in vgg.weights)
    # bfloat16 keeps 8 significant bits: features agree to about 1% of their scale.
    error = np.abs(tf.cast(features, tf.float32) - reference).max() / np.abs(reference).max()
    assert 0 < error < 0.02
