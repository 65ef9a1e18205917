"""Training phases as tasks: each builds its networks, optimisers and losses and computes one replica's
gradients; the trainer runs any task the same way (checkpoints, distribution, loss scaling, the loop).

The networks and losses of a phase are chosen by its config (SRGAN and ESRGAN are the same two phases with
other generators, discriminators and losses); a new kind of training is a new task registered in
`srgan_tf.registry.TASKS` under the --phase that chooses it, and the trainer does not change.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Tuple

import keras
import tensorflow as tf

from srgan_tf.config import TrainingConfig
from srgan_tf.modeling import losses
from srgan_tf.modeling.discriminator import build_discriminator
from srgan_tf.modeling.generator import build_generator
from srgan_tf.modeling.vgg import build_vgg_features
from srgan_tf.registry import ADVERSARIAL_LOSSES, PIXEL_LOSSES, TASKS
from srgan_tf.training import schedules

Gradients = Tuple[List[tf.Tensor], ...]


@dataclasses.dataclass
class TrainedNetwork:
    """A network and the optimiser that trains it; both are checkpointed under their names."""

    name: str  # the network's checkpoint key, e.g. "generator"
    short_name: str  # "g": the optimiser is checkpointed as "g_optimizer", its scalars logged under ".../g"
    network: keras.Model
    optimizer: keras.optimizers.Optimizer


class Task:
    """One training phase. Subclasses build their networks in `build` and compute gradients per replica.

    Losses are per example, averaged over the global batch (so any number of replicas gives the same
    result), and returned as float32 metrics named in `metric_names`.
    """

    name = ""
    metric_names: Tuple[str, ...] = ()

    def __init__(self, config: TrainingConfig, loss_scaling: bool):
        self.config = config
        self.global_batch_size = config.data.batch_size
        self.loss_scaling = loss_scaling
        self.trained: List[TrainedNetwork] = []  # in the order `compute_gradients` returns their gradients

    def build(self) -> None:
        """Creates the networks and optimisers; the trainer calls it under the strategy's scope."""
        raise NotImplementedError

    @property
    def all_reduces_in_step(self) -> bool:
        """Whether `compute_gradients` all-reduces across replicas (the trainer cannot then run it as a nested,
        XLA-compiled function)."""
        return False

    def compute_gradients(self, lr: tf.Tensor, hr: tf.Tensor) -> Tuple[Gradients, Dict[str, tf.Tensor]]:
        """One replica's gradients, one list per trained network, and the step's metrics."""
        raise NotImplementedError

    @property
    def generator(self) -> keras.Model:
        return self.trained[0].network

    def checkpoint_objects(self) -> Dict[str, object]:
        """What a checkpoint holds of this task: each trained network and its optimiser."""
        objects = {}
        for trained in self.trained:
            objects[trained.name] = trained.network
            objects[f"{trained.short_name}_optimizer"] = trained.optimizer
        return objects

    def _train_with_adam(self, name: str, short_name: str, network: keras.Model) -> keras.Model:
        optimization = self.config.optimization
        optimizer = keras.optimizers.Adam(schedules.learning_rate(optimization), beta_1=optimization.beta1,
                                          beta_2=optimization.beta2)
        if self.loss_scaling:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        # Keras 3 optimizers create slots lazily, which fails inside strategy.run: build them now.
        optimizer.build(network.trainable_variables)
        self.trained.append(TrainedNetwork(name, short_name, network, optimizer))
        return network

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _scaled(self, index: int, loss: tf.Tensor) -> tf.Tensor:
        return self.trained[index].optimizer.scale_loss(loss) if self.loss_scaling else loss

    def _pixel_loss(self, hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
        return PIXEL_LOSSES[self.config.loss.pixel_loss](hr, sr)

    def _batch_mean(self, values: tf.Tensor) -> tf.Tensor:
        """The mean of `values` (one or more per example) over the global batch, every replica's examples
        included, and differentiable (the all-reduce's gradient is all-reduced in turn)."""
        total = tf.reduce_sum(tf.cast(values, tf.float32))
        context = tf.distribute.get_replica_context()
        if context.num_replicas_in_sync > 1:
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, total)
        per_example = tf.cast(tf.size(values) // tf.shape(values)[0], tf.float32)
        return total / (per_example * self.global_batch_size)


class PretrainingTask(Task):
    """PSNR-oriented pretraining: the generator alone, with a pixel loss (MSE as the paper, or L1)."""

    name = "pretrain"
    metric_names = ("g_loss", "content_loss")

    def build(self) -> None:
        self._train_with_adam("generator", "g", build_generator(self.config.generator))

    def compute_gradients(self, lr, hr):
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            sr = self.generator(lr, training=True)
            loss = self._average(self._pixel_loss(hr, sr))
            scaled = self._scaled(0, loss)
        return (tape.gradient(scaled, variables),), {"g_loss": loss, "content_loss": loss}


class AdversarialTask(Task):
    """The GAN phase, SRGAN's or ESRGAN's: the generator learns `content + adversarial_weight * adversarial +
    pixel_weight * pixel`, with content from VGG features (or pixels, for SRGAN-MSE) and the vanilla or
    relativistic adversarial loss, which also trains the discriminator."""

    name = "gan"
    metric_names = ("g_loss", "content_loss", "adversarial_loss", "pixel_loss", "d_loss", "d_accuracy_real",
                    "d_accuracy_fake", "d_real_logit", "d_fake_logit", "pixel_mse")

    def build(self) -> None:
        c = self.config
        self._train_with_adam("generator", "g", build_generator(c.generator))
        self.discriminator = self._train_with_adam(
            "discriminator", "d", build_discriminator(c.discriminator, c.data.hr_patch_size))
        self.vgg = None
        if c.loss.content_loss == "vgg":
            self.vgg = build_vgg_features(c.loss, seed=c.runtime.seed or 0)  # an output per weighted layer
            self.vgg_layer_weights = [weight for _, weight in c.loss.weighted_vgg_layers]

    @property
    def all_reduces_in_step(self) -> bool:
        return self.config.loss.adversarial == "relativistic"  # RaGAN's batch means

    def compute_gradients(self, lr, hr):
        c = self.config.loss
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        hr_features = None if self.vgg is None else self.vgg(hr)  # outside the tapes: HR needs no gradient
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            sr = self.generator(lr, training=True)
            real_logits = self.discriminator(hr, training=True)
            fake_logits = self.discriminator(sr, training=True)
            pixel_loss = self._average(self._pixel_loss(hr, sr))
            content_loss = pixel_loss if self.vgg is None else self._average(losses.weighted_feature_loss(
                hr_features, self.vgg(sr), self.vgg_layer_weights, c.vgg_feature_scale, c.content_loss_type))
            adversarial = ADVERSARIAL_LOSSES[c.adversarial](real_logits, fake_logits, self._batch_mean)
            adversarial_loss = self._average(adversarial.generator)
            g_loss = content_loss + c.adversarial_weight * adversarial_loss
            if c.pixel_weight:
                g_loss += c.pixel_weight * pixel_loss
            d_loss = self._average(adversarial.discriminator)
            g_scaled = self._scaled(0, g_loss)
            d_scaled = self._scaled(1, d_loss)
        g_grads = g_tape.gradient(g_scaled, g_vars)
        d_grads = d_tape.gradient(d_scaled, d_vars)
        metrics = {
            "g_loss": g_loss, "content_loss": content_loss, "adversarial_loss": adversarial_loss,
            "pixel_loss": pixel_loss, "d_loss": d_loss,
            "d_accuracy_real": self._average(adversarial.real_correct),
            "d_accuracy_fake": self._average(adversarial.fake_correct),
            # The discriminator's raw outputs: under RaGAN their gap, not their sign, is what it learns.
            "d_real_logit": self._average(losses.mean_per_example(real_logits)),
            "d_fake_logit": self._average(losses.mean_per_example(fake_logits)),
            "pixel_mse": self._average(losses.pixel_mse(hr, sr)),
        }
        return (g_grads, d_grads), metrics


def make_task(config: TrainingConfig, loss_scaling: bool) -> Task:
    """The task of `config.phase`."""
    return TASKS[config.phase](config, loss_scaling)
