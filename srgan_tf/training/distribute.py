"""Choosing the distribution strategy, and feeding replicas resumably."""
from __future__ import annotations

import json
import os
from typing import Callable

import tensorflow as tf


def split_cpu(num_replicas: int) -> None:
    """Splits the CPU into logical devices so multi-replica code runs without GPUs.

    Must be called before anything touches a device; afterwards TensorFlow refuses the change.
    """
    if num_replicas <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_replicas)
    except RuntimeError as error:
        if len(tf.config.list_logical_devices("CPU")) != num_replicas:
            raise RuntimeError(f"--cpu_replicas={num_replicas}: devices were already initialised ({error})") \
                from error


def make_strategy(name: str) -> tf.distribute.Strategy:
    """`auto`: all local GPUs, else all (logical) CPUs, mirrored; `one_device`: the first GPU or the CPU.

    `multi_worker` must be made before anything initialises TensorFlow's devices, listing them included.
    """
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy=multi_worker needs TF_CONFIG in the environment (docs/training.md).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy((gpus or cpus)[0])
    if name in ("auto", "mirrored"):
        devices = gpus or cpus
        if name == "auto" and len(devices) == 1:
            return tf.distribute.OneDeviceStrategy(devices[0])
        return tf.distribute.MirroredStrategy(devices)
    raise ValueError(f"--strategy={name!r} is not one of auto, mirrored, multi_worker, one_device.")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Only the chief writes checkpoints, summaries and exports."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_id(strategy: tf.distribute.Strategy) -> str:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "local"
    return f"{resolver.task_type}_{resolver.task_id}"


class WorkersDisagreeError(RuntimeError):
    """Workers resumed from different checkpoints: their model directories are not the same storage."""


class Workers:
    """Collectives every worker of a run joins, so that all act on what one of them saw."""

    def __init__(self, strategy: tf.distribute.Strategy, step: tf.Variable):
        self._strategy = strategy
        self._step = step

    @tf.function
    def _replicas_flagged(self, flag: tf.Tensor) -> tf.Tensor:
        """The replicas, of all workers, whose worker passed a true `flag`."""
        return self._strategy.reduce(tf.distribute.ReduceOp.SUM,
                                     self._strategy.run(lambda: tf.cast(flag, tf.float64)), axis=None)

    @tf.function
    def _step_moments(self) -> tf.Tensor:
        """Sums over all replicas of (1, step, step²), each replica reading its own copy of the step
        (strategies reduce by SUM or MEAN only)."""
        def moments():
            value = tf.cast(self._step.read_value(), tf.float64)
            return tf.stack([tf.constant(1.0, tf.float64), value, value * value])

        return self._strategy.reduce(tf.distribute.ReduceOp.SUM, self._strategy.run(moments), axis=None)

    def any(self, flag: bool) -> bool:
        """Whether `flag` is set on some worker."""
        return float(self._replicas_flagged(tf.constant(flag))) > 0

    def check_same_step(self, model_dir: str) -> None:
        """Every worker must resume from the same checkpoint, or their weights silently differ."""
        replicas, total, squares = self._step_moments().numpy()
        if replicas * squares != total * total:  # equal only if every replica holds the same step
            raise WorkersDisagreeError(
                f"Workers resumed at different steps (this one at {int(self._step.numpy())}, their mean "
                f"{total / replicas:g}): --model_dir={model_dir} must be storage every worker reads (a shared "
                f"file system), not a local folder on each host.")


class ResumableInput:
    """An iterator of distributed batches; checkpoint `.iterator` to save and restore its position.

    Iterators of `strategy.distribute_datasets_from_function` are not trackable (TF 2.21: tf.train.Checkpoint
    refuses them). On one host this reads the same per-replica batches, in the same order, from one local
    iterator, which is trackable, and hands replica i the i-th batch of each step as distributed values. The
    price: no prefetching onto accelerators.
    """

    def __init__(self, strategy: tf.distribute.Strategy,
                 dataset_fn: Callable[[tf.distribute.InputContext], tf.data.Dataset]):
        self._strategy = strategy
        context = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0,
                                             num_replicas_in_sync=strategy.num_replicas_in_sync)
        self.iterator = iter(dataset_fn(context))

    def __iter__(self) -> "ResumableInput":
        return self

    def __next__(self):
        batches = [next(self.iterator) for _ in range(self._strategy.num_replicas_in_sync)]
        return self._strategy.experimental_distribute_values_from_function(
            lambda context: batches[context.replica_id_in_sync_group])
