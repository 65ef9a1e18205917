"""Choosing the distribution strategy and the numeric precision policy."""
from __future__ import annotations

import json
import os

import keras
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
            raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable (see README).")
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


def resolve_precision(name: str) -> str:
    """`auto` means mixed_float16 on GPUs (tensor cores) and float32 on CPUs."""
    if name == "auto":
        return "mixed_float16" if tf.config.list_logical_devices("GPU") else "float32"
    return name


def set_precision(name: str) -> str:
    policy = resolve_precision(name)
    keras.mixed_precision.set_global_policy(policy)
    return policy


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
