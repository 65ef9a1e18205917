"""The layers of the networks: BicubicUpsample, PixelShuffle and VggPreprocess (modeling/layers.py)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.modeling.layers import BicubicUpsample, PixelShuffle, VggPreprocess


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_bicubic_upsample_layer_equals_tf_image_resize_also_under_xla(scale):
    images = tf.random.stateless_uniform([2, 7, 5, 3], seed=[scale, 0])
    expected = tf.image.resize(images, [7 * scale, 5 * scale], "bicubic")
    layer = BicubicUpsample(scale)
    np.testing.assert_allclose(layer(images), expected, atol=1e-5)
    np.testing.assert_allclose(tf.function(layer, jit_compile=True)(images), expected, atol=1e-5)


def test_the_bicubic_upsample_layer_is_rebuilt_from_its_config():
    layer = BicubicUpsample(4, name="bicubic")
    rebuilt = BicubicUpsample.from_config(layer.get_config())
    images = tf.random.stateless_uniform([1, 5, 6, 3], seed=[0, 0])
    assert rebuilt.factor == 4 and not rebuilt.trainable
    np.testing.assert_array_equal(rebuilt(images), layer(images))


def test_pixel_shuffle_matches_depth_to_space():
    x = tf.reshape(tf.range(2 * 3 * 3 * 8, dtype=tf.float32), [2, 3, 3, 8])
    np.testing.assert_array_equal(PixelShuffle(2)(x), tf.nn.depth_to_space(x, 2))
    assert PixelShuffle(2).compute_output_shape((None, 3, None, 8)) == (None, 6, None, 2)


def test_vgg_preprocessing_is_keras_caffe_mode():
    """RGB in [0, 1] becomes what VGG19's ImageNet weights expect: BGR in [0, 255] minus the channel means."""
    rgb = np.random.default_rng(0).random((2, 5, 7, 3), dtype=np.float32)
    expected = keras.applications.vgg19.preprocess_input(rgb * 255.0)
    np.testing.assert_allclose(VggPreprocess()(rgb), expected, rtol=0, atol=1e-4)  # seen: equal
