"""Per-example losses: pixel MSE and L1, VGG features, vanilla and relativistic GAN (modeling/losses.py)."""
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.modeling import losses


def test_pixel_mse_is_per_example():
    hr = tf.zeros([2, 4, 4, 3])
    sr = tf.concat([tf.fill([1, 4, 4, 3], 0.5), tf.zeros([1, 4, 4, 3])], axis=0)
    np.testing.assert_allclose(losses.pixel_mse(hr, sr), [0.25, 0.0])


def test_feature_losses_scale_features_before_comparing():
    a, b = tf.fill([1, 2, 2, 8], 12.75), tf.zeros([1, 2, 2, 8])
    np.testing.assert_allclose(losses.feature_loss(a, b, 1 / 12.75), [1.0], rtol=1e-6)
    np.testing.assert_allclose(losses.feature_loss(2 * a, b, 1 / 12.75, "l1"), [2.0], rtol=1e-6)


def test_the_loss_of_several_layers_is_their_weighted_sum_per_example():
    rng = np.random.default_rng(0)
    shapes = [(2, 8, 8, 4), (2, 4, 4, 8), (2, 1, 1, 16)]  # per layer, deeper ones smaller and wider
    hr = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
    sr = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
    weights, scale = (0.1, 1.0, 0.5), 0.25
    for distance, compare in (("l1", np.abs), ("mse", np.square)):
        expected = sum(w * compare(scale * (h - s)).mean(axis=(1, 2, 3)) for w, h, s in zip(weights, hr, sr))
        loss = losses.weighted_feature_loss([tf.constant(h) for h in hr], [tf.constant(s) for s in sr], weights,
                                            scale, distance)
        assert loss.shape == (2,)
        np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # One layer, as --vgg_layer gives it (a tensor): the single-layer loss, times its weight.
    np.testing.assert_array_equal(losses.weighted_feature_loss(hr[0], sr[0], [1.0], scale),
                                  losses.feature_loss(hr[0], sr[0], scale))


def _bce(label, logit):
    """Binary cross-entropy of sigmoid(logit) against label, in float64."""
    p = 1 / (1 + np.exp(-np.asarray(logit, np.float64)))
    return -(label * np.log(p) + (1 - label) * np.log(1 - p))


REAL, FAKE = np.array([[2.0], [-1.0], [0.5]]), np.array([[0.5], [-3.0], [1.5]])


def test_vanilla_gan_losses_are_binary_cross_entropy_against_real_and_fake():
    judged = losses.vanilla_gan(tf.constant(REAL), tf.constant(FAKE))
    np.testing.assert_allclose(judged.generator, _bce(1, FAKE[:, 0]), rtol=1e-6)
    np.testing.assert_allclose(judged.discriminator, _bce(1, REAL[:, 0]) + _bce(0, FAKE[:, 0]), rtol=1e-6)
    np.testing.assert_array_equal(judged.real_correct, [1, 0, 1])
    np.testing.assert_array_equal(judged.fake_correct, [0, 1, 0])


def test_relativistic_losses_compare_each_example_with_the_other_kinds_batch_mean():
    judged = losses.relativistic_average_gan(tf.constant(REAL), tf.constant(FAKE))
    real_vs_fake = REAL[:, 0] - FAKE.mean()  # is each real image more realistic than the average fake?
    fake_vs_real = FAKE[:, 0] - REAL.mean()
    np.testing.assert_allclose(judged.discriminator, (_bce(1, real_vs_fake) + _bce(0, fake_vs_real)) / 2,
                               rtol=1e-6)
    np.testing.assert_allclose(judged.generator, (_bce(0, real_vs_fake) + _bce(1, fake_vs_real)) / 2, rtol=1e-6)
    np.testing.assert_array_equal(judged.real_correct, real_vs_fake > 0)
    np.testing.assert_array_equal(judged.fake_correct, fake_vs_real < 0)


def test_relativistic_losses_take_the_mean_they_are_given():
    """Distributed training passes the mean over every replica's examples."""
    judged = losses.relativistic_average_gan(tf.constant(REAL), tf.constant(FAKE), batch_mean=lambda x: 0.0)
    np.testing.assert_allclose(judged.generator, (_bce(0, REAL[:, 0]) + _bce(1, FAKE[:, 0])) / 2, rtol=1e-6)


@pytest.mark.parametrize("adversarial", [losses.vanilla_gan, losses.relativistic_average_gan])
def test_per_pixel_logits_are_judged_pixel_by_pixel_and_averaged_per_example(adversarial):
    """The U-Net's `[N, H, W, 1]` logits: every term of an example is the mean over its pixels of what each
    pixel would give as an example of its own (RaGAN's means taken over every pixel of the batch)."""
    rng = np.random.default_rng(0)
    real, fake = (tf.constant(rng.normal(size=[3, 4, 4, 1]), tf.float32) for _ in range(2))
    per_example = adversarial(real, fake)
    per_pixel = adversarial(tf.reshape(real, [-1, 1]), tf.reshape(fake, [-1, 1]))
    for term in ("generator", "discriminator", "real_correct", "fake_correct"):
        expected = tf.reduce_mean(tf.reshape(getattr(per_pixel, term), [3, 16]), axis=1)
        np.testing.assert_allclose(getattr(per_example, term), expected, rtol=1e-6, err_msg=term)
    assert 0 < float(tf.reduce_min(per_example.real_correct)) < 1  # pixels of one example judged differently


def test_losses_accept_float16_inputs_and_return_float32():
    hr = tf.zeros([1, 2, 2, 3], tf.float16)
    assert losses.pixel_mse(hr, hr).dtype == tf.float32


def test_l1_pixel_loss_is_the_mean_absolute_error():
    hr, sr = tf.constant([[[[0.0, 0.5, 1.0]]]]), tf.constant([[[[0.25, 0.5, 0.0]]]])
    np.testing.assert_allclose(losses.PIXEL_LOSSES["l1"](hr, sr), [1.25 / 3])
    np.testing.assert_allclose(losses.PIXEL_LOSSES["mse"](hr, sr), [(0.0625 + 1.0) / 3])
