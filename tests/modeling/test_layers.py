"""The layers of the networks: BicubicUpsample, PixelShuffle, NearestUpsample, VggPreprocess, FusedBatchNormalization,
SpectralNormalization, StridedConv2D (modeling/layers.py)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.modeling.layers import (BicubicUpsample, FusedBatchNormalization, NearestUpsample, PixelShuffle,
                                      SpectralNormalization, StridedConv2D, VggPreprocess)
from srgan_tf.modeling.policies import dtype_policy


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


def test_nearest_upsample_repeats_each_pixel_as_upsampling2d_does():
    x = tf.reshape(tf.range(2 * 3 * 4 * 5, dtype=tf.float32), [2, 3, 4, 5])
    np.testing.assert_array_equal(NearestUpsample(2)(x), keras.layers.UpSampling2D(2, interpolation="nearest")(x))
    assert NearestUpsample(2).compute_output_shape((None, 3, None, 5)) == (None, 6, None, 5)


def test_vgg_preprocessing_is_keras_caffe_mode():
    """RGB in [0, 1] becomes what VGG19's ImageNet weights expect: BGR in [0, 255] minus the channel means."""
    rgb = np.random.default_rng(0).random((2, 5, 7, 3), dtype=np.float32)
    expected = keras.applications.vgg19.preprocess_input(rgb * 255.0)
    np.testing.assert_allclose(VggPreprocess()(rgb), expected, rtol=0, atol=1e-4)  # seen: equal


def _train_one_batch(layer, x):
    """Output, gradients (to input, gamma, beta) and moving statistics after one training call."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.linspace(-1.0, 1.0, x.shape[-1]))
    gradients = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [tf.cast(t, tf.float32) for t in [y, *gradients, layer.moving_mean, layer.moving_variance]]


def test_fused_batch_norm_trains_as_keras_batch_norm_and_infers_with_its_code():
    x = tf.random.stateless_normal([4, 6, 5, 8], seed=[1, 2], mean=3.0, stddev=2.0)
    fused, plain = FusedBatchNormalization(momentum=0.5), keras.layers.BatchNormalization(momentum=0.5)
    for layer in (fused, plain):
        layer.build(x.shape)
        layer.set_weights([np.linspace(0.5, 2, 8), np.linspace(-1, 1, 8), np.full(8, 0.2), np.full(8, 3.0)])
    for got, expected in zip(_train_one_batch(fused, x), _train_one_batch(plain, x)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(fused.moving_variance, 3.0)  # the statistics moved: the comparison can fail
    np.testing.assert_allclose(fused(x, training=False), plain(x, training=False), atol=1e-5)
    assert isinstance(FusedBatchNormalization.from_config(fused.get_config()), FusedBatchNormalization)
    # ... and it is the fused kernel that trains, not Keras' code it falls back to.
    graph = tf.function(lambda x: fused(x, training=True)).get_concrete_function(x).graph
    assert "FusedBatchNormV3" in {op.type for op in graph.get_operations()}


def test_fused_batch_norm_trains_in_bfloat16_with_float32_statistics():
    x = tf.random.stateless_normal([4, 6, 5, 8], seed=[3, 4])
    with dtype_policy("mixed_bfloat16"):
        fused = FusedBatchNormalization()
    y = fused(x, training=True)
    assert y.dtype == tf.bfloat16 and fused.moving_variance.dtype == "float32"
    reference = keras.layers.BatchNormalization()(x, training=True)
    np.testing.assert_allclose(tf.cast(y, tf.float32), reference, atol=0.05)


@pytest.mark.parametrize("size, kernel, strides", [(1, 4, 2), (1, 3, 2), (5, 4, 2), (6, 3, 2), (7, 3, 1),
                                                  (9, 4, 3)])
def test_strided_conv_equals_keras_same_convolution(size, kernel, strides):
    x = tf.random.stateless_normal([2, size, size + 1, 3], seed=[size, kernel])
    keras.utils.set_random_seed(0)
    plain = keras.layers.Conv2D(4, kernel, strides=strides, padding="same")
    padded = StridedConv2D(4, kernel, strides=strides, padding="same")
    plain.build(x.shape)
    padded.build(x.shape)
    padded.set_weights(plain.get_weights())
    assert padded.compute_output_shape(x.shape) == plain.compute_output_shape(x.shape)
    np.testing.assert_allclose(padded(x), plain(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel", [3, 4])
def test_strided_conv_of_a_1x1_input_has_the_kernel_gradient_of_float32_in_bfloat16(kernel):
    # Keras' Conv2D got a garbage gradient here in about half of the tries (4x4) or all of them (3x3).
    with dtype_policy("mixed_bfloat16"):
        conv = StridedConv2D(32, kernel, strides=2, padding="same", use_bias=False)
    conv.build([4, 1, 1, 32])
    conv.kernel.assign(tf.cast(tf.cast(conv.kernel, tf.bfloat16), tf.float32))  # the same kernel in both

    @tf.function
    def kernel_gradient(x, dtype):
        with tf.GradientTape() as tape:
            y = tf.nn.conv2d(tf.cast(x, dtype), tf.cast(conv.kernel, dtype), 2, "SAME") if dtype == tf.float32 \
                else conv(x)
            loss = tf.reduce_sum(tf.square(tf.cast(y, tf.float32)))
        return tape.gradient(loss, conv.kernel)

    for seed in range(10):
        x = tf.cast(tf.cast(tf.random.stateless_normal([4, 1, 1, 32], seed=[seed, 0]), tf.bfloat16), tf.float32)
        expected = kernel_gradient(x, tf.float32).numpy()
        np.testing.assert_allclose(kernel_gradient(x, tf.bfloat16), expected,
                                   atol=0.02 * np.abs(expected).max(), err_msg=f"seed {seed}")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_spectral_normalization_assigns_the_kernel_divided_by_its_float32_largest_singular_value(precision):
    """A training call runs one power iteration from `vector_u` and stores the kernel divided by the singular
    value it estimates, in float32: Keras' own layer, in a mixed-precision model, stored it rounded to
    bfloat16 (16 bits of the float32 kernel lost on every call)."""
    # Seeded: unseeded, the kernel depended on the tests run before in the process, and some gave an estimate
    # within 0.05 of 1 (1.047 once), failing the first check. This seed's estimate: 0.80.
    keras.utils.set_random_seed(1)
    with dtype_policy(precision):
        inputs = keras.Input((6, 6, 4))
        normalized = SpectralNormalization(keras.layers.Conv2D(8, 3, use_bias=False))
        model = keras.Model(inputs, normalized(inputs))
    kernel, u = (w.numpy().astype(np.float64) for w in (normalized.layer.kernel, normalized.vector_u))
    matrix = kernel.reshape(-1, 8)
    v = _unit(u @ matrix.T)
    u = _unit(v @ matrix)
    sigma = (v @ matrix @ u.T).item()
    assert abs(sigma - 1.0) > 0.05  # the kernel changes

    model(tf.random.uniform([1, 6, 6, 4]), training=True)
    np.testing.assert_allclose(normalized.vector_u.numpy(), u, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(normalized.layer.kernel.numpy(), kernel / sigma, rtol=1e-5, atol=1e-7)
    before = normalized.layer.kernel.numpy()
    model(tf.random.uniform([1, 6, 6, 4]), training=False)  # inference leaves both alone
    np.testing.assert_array_equal(normalized.layer.kernel.numpy(), before)
