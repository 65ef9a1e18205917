"""Per-example losses. Callers average them over the global batch with `tf.nn.compute_average_loss`,
so the result is the same for any number of replicas."""
from __future__ import annotations

import tensorflow as tf


def _mean_per_example(x: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.cast(x, tf.float32), axis=tf.range(1, tf.rank(x)))


def pixel_mse(hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
    """Mean squared pixel error per example (SRResNet's loss)."""
    return _mean_per_example(tf.square(tf.cast(hr, tf.float32) - tf.cast(sr, tf.float32)))


def pixel_l1(hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
    """Mean absolute pixel error per example (EDSR's loss: it converges faster than MSE and blurs less)."""
    return _mean_per_example(tf.abs(tf.cast(hr, tf.float32) - tf.cast(sr, tf.float32)))


PIXEL_LOSSES = {"mse": pixel_mse, "l1": pixel_l1}


def feature_mse(hr_features: tf.Tensor, sr_features: tf.Tensor, feature_scale: float) -> tf.Tensor:
    """VGG content loss per example: MSE of feature maps multiplied by `feature_scale` (paper: 1/12.75)."""
    diff = (tf.cast(hr_features, tf.float32) - tf.cast(sr_features, tf.float32)) * feature_scale
    return _mean_per_example(tf.square(diff))


def _bce_with_logits(labels_value: float, logits: tf.Tensor) -> tf.Tensor:
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), labels_value)
    return _mean_per_example(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def adversarial_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """The generator's adversarial loss per example: -log D(G(lr)), non-saturating."""
    return _bce_with_logits(1.0, fake_logits)


def discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """BCE of real HR against 1 plus generated SR against 0, per example."""
    return _bce_with_logits(1.0, real_logits) + _bce_with_logits(0.0, fake_logits)


def fraction_correct(real_logits: tf.Tensor, fake_logits: tf.Tensor):
    """Per-example 0/1 correctness of the discriminator on real and on fake inputs."""
    real = tf.cast(tf.reshape(real_logits, [-1]) > 0, tf.float32)
    fake = tf.cast(tf.reshape(fake_logits, [-1]) < 0, tf.float32)
    return real, fake
