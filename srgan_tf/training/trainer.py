"""The training loop: per-replica steps, several steps per `tf.function` call, and the controller around it.

The inner loop (`train_loop`) runs `steps_per_loop` steps in one traced call; the outer loop
(`TrainingController`) decides when to log, evaluate and checkpoint, as in tensorflow/models' orbit, and
what to do about signals and divergence (see RELIABILITY.md).
Both phases share the loop: `pretrain` trains the generator alone with a pixel loss (MSE or L1), `gan` adds
the discriminator, a content loss (VGG features or pixels) and the adversarial loss.
"""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import time
from typing import Dict, List, Optional

import keras
import tensorflow as tf
from absl import logging

from srgan_tf.common import console, imaging
from srgan_tf.data import pipeline
from srgan_tf.evaluation import metrics
from srgan_tf.modeling import losses
from srgan_tf.training import checkpointing, distribute, preemption, schedules
from srgan_tf.config import DataConfig, ModelConfig, TrainConfig
from srgan_tf.training.divergence import DivergenceGuard, TrainingDivergedError
from srgan_tf.modeling.discriminator import build_discriminator
from srgan_tf.modeling.generator import build_generator
from srgan_tf.modeling.vgg import build_vgg_features

CHECKPOINT_NAME = "ckpt"
PRETRAIN_METRICS = ("g_loss", "content_loss")
GAN_METRICS = ("g_loss", "content_loss", "adversarial_loss", "d_loss", "d_accuracy_real", "d_accuracy_fake",
               "pixel_mse")


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not belong to this run's networks or phase."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, permissions); the previous one is intact."""


class WorkersDisagreeError(RuntimeError):
    """Workers resumed from different checkpoints: their model directories are not the same storage."""


def weights_fingerprint(weights: List[tf.Variable]) -> str:
    """A short hash of the weights' values: equal on every worker of a run, and equal to the checkpoint's."""
    digest = hashlib.sha256()
    for weight in weights:
        digest.update(weight.numpy().tobytes())
    return digest.hexdigest()[:16]


def size_in_bytes(variables) -> int:
    return sum(math.prod(v.shape) * tf.as_dtype(v.dtype).size for v in variables)


def _make_optimizer(config: TrainConfig, loss_scaling: bool) -> keras.optimizers.Optimizer:
    optimizer = keras.optimizers.Adam(schedules.learning_rate(config), beta_1=config.beta1)
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scaling else optimizer


class Trainer:
    """Owns the networks, optimizers, checkpoints and summaries of one training run."""

    def __init__(self, strategy: tf.distribute.Strategy, data_config: DataConfig, model_config: ModelConfig,
                 train_config: TrainConfig, precision: str = "float32", input_state=None):
        """`input_state`: a trackable input iterator to checkpoint with the rest, so resuming continues the
        data exactly where the checkpoint was written."""
        self.strategy = strategy
        self.data_config = data_config
        self.model_config = model_config
        self.config = train_config
        self.is_gan = train_config.phase == "gan"
        self.loss_scaling = precision == "mixed_float16"
        self.is_chief = distribute.is_chief(strategy)
        self.global_batch_size = data_config.batch_size
        self.resumed = False

        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            self.generator = build_generator(model_config)
            self.g_optimizer = self._optimizer()
            # Keras 3 optimizers create slots lazily, which fails inside strategy.run: build them now.
            self.g_optimizer.build(self.generator.trainable_variables)
            tracked = dict(generator=self.generator, g_optimizer=self.g_optimizer, step=self.step)
            # The moving average of the generator's weights (BasicSR's net_g_ema), when asked for.
            self.ema_generator = build_generator(model_config) if train_config.ema_decay > 0 else None
            if self.ema_generator is not None:
                tracked[checkpointing.EMA_GENERATOR] = self.ema_generator
            if self.is_gan:
                self.discriminator = build_discriminator(model_config)
                self.d_optimizer = self._optimizer()
                self.d_optimizer.build(self.discriminator.trainable_variables)
                tracked.update(discriminator=self.discriminator, d_optimizer=self.d_optimizer)
                if train_config.content_loss == "vgg":
                    self.vgg = build_vgg_features(model_config, seed=train_config.seed or 0)
        self._networks = [tracked[name] for name in ("generator", "discriminator") if name in tracked]
        # BatchNormalization's moving statistics: Keras updates each replica's copy from its own batch.
        self._batch_norm_statistics = [w for network in self._networks for w in network.non_trainable_weights]
        self._state_variables = [v for network in self._networks for v in network.weights] + [
            v for name in ("g_optimizer", "d_optimizer") if name in tracked for v in tracked[name].variables]
        if self.ema_generator is not None:
            self._state_variables += self.ema_generator.weights
        # Rolling back after divergence restores the training state but leaves the data going forward.
        self._training_state = tf.train.Checkpoint(**tracked)
        if input_state is not None:
            tracked["data"] = input_state
        self.checkpoint = tf.train.Checkpoint(**tracked)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self._checkpoint_dir(), max_to_keep=train_config.keep_checkpoints,
            checkpoint_name=CHECKPOINT_NAME)
        self._gradients = tf.function(self._gan_gradients if self.is_gan else self._pretrain_gradients,
                                      jit_compile=train_config.jit_compile)

    @property
    def eval_generator(self) -> keras.Model:
        """The generator that evaluation and export use: the moving average of the weights when kept."""
        return self.generator if self.ema_generator is None else self.ema_generator

    # ----------------------------------------------------------------------------------------- set-up

    def _optimizer(self):
        return _make_optimizer(self.config, self.loss_scaling)

    def _checkpoint_dir(self) -> str:
        """Non-chief workers must take part in saving, but into a scratch folder that is then removed."""
        if self.is_chief:
            return self.config.model_dir
        return os.path.join(self.config.model_dir, f".scratch_{distribute.worker_id(self.strategy)}")

    def restore_or_initialize(self) -> str:
        """Resumes from the latest checkpoint in model_dir, else warm-starts the generator if asked.

        Returns what happened, for the log.
        """
        latest = tf.train.latest_checkpoint(self.config.model_dir)
        if latest:
            try:
                status = self.checkpoint.restore(latest)
                status.assert_existing_objects_matched()
            except (AssertionError, ValueError) as error:
                raise CheckpointMismatchError(
                    f"--model_dir={self.config.model_dir} holds {latest}, which does not match this run's "
                    f"phase ({self.config.phase}), networks, --ema_decay (on or off), learning-rate schedule "
                    f"(constant or not) or --deterministic; use a new --model_dir. ({error})") from error
            status.expect_partial()  # an input position saved by a --deterministic run may go unused
            self.resumed = True
            what = f"resumed from {latest} at step {int(self.step.numpy())}"
            what += self._apply_configured_learning_rate()
        elif self.config.init_checkpoint:
            what = self._warm_start(self.config.init_checkpoint)
        else:
            what = "initialised from scratch"
        if self.ema_generator is not None and not self.resumed:
            self.ema_generator.set_weights(self.generator.get_weights())  # the average starts where training does
        self._check_workers_agree()
        if self.is_chief:
            self._remove_partial_checkpoints()
        return what

    def _apply_configured_learning_rate(self) -> str:
        """A constant learning rate is a variable the restore has just overwritten: the flag's value wins."""
        if not schedules.is_constant(self.config):
            return ""
        restored = float(self.g_optimizer.learning_rate.numpy())
        for optimizer in self._optimizers().values():
            optimizer.learning_rate = self.config.learning_rate
        if math.isclose(restored, self.config.learning_rate, rel_tol=1e-6):
            return ""
        return f"; --learning_rate={self.config.learning_rate:g} replaces the checkpoint's {restored:g}"

    def _optimizers(self) -> Dict[str, keras.optimizers.Optimizer]:
        """The optimizers by the network they train: "g", and "d" in the gan phase."""
        return {"g": self.g_optimizer, **({"d": self.d_optimizer} if self.is_gan else {})}

    def _check_workers_agree(self):
        """Every worker must resume from the same checkpoint, or their weights silently differ."""
        replicas, total, squares = self._step_moments().numpy()
        if replicas * squares != total * total:  # equal only if every replica holds the same step
            raise WorkersDisagreeError(
                f"Workers resumed at different steps (this one at {int(self.step.numpy())}, their mean "
                f"{total / replicas:g}): --model_dir={self.config.model_dir} must be storage every worker "
                f"reads (a shared file system), not a local folder on each host.")

    def _remove_partial_checkpoints(self):
        """Removes the temporary folders of checkpoint writes that were killed or ran out of space."""
        for path in tf.io.gfile.glob(os.path.join(self._checkpoint_dir(), f"{CHECKPOINT_NAME}-*_temp")):
            tf.io.gfile.rmtree(path)

    def _warm_start(self, path: str) -> str:
        """Loads only the generator's weights from another run (a pretrain run, typically)."""
        try:
            prefix = checkpointing.resolve_checkpoint(path)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"--init_checkpoint: {error}") from error
        theirs = checkpointing.read_model_config(os.path.dirname(prefix)).generator_fields()
        for field, ours in self.model_config.generator_fields().items():
            if theirs[field] != ours:
                raise CheckpointMismatchError(
                    f"--init_checkpoint={path} has {field}={theirs[field]}, this run {ours}.")
        try:
            key = checkpointing.restore_generator(self.generator, prefix)
        except ValueError as error:
            raise CheckpointMismatchError(f"--init_checkpoint={path}: {error}") from error
        return f"generator warm-started from {prefix} ({key})"

    # ----------------------------------------------------------------------------- per-replica steps

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _scaled(self, optimizer, loss):
        return optimizer.scale_loss(loss) if self.loss_scaling else loss

    def _pixel_loss(self, hr, sr):
        return losses.PIXEL_LOSSES[self.config.pixel_loss](hr, sr)

    def _pretrain_gradients(self, lr, hr):
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            sr = self.generator(lr, training=True)
            loss = self._average(self._pixel_loss(hr, sr))
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
                content = self._pixel_loss(hr, sr)
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
        trained = [(self.generator, self.g_optimizer)]
        if self.is_gan:
            trained.append((self.discriminator, self.d_optimizer))
        # BatchNorm statistics read now, before the forward pass moves them.
        statistics = [[w.value.read_value() for w in network.non_trainable_weights] if self.loss_scaling
                      else None for network, _ in trained]
        # The forward/backward pass is XLA-compiled per replica; gradients are applied outside it, where
        # the optimizer all-reduces them across replicas.
        grads, metrics = self._gradients(lr, hr)
        for (network, optimizer), network_grads, before in zip(trained, grads, statistics):
            if self.loss_scaling:
                network_grads = self._skip_cleanly_everywhere(network, network_grads, before)
            optimizer.apply_gradients(zip(network_grads, network.trainable_variables))
        self._average_batch_norm_statistics()
        return metrics

    def _skip_cleanly_everywhere(self, network, grads, statistics_before):
        """Makes a step that loss scaling skips leave no trace, on every replica.

        LossScaleOptimizer (Keras 3.15) decides to skip from the first replica's local gradients: an
        overflow on another replica would be all-reduced into the weights (seen here: NaN kernels after 3
        float16 steps on 2 replicas). So an overflow anywhere is made visible everywhere. And the forward
        pass has already moved the BatchNorm statistics, with NaN for a NaN batch: those are put back.
        """
        context = tf.distribute.get_replica_context()
        overflowed = tf.logical_not(tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads]))
        if context.num_replicas_in_sync > 1:
            overflowed = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(overflowed, tf.float32)) > 0
        for weight, before in zip(network.non_trainable_weights, statistics_before):
            weight.assign(tf.where(overflowed, before, weight.value))
        poison = tf.where(overflowed, math.nan, 0.0)
        return [g + tf.cast(poison, g.dtype) for g in grads]

    def _average_batch_norm_statistics(self):
        """Averages the BatchNorm moving statistics over all replicas (of all workers).

        Keras updates each replica's copy from that replica's shard of the batch, so copies would drift
        apart; averaged after every step they stay identical everywhere, and checkpoints hold statistics of
        the whole global batch.
        """
        context = tf.distribute.get_replica_context()
        if context.num_replicas_in_sync == 1:
            return
        # read_value() places the reads on this replica's device, which MultiWorkerMirroredStrategy needs.
        averaged = context.all_reduce(tf.distribute.ReduceOp.MEAN,
                                      [w.value.read_value() for w in self._batch_norm_statistics])
        for weight, value in zip(self._batch_norm_statistics, averaged):
            weight.assign(value)

    @tf.function
    def _step_moments(self) -> tf.Tensor:
        """Sums over all replicas of (1, step, step²), each replica reading its own copy of the step.
        (A collective every worker must join; strategies reduce by SUM or MEAN only.)"""
        def moments():
            step = tf.cast(self.step.read_value(), tf.float64)
            return tf.stack([tf.constant(1.0, tf.float64), step, step * step])

        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(moments), axis=None)

    @tf.function
    def _count_over_replicas(self, flag: tf.Tensor) -> tf.Tensor:
        """The replicas, of all workers, whose worker passed a true `flag`: a collective all must join."""
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM,
                                    self.strategy.run(lambda: tf.cast(flag, tf.float64)), axis=None)

    def any_worker(self, flag: bool) -> bool:
        """Whether `flag` is set on some worker: lets every worker act on what one of them saw."""
        return float(self._count_over_replicas(tf.constant(flag))) > 0

    @tf.function
    def weights_finite(self) -> tf.Tensor:
        return tf.reduce_all([tf.reduce_all(tf.math.is_finite(w)) for n in self._networks for w in n.weights])

    def fingerprint(self) -> str:
        return weights_fingerprint(self.generator.weights)

    def checkpoint_bytes(self) -> int:
        """About the size of one checkpoint: the networks and the optimizers' slots."""
        return size_in_bytes(self._state_variables)

    @tf.function
    def train_loop(self, iterator, num_steps: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Runs `num_steps` steps (a tensor, so this traces once) and returns the metrics' means."""
        totals = {name: tf.constant(0.0) for name in (GAN_METRICS if self.is_gan else PRETRAIN_METRICS)}
        for _ in tf.range(num_steps):
            per_replica = self.strategy.run(self._replica_step, args=(next(iterator),))
            totals = {name: total + self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[name], axis=None)
                      for name, total in totals.items()}
            self._update_moving_average()
            self.step.assign_add(1)
        return {k: v / tf.cast(num_steps, tf.float32) for k, v in totals.items()}

    def _update_moving_average(self):
        """ema = decay * ema + (1 - decay) * weights, in cross-replica context: the same on every replica."""
        if self.ema_generator is None:
            return
        decay = self.config.ema_decay
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * weight)

    # --------------------------------------------------------------------------------- bookkeeping

    def scalars(self) -> Dict[str, float]:
        """Learning rates and loss scales, read from the optimizers, and the steps loss scaling skipped."""
        values = {}
        step = int(self.step.numpy())
        for name, optimizer in self._optimizers().items():
            values[f"learning_rate/{name}"] = float(optimizer.learning_rate.numpy())
            if self.loss_scaling:
                values[f"loss_scale/{name}"] = float(optimizer.dynamic_scale.numpy())
                # The optimizer counts only the steps it applied; non-finite gradients skip a step.
                values[f"reliability/skipped_steps/{name}"] = step - int(optimizer.iterations.numpy())
        return values

    def save_checkpoint(self) -> Optional[str]:
        """Saves a checkpoint, unless the weights are not finite: the last one must stay good to roll back to.

        Returns its path on the chief; other workers write into a scratch folder, then remove it.
        """
        step = int(self.step.numpy())
        if not self.weights_finite():
            logging.warning("step %d: weights are not finite; no checkpoint saved.", step)
            return None
        try:
            path = self.manager.save(checkpoint_number=step)
        except (tf.errors.OpError, OSError) as error:
            self._remove_partial_checkpoints()
            previous = tf.train.latest_checkpoint(self.config.model_dir)
            raise CheckpointWriteError(
                f"--model_dir={self.config.model_dir}: could not write the checkpoint of step {step}: "
                f"{console.describe_error(error)}. The previous checkpoint, {previous}, is intact.") from error
        if not self.is_chief:
            shutil.rmtree(self._checkpoint_dir(), ignore_errors=True)
            return None
        return path

    def roll_back(self) -> str:
        """Restores the training state of the latest checkpoint, but not its input position."""
        latest = tf.train.latest_checkpoint(self.config.model_dir)
        if latest is None:
            raise TrainingDivergedError(f"Training diverged and --model_dir={self.config.model_dir} holds no "
                                        f"checkpoint to roll back to.")
        self._training_state.restore(latest).expect_partial().assert_existing_objects_matched()
        return latest

    @tf.function(reduce_retracing=True)
    def _super_resolve(self, lr):
        """SR rounded to 8 bits, as saved and served, so the PSNR is the one `srgan_tf.evaluate` reports."""
        return imaging.quantize(self.eval_generator(lr, training=False))

    def evaluate(self, dataset: tf.data.Dataset, grid_size: int = 96):
        """PSNR/SSIM (Y channel, shave = scale) over `dataset` and a picture grid of each image.

        The grid shows a central HR-sized crop as: LR upsampled nearest | bicubic | SR | HR.
        """
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


class _Interval:
    """The loops run since the last log line: their metrics averaged over steps, and the time spent training
    (evaluation and checkpoint writes left out, so step time and patches/s measure the training step)."""

    def __init__(self):
        self.seconds = 0.0
        self.steps = 0
        self._sums: Dict[str, float] = {}

    def add(self, metrics: Dict[str, float], steps: int, seconds: float) -> None:
        for name, value in metrics.items():
            self._sums[name] = self._sums.get(name, 0.0) + value * steps
        self.steps += steps
        self.seconds += seconds

    def means(self) -> Dict[str, float]:
        return {name: total / self.steps for name, total in self._sums.items()}

    def step_time(self) -> float:
        return self.seconds / max(self.steps, 1)


class TrainingController:
    """The outer loop: runs the trainer in chunks and decides when to log, evaluate, save and stop.

    Between chunks it also acts on SIGTERM/SIGINT (save, then raise preemption.TrainingInterrupted) and on
    divergence (roll back to the last good checkpoint, see divergence.DivergenceGuard).
    """

    def __init__(self, trainer: Trainer, train_dataset, eval_dataset: Optional[tf.data.Dataset] = None):
        self.trainer = trainer
        self.config = trainer.config
        self.iterator = iter(train_dataset)
        self.eval_dataset = eval_dataset
        c = self.config
        self.guard = DivergenceGuard(c.nan_patience, c.max_recoveries, c.max_loss)
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
        """Trains to `train_steps` and returns the last logged metrics."""
        if not self.trainer.resumed:
            self.trainer.save_checkpoint()  # something to roll back to before the first scheduled checkpoint
        with preemption.StopRequests() as stop:
            return self._run(stop)

    def _run(self, stop: preemption.StopRequests) -> Dict[str, float]:
        trainer, c = self.trainer, self.config
        step = int(trainer.step.numpy())
        start_step, last_metrics = step, {}
        interval, run_start = _Interval(), time.perf_counter()
        while step < c.train_steps:
            steps = self._next_stop(step) - step
            started = time.perf_counter()
            metrics = self._train(steps)
            interval.add(metrics, steps, time.perf_counter() - started)
            step = int(trainer.step.numpy())
            if step % c.log_every == 0 or step == c.train_steps:
                last_metrics = interval.means()
                self._log(step, last_metrics, interval.step_time(), run_start, start_step)
                interval = _Interval()
                if self._rolled_back(step, last_metrics):
                    step = int(trainer.step.numpy())
                    continue
            if self.eval_dataset is not None and (step % c.eval_every == 0 or step == c.train_steps):
                self._evaluate(step)
            # Every worker must stop at the same step, so all agree on whether any was signalled.
            stopping = trainer.any_worker(stop.signum is not None)
            checkpoint = None
            if stopping or step % c.checkpoint_every == 0 or step == c.train_steps:
                checkpoint = trainer.save_checkpoint()
                if checkpoint:
                    logging.info("step %d: saved %s", step, checkpoint)
            if stopping:
                raise preemption.TrainingInterrupted(stop.signum, step, checkpoint)
        return last_metrics

    def _train(self, steps: int) -> Dict[str, float]:
        try:
            metrics = self.trainer.train_loop(self.iterator, tf.constant(steps, tf.int64))
        except tf.errors.DataLossError as error:
            raise pipeline.CorruptRecordsError(
                f"A training shard became unreadable during training ({console.describe_error(error)}). Rerun: "
                f"the start-up check names corrupt shards; or pass --skip_corrupt_records.") from error
        return {name: float(value) for name, value in metrics.items()}

    def _rolled_back(self, step: int, metrics: Dict[str, float]) -> bool:
        """Rolls back to the last good checkpoint if the guard says training has diverged."""
        reason = self.guard.reason_to_recover(metrics, bool(self.trainer.weights_finite()),
                                              final=step == self.config.train_steps)
        if reason is None:
            return False
        path = self.trainer.roll_back()
        logging.warning("step %d: %s; rolled back to %s (recovery %d of at most %d).", step, reason, path,
                        self.guard.recoveries, self.config.max_recoveries)
        return True

    def _log(self, step, metrics, step_time, run_start, start_step):
        trainer, c = self.trainer, self.config
        patches_per_s = trainer.global_batch_size / step_time
        with self.train_writer.as_default(step=step):
            for name, value in {**metrics, **trainer.scalars()}.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("reliability/recoveries", self.guard.recoveries)
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
