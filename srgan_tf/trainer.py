"""The training loop: per-replica steps, several steps per `tf.function` call, and the controller around it.

The inner loop (`train_loop`) runs `steps_per_loop` steps in one traced call; the outer loop (`fit`)
decides when to log, evaluate, checkpoint and export, as in tensorflow/models' orbit.
Both phases share the loop: `pretrain` trains SRResNet alone with pixel MSE, `gan` adds the
discriminator, the VGG content loss and the adversarial loss.
"""
from __future__ import annotations

import os
import shutil
import time
from typing import Dict, Optional

import keras
import tensorflow as tf
from absl import logging

from srgan_tf import checkpoints, distribute, imaging, losses
from srgan_tf.config import DataConfig, ModelConfig, TrainConfig
from srgan_tf.models import build_discriminator, build_generator, build_vgg_features

CHECKPOINT_NAME = "ckpt"
PRETRAIN_METRICS = ("g_loss", "content_loss")
GAN_METRICS = ("g_loss", "content_loss", "adversarial_loss", "d_loss", "d_accuracy_real", "d_accuracy_fake",
               "pixel_mse")


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not belong to this run's networks or phase."""


def _make_optimizer(learning_rate: float, decay_step: int, after_decay: float, beta1: float,
                    loss_scaling: bool) -> keras.optimizers.Optimizer:
    schedule = learning_rate
    if decay_step > 0:
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay([decay_step], [learning_rate, after_decay])
    optimizer = keras.optimizers.Adam(schedule, beta_1=beta1)
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scaling else optimizer


class Trainer:
    """Owns the networks, optimizers, checkpoints and summaries of one training run."""

    def __init__(self, strategy: tf.distribute.Strategy, data_config: DataConfig, model_config: ModelConfig,
                 train_config: TrainConfig, precision: str = "float32"):
        self.strategy = strategy
        self.data_config = data_config
        self.model_config = model_config
        self.config = train_config
        self.is_gan = train_config.phase == "gan"
        self.loss_scaling = precision == "mixed_float16"
        self.is_chief = distribute.is_chief(strategy)
        self.global_batch_size = data_config.batch_size

        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            self.generator = build_generator(model_config)
            self.g_optimizer = self._optimizer()
            # Keras 3 optimizers create slots lazily, which fails inside strategy.run: build them now.
            self.g_optimizer.build(self.generator.trainable_variables)
            tracked = dict(generator=self.generator, g_optimizer=self.g_optimizer, step=self.step)
            if self.is_gan:
                self.discriminator = build_discriminator(model_config)
                self.d_optimizer = self._optimizer()
                self.d_optimizer.build(self.discriminator.trainable_variables)
                tracked.update(discriminator=self.discriminator, d_optimizer=self.d_optimizer)
                if train_config.content_loss == "vgg":
                    self.vgg = build_vgg_features(model_config, seed=train_config.seed or 0)
        # BatchNormalization's moving statistics: Keras updates each replica's copy from its own batch.
        self._batch_norm_statistics = [w for name in ("generator", "discriminator") if name in tracked
                                          for w in tracked[name].non_trainable_weights]
        self.checkpoint = tf.train.Checkpoint(**tracked)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self._checkpoint_dir(), max_to_keep=train_config.keep_checkpoints,
            checkpoint_name=CHECKPOINT_NAME)
        self._gradients = tf.function(self._gan_gradients if self.is_gan else self._pretrain_gradients,
                                      jit_compile=train_config.jit_compile)

    # ----------------------------------------------------------------------------------------- set-up

    def _optimizer(self):
        c = self.config
        return _make_optimizer(c.learning_rate, c.lr_decay_step, c.lr_after_decay, c.beta1, self.loss_scaling)

    def _checkpoint_dir(self) -> str:
        """Non-chief workers must take part in saving, but into a scratch folder that is then removed."""
        if self.is_chief:
            return self.config.model_dir
        return os.path.join(self.config.model_dir, ".scratch", distribute.worker_id(self.strategy))

    def restore_or_initialize(self) -> str:
        """Resumes from the latest checkpoint in model_dir, else warm-starts the generator if asked.

        Returns what happened, for the log.
        """
        latest = tf.train.latest_checkpoint(self.config.model_dir)
        if latest:
            status = self.checkpoint.restore(latest)
            try:
                status.assert_existing_objects_matched()
            except AssertionError as error:
                raise CheckpointMismatchError(
                    f"--model_dir={self.config.model_dir} holds {latest}, which does not match this run's "
                    f"phase ({self.config.phase}) or networks; use a new --model_dir. ({error})") from error
            return f"resumed from {latest} at step {int(self.step.numpy())}"
        if self.config.init_checkpoint:
            return self._warm_start(self.config.init_checkpoint)
        return "initialised from scratch"

    def _warm_start(self, path: str) -> str:
        """Loads only the generator's weights from another run (a pretrain run, typically)."""
        try:
            prefix = checkpoints.resolve_checkpoint(path)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"--init_checkpoint: {error}") from error
        source = checkpoints.read_model_config(os.path.dirname(prefix))
        for field in ("scale", "num_residual_blocks", "num_filters"):
            if getattr(source, field) != getattr(self.model_config, field):
                raise CheckpointMismatchError(
                    f"--init_checkpoint={path} has {field}={getattr(source, field)}, this run "
                    f"{getattr(self.model_config, field)}.")
        status = tf.train.Checkpoint(generator=self.generator).restore(prefix)
        status.expect_partial().assert_existing_objects_matched()
        return f"generator warm-started from {prefix}"

    # ----------------------------------------------------------------------------- per-replica steps

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _scaled(self, optimizer, loss):
        return optimizer.scale_loss(loss) if self.loss_scaling else loss

    def _pretrain_gradients(self, lr, hr):
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            sr = self.generator(lr, training=True)
            loss = self._average(losses.pixel_mse(hr, sr))
            scaled = self._scaled(self.g_optimizer, loss)
        grads = tape.gradient(scaled, variables)
        return (grads,), {"g_loss": loss, "content_loss": loss}

    def _gan_gradients(self, lr, hr):
        c = self.config
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        hr_features = self.vgg(hr) if c.content_loss == "vgg" else None
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            sr = self.generator(lr, training=True)
            real_logits = self.discriminator(hr, training=True)
            fake_logits = self.discriminator(sr, training=True)
            if c.content_loss == "vgg":
                content = losses.feature_mse(hr_features, self.vgg(sr), c.vgg_feature_scale)
            else:
                content = losses.pixel_mse(hr, sr)
            adversarial = losses.adversarial_loss(fake_logits)
            content_loss = self._average(content)
            adversarial_loss = self._average(adversarial)
            g_loss = content_loss + c.adversarial_weight * adversarial_loss
            d_loss = self._average(losses.discriminator_loss(real_logits, fake_logits))
            g_scaled = self._scaled(self.g_optimizer, g_loss)
            d_scaled = self._scaled(self.d_optimizer, d_loss)
        g_grads = g_tape.gradient(g_scaled, g_vars)
        d_grads = d_tape.gradient(d_scaled, d_vars)
        real_correct, fake_correct = losses.fraction_correct(real_logits, fake_logits)
        metrics = {
            "g_loss": g_loss, "content_loss": content_loss, "adversarial_loss": adversarial_loss,
            "d_loss": d_loss, "d_accuracy_real": self._average(real_correct),
            "d_accuracy_fake": self._average(fake_correct),
            "pixel_mse": self._average(losses.pixel_mse(hr, sr)),
        }
        return (g_grads, d_grads), metrics

    def _replica_step(self, batch):
        lr, hr = batch
        # The forward/backward pass is XLA-compiled per replica; gradients are applied outside it, where
        # the optimizer all-reduces them across replicas.
        grads, metrics = self._gradients(lr, hr)
        self.g_optimizer.apply_gradients(zip(grads[0], self.generator.trainable_variables))
        if self.is_gan:
            self.d_optimizer.apply_gradients(zip(grads[1], self.discriminator.trainable_variables))
        self._average_batch_norm_statistics()
        return metrics

    def _average_batch_norm_statistics(self):
        """Averages the BatchNorm moving statistics over all replicas (of all workers).

        Keras updates each replica's copy from that replica's shard of the batch, so copies would drift
        apart; averaged after every step they stay identical everywhere, and checkpoints hold statistics of
        the whole global batch.
        """
        context = tf.distribute.get_replica_context()
        if context.num_replicas_in_sync == 1:
            return
        averaged = context.all_reduce(tf.distribute.ReduceOp.MEAN,
                                      [w.value for w in self._batch_norm_statistics])
        for weight, value in zip(self._batch_norm_statistics, averaged):
            weight.assign(value)

    @tf.function
    def train_loop(self, iterator, num_steps: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Runs `num_steps` steps (a tensor, so this traces once) and returns the metrics' means."""
        totals = {name: tf.constant(0.0) for name in (GAN_METRICS if self.is_gan else PRETRAIN_METRICS)}
        for _ in tf.range(num_steps):
            per_replica = self.strategy.run(self._replica_step, args=(next(iterator),))
            totals = {name: total + self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[name], axis=None)
                      for name, total in totals.items()}
            self.step.assign_add(1)
        return {k: v / tf.cast(num_steps, tf.float32) for k, v in totals.items()}

    # --------------------------------------------------------------------------------- bookkeeping

    def scalars(self) -> Dict[str, float]:
        """Learning rates and loss scales, read from the optimizers."""
        values = {}
        optimizers = {"g": self.g_optimizer}
        if self.is_gan:
            optimizers["d"] = self.d_optimizer
        for name, optimizer in optimizers.items():
            values[f"learning_rate/{name}"] = float(optimizer.learning_rate.numpy())
            if self.loss_scaling:
                values[f"loss_scale/{name}"] = float(optimizer.dynamic_scale.numpy())
        return values

    def save_checkpoint(self) -> Optional[str]:
        path = self.manager.save(checkpoint_number=self.step)
        if not self.is_chief:
            shutil.rmtree(self._checkpoint_dir(), ignore_errors=True)
            return None
        return path

    @tf.function(reduce_retracing=True)
    def _super_resolve(self, lr):
        return self.generator(lr, training=False)

    def evaluate(self, dataset: tf.data.Dataset, grid_size: int = 96):
        """PSNR/SSIM (Y channel, shave = scale) over `dataset` and a picture grid of each image.

        The grid shows a central HR-sized crop as: LR upsampled nearest | bicubic | SR | HR.
        """
        from srgan_tf import metrics  # imported here: the evaluation code is optional for training

        scale = self.model_config.scale
        psnrs, ssims, grids = [], [], []
        for example in dataset:
            lr, hr = example["lr"], example["hr"]
            sr = self._super_resolve(lr)
            psnrs.append(metrics.psnr(hr, sr, shave=scale))
            ssims.append(metrics.ssim(hr, sr, shave=scale))
            grids.append(_comparison_grid(lr, sr, hr, scale, grid_size))
        if not psnrs:
            return {}, None
        results = {"eval/psnr_y": float(tf.reduce_mean(tf.concat(psnrs, 0))),
                   "eval/ssim_y": float(tf.reduce_mean(tf.concat(ssims, 0)))}
        return results, tf.concat(grids, 0)


def _comparison_grid(lr, sr, hr, scale: int, size: int) -> tf.Tensor:
    """One row of `[1, size, 4 * size, 3]`: nearest | bicubic | SR | HR, cropped at the image centre."""
    lr_size = tf.shape(lr)[1:3]
    nearest = tf.image.resize(lr, lr_size * scale, method="nearest")
    bicubic = imaging.bicubic_upscale(lr, scale)
    panels = [nearest, bicubic, tf.clip_by_value(tf.cast(sr, tf.float32), 0.0, 1.0), hr]
    return tf.concat([tf.image.resize_with_crop_or_pad(p, size, size) for p in panels], axis=2)


class TrainingController:
    """The outer loop: runs the trainer in chunks and decides when to log, evaluate, save and export."""

    def __init__(self, trainer: Trainer, train_dataset, eval_dataset: Optional[tf.data.Dataset] = None):
        self.trainer = trainer
        self.config = trainer.config
        self.iterator = iter(train_dataset)
        self.eval_dataset = eval_dataset
        model_dir = self.config.model_dir
        if trainer.is_chief:
            self.train_writer = tf.summary.create_file_writer(os.path.join(model_dir, "train"))
            self.eval_writer = tf.summary.create_file_writer(os.path.join(model_dir, "eval"))
        else:
            self.train_writer = self.eval_writer = tf.summary.create_noop_writer()

    def _next_stop(self, step: int) -> int:
        """The nearest step at which something besides training has to happen."""
        c = self.config
        candidates = [c.train_steps, step + c.steps_per_loop]
        for every in (c.log_every, c.checkpoint_every, c.eval_every):
            candidates.append((step // every + 1) * every)
        return min(candidates)

    def run(self) -> Dict[str, float]:
        trainer, c = self.trainer, self.config
        step = int(trainer.step.numpy())
        start_step, last_metrics = step, {}
        interval_start, interval_step = time.perf_counter(), step
        run_start = time.perf_counter()
        while step < c.train_steps:
            stop = self._next_stop(step)
            metrics = trainer.train_loop(self.iterator, tf.constant(stop - step, tf.int64))
            metrics = {k: float(v) for k, v in metrics.items()}
            step = int(trainer.step.numpy())
            last_metrics = metrics
            if step % c.log_every == 0 or step == c.train_steps:
                elapsed = time.perf_counter() - interval_start
                steps_done = step - interval_step
                self._log(step, metrics, elapsed, steps_done, run_start, start_step)
                interval_start, interval_step = time.perf_counter(), step
            if self.eval_dataset is not None and (step % c.eval_every == 0 or step == c.train_steps):
                self._evaluate(step)
            if step % c.checkpoint_every == 0 or step == c.train_steps:
                path = trainer.save_checkpoint()
                if path:
                    logging.info("step %d: saved %s", step, path)
        return last_metrics

    def _log(self, step, metrics, elapsed, steps_done, run_start, start_step):
        trainer, c = self.trainer, self.config
        step_time = elapsed / max(steps_done, 1)
        patches_per_s = trainer.global_batch_size / step_time
        with self.train_writer.as_default(step=step):
            for name, value in {**metrics, **trainer.scalars()}.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("perf/step_time_s", step_time)
            tf.summary.scalar("perf/hr_patches_per_s", patches_per_s)
        self.train_writer.flush()
        remaining = (time.perf_counter() - run_start) / max(step - start_step, 1) * (c.train_steps - step)
        shown = "  ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        logging.info("[%s] step %d/%d  %s  %.1f patches/s  ETA %s", c.phase, step, c.train_steps, shown,
                     patches_per_s, _format_duration(remaining))

    def _evaluate(self, step: int):
        results, grid = self.trainer.evaluate(self.eval_dataset)
        if not results:
            return
        with self.eval_writer.as_default(step=step):
            for name, value in results.items():
                tf.summary.scalar(name, value)
            tf.summary.image("eval/nearest|bicubic|sr|hr", grid, max_outputs=grid.shape[0])
        self.eval_writer.flush()
        logging.info("[%s] step %d  eval  %s", self.config.phase, step,
                     "  ".join(f"{k}={v:.4f}" for k, v in results.items()))


def _format_duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
