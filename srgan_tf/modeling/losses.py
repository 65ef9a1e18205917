"""Per-example losses. Callers average them over the global batch with `tf.nn.compute_average_loss`,
so the result is the same for any number of replicas."""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import tensorflow as tf

from srgan_tf.registry import PIXEL_LOSSES


def mean_per_example(x: tf.Tensor) -> tf.Tensor:
    """The mean of each example's values (pixels, features or logits), in float32."""
    return tf.reduce_mean(tf.cast(x, tf.float32), axis=tf.range(1, tf.rank(x)))


def pixel_mse(hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
    """Mean squared pixel error per example (SRResNet's loss)."""
    return mean_per_example(tf.square(tf.cast(hr, tf.float32) - tf.cast(sr, tf.float32)))


def pixel_l1(hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
    """Mean absolute pixel error per example (EDSR's loss: it converges faster than MSE and blurs less)."""
    return mean_per_example(tf.abs(tf.cast(hr, tf.float32) - tf.cast(sr, tf.float32)))


def feature_loss(hr_features: tf.Tensor, sr_features: tf.Tensor, feature_scale: float,
                 distance: str = "mse") -> tf.Tensor:
    """VGG content loss per example: the `distance` ("mse" as SRGAN, "l1" as ESRGAN) of feature maps
    multiplied by `feature_scale` (SRGAN: 1/12.75), in float32."""
    scaled = [tf.cast(features, tf.float32) * feature_scale for features in (hr_features, sr_features)]
    return PIXEL_LOSSES[distance](*scaled)


def weighted_feature_loss(hr_features, sr_features, weights: Sequence[float], feature_scale: float,
                          distance: str = "mse") -> tf.Tensor:
    """The content loss of several VGG layers per example: the sum over layers of weight x `feature_loss`
    (Real-ESRGAN's perceptual loss, with L1 on features before the ReLU). `hr_features` and `sr_features` hold
    one feature map per weight, in the order of `weights` (one layer: a tensor or a list of one)."""
    hr_features, sr_features = tf.nest.flatten(hr_features), tf.nest.flatten(sr_features)
    if not len(hr_features) == len(sr_features) == len(weights):
        raise ValueError(f"{len(weights)} weights for {len(hr_features)} HR and {len(sr_features)} SR feature maps.")
    return tf.add_n([weight * feature_loss(hr, sr, feature_scale, distance)
                     for weight, hr, sr in zip(weights, hr_features, sr_features)])


def _bce_with_logits(labels_value: float, logits: tf.Tensor) -> tf.Tensor:
    labels = tf.fill(tf.shape(logits), labels_value)
    return mean_per_example(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


@dataclasses.dataclass(frozen=True)
class AdversarialLosses:
    """One GAN step's adversarial terms, per example: the generator's and the discriminator's losses, and the
    fraction of real and of fake inputs the discriminator judged right."""

    generator: tf.Tensor
    discriminator: tf.Tensor
    real_correct: tf.Tensor
    fake_correct: tf.Tensor


def _judged(real_logits: tf.Tensor, fake_logits: tf.Tensor, generator: tf.Tensor) -> AdversarialLosses:
    """The losses of a discriminator whose logits say "real" above 0 and "fake" below."""
    return AdversarialLosses(
        generator=generator,
        discriminator=_bce_with_logits(1.0, real_logits) + _bce_with_logits(0.0, fake_logits),
        real_correct=mean_per_example(real_logits > 0), fake_correct=mean_per_example(fake_logits < 0))


def vanilla_gan(real_logits: tf.Tensor, fake_logits: tf.Tensor, batch_mean=None) -> AdversarialLosses:
    """SRGAN's: BCE of real HR against 1 plus generated SR against 0 for the discriminator; -log D(G(lr)) for
    the generator (non-saturating). `batch_mean` is unused: each example is judged alone."""
    real_logits, fake_logits = tf.cast(real_logits, tf.float32), tf.cast(fake_logits, tf.float32)
    return _judged(real_logits, fake_logits, generator=_bce_with_logits(1.0, fake_logits))


def relativistic_average_gan(real_logits: tf.Tensor, fake_logits: tf.Tensor,
                             batch_mean: Callable[[tf.Tensor], tf.Tensor] = tf.reduce_mean) -> AdversarialLosses:
    """RaGAN (Jolicoeur-Martineau 2018) as ESRGAN uses it: the discriminator learns that a real image is more
    realistic than the average fake, sigmoid(C(real) - E[C(fake)]) -> 1, and a fake less than the average
    real, sigmoid(C(fake) - E[C(real)]) -> 0; the generator learns the opposite of both, so it is trained by
    the real images' logits too. Each loss is the mean of its two terms, as in the ESRGAN authors' code, which
    its adversarial weight 5e-3 was tuned with.

    `batch_mean(logits)`: the mean over the whole batch, differentiable; over every replica's examples in
    distributed training, so that the result does not depend on the number of replicas.
    """
    real_logits, fake_logits = tf.cast(real_logits, tf.float32), tf.cast(fake_logits, tf.float32)
    real_vs_fake = real_logits - batch_mean(fake_logits)
    fake_vs_real = fake_logits - batch_mean(real_logits)
    judged = _judged(real_vs_fake, fake_vs_real, generator=0.5 * (
        _bce_with_logits(0.0, real_vs_fake) + _bce_with_logits(1.0, fake_vs_real)))
    return dataclasses.replace(judged, discriminator=0.5 * judged.discriminator)
