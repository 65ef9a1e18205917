"""Per-example losses: pixel MSE and L1, VGG features, adversarial and discriminator (modeling/losses.py)."""
import numpy as np
import tensorflow as tf

from srgan_tf.modeling import losses


def test_pixel_mse_is_per_example():
    hr = tf.zeros([2, 4, 4, 3])
    sr = tf.concat([tf.fill([1, 4, 4, 3], 0.5), tf.zeros([1, 4, 4, 3])], axis=0)
    np.testing.assert_allclose(losses.pixel_mse(hr, sr), [0.25, 0.0])


def test_feature_mse_scales_features_before_squaring():
    a, b = tf.fill([1, 2, 2, 8], 12.75), tf.zeros([1, 2, 2, 8])
    np.testing.assert_allclose(losses.feature_mse(a, b, 1 / 12.75), [1.0], rtol=1e-6)


def test_adversarial_losses_match_binary_cross_entropy():
    real, fake = tf.constant([[2.0], [-1.0]]), tf.constant([[0.5], [-3.0]])
    bce = lambda label, logit: -(label * np.log(1 / (1 + np.exp(-logit)))  # noqa: E731
                                 + (1 - label) * np.log(1 - 1 / (1 + np.exp(-logit))))
    np.testing.assert_allclose(losses.adversarial_loss(fake), [bce(1, 0.5), bce(1, -3.0)], rtol=1e-5)
    np.testing.assert_allclose(losses.discriminator_loss(real, fake),
                               [bce(1, 2.0) + bce(0, 0.5), bce(1, -1.0) + bce(0, -3.0)], rtol=1e-5)


def test_discriminator_correctness_per_example():
    real_ok, fake_ok = losses.fraction_correct(tf.constant([[1.0], [-1.0]]), tf.constant([[-2.0], [3.0]]))
    np.testing.assert_array_equal(real_ok, [1, 0])
    np.testing.assert_array_equal(fake_ok, [1, 0])


def test_losses_accept_float16_inputs_and_return_float32():
    hr = tf.zeros([1, 2, 2, 3], tf.float16)
    assert losses.pixel_mse(hr, hr).dtype == tf.float32


def test_l1_pixel_loss_is_the_mean_absolute_error():
    hr, sr = tf.constant([[[[0.0, 0.5, 1.0]]]]), tf.constant([[[[0.25, 0.5, 0.0]]]])
    np.testing.assert_allclose(losses.PIXEL_LOSSES["l1"](hr, sr), [1.25 / 3])
    np.testing.assert_allclose(losses.PIXEL_LOSSES["mse"](hr, sr), [(0.0625 + 1.0) / 3])
