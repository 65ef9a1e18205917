"""The trainer: runs any task's per-replica step across replicas, several steps per `tf.function` call, and
owns the state a checkpoint holds (the task's networks and optimisers, the moving average, the step).

What happens between those calls (logs, evaluation, checkpoints, signals, divergence) is the controller's.
"""
from __future__ import annotations

import math
import os
import shutil
from typing import Dict, List, Optional

import keras
import tensorflow as tf
from absl import logging

from srgan_tf.common import console
from srgan_tf.config import TrainingConfig
from srgan_tf.modeling import checkpointing
from srgan_tf.modeling.checkpointing import CheckpointMismatchError, CheckpointWriteError
from srgan_tf.modeling.generator import build_generator
from srgan_tf.training import acceleration, distribute, schedules
from srgan_tf.training.divergence import TrainingDivergedError
from srgan_tf.training.tasks import Task, make_task

CHECKPOINT_NAME = "ckpt"


class Trainer:
    """Owns one run's task, step, moving average and checkpoints, and runs its training steps."""

    def __init__(self, strategy: tf.distribute.Strategy, config: TrainingConfig, input_state=None):
        """Resolves `config.runtime`'s precision (made the global Keras policy) and XLA setting for this
        machine, then builds the task's networks. `input_state`: a trackable input iterator to checkpoint with
        the rest, so resuming continues the data exactly where the checkpoint was written."""
        runtime = config.runtime
        chosen = acceleration.choose(runtime.precision, runtime.jit_compile)
        self.task: Task = make_task(config, chosen.loss_scaling)
        # A cross-replica all-reduce inside the step (merge_call) cannot run in a nested tf.function, which
        # XLA compilation needs.
        self._step_all_reduces = self.task.all_reduces_in_step and strategy.num_replicas_in_sync > 1
        if self._step_all_reduces:
            chosen = acceleration.without_xla(chosen, runtime.jit_compile,
                                              f"--adversarial={config.loss.adversarial} all-reduces its batch "
                                              f"means across the {strategy.num_replicas_in_sync} replicas")
        self.acceleration = acceleration.apply(chosen)
        self.strategy = strategy
        self.config = config
        self.model_dir = config.bookkeeping.model_dir
        self.loss_scaling = self.acceleration.loss_scaling
        self.is_chief = distribute.is_chief(strategy)
        self.global_batch_size = config.data.batch_size
        self.resumed = False

        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            self.task.build()
            # The moving average of the generator's weights (BasicSR's net_g_ema), when asked for.
            keeps_average = config.optimization.ema_decay > 0
            self.ema_generator = build_generator(config.generator) if keeps_average else None
        self.generator = self.task.generator
        tracked = dict(self.task.checkpoint_objects(), step=self.step)
        if self.ema_generator is not None:
            tracked[checkpointing.EMA_GENERATOR] = self.ema_generator
        self._networks = [trained.network for trained in self.task.trained]
        # BatchNormalization's moving statistics: Keras updates each replica's copy from its own batch.
        self._batch_norm_statistics = [w for network in self._networks for w in network.non_trainable_weights]
        self._state_variables = [v for t in self.task.trained for v in t.network.weights + t.optimizer.variables]
        if self.ema_generator is not None:
            self._state_variables += self.ema_generator.weights
        # Rolling back after divergence restores the training state but leaves the data going forward.
        self._training_state = tf.train.Checkpoint(**tracked)
        if input_state is not None:
            tracked["data"] = input_state
        self.checkpoint = tf.train.Checkpoint(**tracked)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self._checkpoint_dir(), max_to_keep=config.bookkeeping.keep_checkpoints,
            checkpoint_name=CHECKPOINT_NAME)
        self.last_saved_step: Optional[int] = None
        self.workers = distribute.Workers(strategy, self.step)
        self._gradients = self.task.compute_gradients if self._step_all_reduces else tf.function(
            self.task.compute_gradients, jit_compile=self.acceleration.jit_compile)

    @property
    def eval_generator(self) -> keras.Model:
        """The generator that evaluation and export use: the moving average of the weights when kept."""
        return self.generator if self.ema_generator is None else self.ema_generator

    @property
    def optimizers(self) -> Dict[str, keras.optimizers.Optimizer]:
        """The optimisers by the short name of the network they train ("g", "d")."""
        return {trained.short_name: trained.optimizer for trained in self.task.trained}

    # ----------------------------------------------------------------------------------------- set-up

    def _checkpoint_dir(self) -> str:
        """Non-chief workers must take part in saving, but into a scratch folder that is then removed."""
        if self.is_chief:
            return self.model_dir
        return os.path.join(self.model_dir, f".scratch_{distribute.worker_id(self.strategy)}")

    def restore_or_initialize(self) -> str:
        """Resumes from the latest checkpoint in model_dir, else warm-starts the generator if asked.

        Returns what happened, for the log.
        """
        latest = tf.train.latest_checkpoint(self.model_dir)
        if latest:
            try:
                status = self.checkpoint.restore(latest)
                status.assert_existing_objects_matched()
            except (AssertionError, ValueError) as error:
                raise CheckpointMismatchError(
                    f"--model_dir={self.model_dir} holds {latest}, which does not match this run's "
                    f"phase ({self.config.phase}), networks, --ema_decay (on or off), learning-rate schedule "
                    f"(constant or not) or --deterministic; use a new --model_dir. ({error})") from error
            status.expect_partial()  # an input position saved by a --deterministic run may go unused
            self.resumed = True
            self.last_saved_step = int(self.step.numpy())
            what = f"resumed from {latest} at step {int(self.step.numpy())}"
            what += self._apply_configured_learning_rate()
        elif self.config.bookkeeping.init_checkpoint:
            what = checkpointing.warm_start(self.generator, self.config.generator,
                                            self.config.bookkeeping.init_checkpoint)
        else:
            what = "initialised from scratch"
        if self.ema_generator is not None and not self.resumed:
            self.ema_generator.set_weights(self.generator.get_weights())  # the average starts where training does
        self.workers.check_same_step(self.model_dir)
        if self.is_chief:
            self._remove_partial_checkpoints()
        return what

    def _apply_configured_learning_rate(self) -> str:
        """A constant learning rate is a variable the restore has just overwritten: the flag's value wins."""
        configured = self.config.optimization
        if not schedules.is_constant(configured):
            return ""
        restored = float(self.optimizers["g"].learning_rate.numpy())
        for optimizer in self.optimizers.values():
            optimizer.learning_rate = configured.learning_rate
        if math.isclose(restored, configured.learning_rate, rel_tol=1e-6):
            return ""
        return f"; --learning_rate={configured.learning_rate:g} replaces the checkpoint's {restored:g}"

    def _remove_partial_checkpoints(self):
        """Removes the temporary folders of checkpoint writes that were killed or ran out of space."""
        for path in tf.io.gfile.glob(os.path.join(self._checkpoint_dir(), f"{CHECKPOINT_NAME}-*_temp")):
            tf.io.gfile.rmtree(path)

    # ----------------------------------------------------------------------------- per-replica steps

    def _replica_step(self, batch):
        lr, hr = batch
        # BatchNorm statistics read now, before the forward pass moves them.
        statistics = [[w.value.read_value() for w in t.network.non_trainable_weights] if self.loss_scaling
                      else None for t in self.task.trained]
        # The forward/backward pass is XLA-compiled per replica (unless it all-reduces itself); gradients are
        # applied outside it, where the optimizer all-reduces them across replicas.
        grads, metrics = self._gradients(lr, hr)
        for trained, network_grads, before in zip(self.task.trained, grads, statistics):
            if self.loss_scaling:
                network_grads = self._skip_cleanly_everywhere(trained.network, network_grads, before)
            trained.optimizer.apply_gradients(zip(network_grads, trained.network.trainable_variables))
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
        # Networks without BatchNorm (RRDBNet, --nogenerator_batch_norm) have nothing to average, and
        # MirroredStrategy picks its cross-device ops from the first value reduced: with an empty list it has
        # none ("'NoneType' object has no attribute 'batch_reduce'").
        if context.num_replicas_in_sync == 1 or not self._batch_norm_statistics:
            return
        # read_value() places the reads on this replica's device, which MultiWorkerMirroredStrategy needs.
        averaged = context.all_reduce(tf.distribute.ReduceOp.MEAN,
                                      [w.value.read_value() for w in self._batch_norm_statistics])
        for weight, value in zip(self._batch_norm_statistics, averaged):
            weight.assign(value)

    @tf.function
    def train_loop(self, iterator, num_steps: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Runs `num_steps` steps (a tensor, so this traces once) and returns the metrics' means."""
        totals = {name: tf.constant(0.0) for name in self.task.metric_names}
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
        decay = self.config.optimization.ema_decay
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * weight)

    # --------------------------------------------------------------------------------- state

    @tf.function
    def weights_finite(self) -> tf.Tensor:
        return tf.reduce_all([tf.reduce_all(tf.math.is_finite(w)) for n in self._networks for w in n.weights])

    def non_finite_weight_names(self) -> List[str]:
        """The paths of the weights holding a NaN or an infinity, to say where a divergence struck."""
        return [w.path for n in self._networks for w in n.weights
                if not bool(tf.reduce_all(tf.math.is_finite(w)))]

    def fingerprint(self) -> str:
        return checkpointing.weights_fingerprint(self.generator.weights)

    def checkpoint_bytes(self) -> int:
        """About the size of one checkpoint: the networks and the optimizers' slots."""
        return checkpointing.size_in_bytes(self._state_variables)

    def scalars(self) -> Dict[str, float]:
        """Learning rates and loss scales, read from the optimizers, and the steps loss scaling skipped."""
        values = {}
        step = int(self.step.numpy())
        for name, optimizer in self.optimizers.items():
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
            logging.warning("step %d: weights are not finite (%s); no checkpoint saved.", step,
                            ", ".join(self.non_finite_weight_names()))
            return None
        try:
            path = self.manager.save(checkpoint_number=step)
        except (tf.errors.OpError, OSError) as error:
            self._remove_partial_checkpoints()
            previous = tf.train.latest_checkpoint(self.model_dir)
            raise CheckpointWriteError(
                f"--model_dir={self.model_dir}: could not write the checkpoint of step {step}: "
                f"{console.describe_error(error)}. The previous checkpoint, {previous}, is intact.") from error
        self.last_saved_step = step
        if not self.is_chief:
            shutil.rmtree(self._checkpoint_dir(), ignore_errors=True)
            return None
        return path

    def roll_back(self) -> str:
        """Restores the training state of the latest checkpoint, but not its input position."""
        latest = tf.train.latest_checkpoint(self.model_dir)
        if latest is None:
            raise TrainingDivergedError(f"Training diverged and --model_dir={self.model_dir} holds no "
                                        f"checkpoint to roll back to.")
        self._training_state.restore(latest).expect_partial().assert_existing_objects_matched()
        return latest
