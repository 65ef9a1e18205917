"""Where a training run keeps its state, and loading a trained generator back from it.

A model directory holds `model_config.json` (the generator's shape, a GeneratorConfig) beside the
checkpoints that `tf.train.CheckpointManager` writes. Every checkpoint stores the generator under the name
`generator` (and, in runs that average it, the average under `ema_generator`) and the global step under
`step`, so tools can restore just those from any phase's checkpoint.
"""
from __future__ import annotations

import hashlib
import math
import os
from typing import List

import tensorflow as tf

from srgan_tf.common.files import write_text_atomic
from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.generator import build_generator

MODEL_CONFIG_FILE = "model_config.json"
GENERATOR = "generator"
EMA_GENERATOR = "ema_generator"  # the moving average of the generator's weights, in runs that keep one


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not belong to this run's networks or phase."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, permissions); the previous one is intact."""


def weights_fingerprint(weights: List[tf.Variable]) -> str:
    """A short hash of the weights' values: equal on every worker of a run, and equal to the checkpoint's."""
    digest = hashlib.sha256()
    for weight in weights:
        digest.update(weight.numpy().tobytes())
    return digest.hexdigest()[:16]


def size_in_bytes(variables) -> int:
    return sum(math.prod(v.shape) * tf.as_dtype(v.dtype).size for v in variables)


def write_model_config(model_dir: str, config: GeneratorConfig) -> None:
    write_text_atomic(os.path.join(model_dir, MODEL_CONFIG_FILE), config.to_json())


def read_model_config(model_dir: str) -> GeneratorConfig:
    path = os.path.join(model_dir, MODEL_CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path} not found: {model_dir} is not a srgan_tf model directory.")
    with tf.io.gfile.GFile(path) as f:
        return GeneratorConfig.from_json(f.read())


def resolve_checkpoint(path: str) -> str:
    """A model directory (its latest checkpoint) or a checkpoint prefix, as a checkpoint prefix."""
    if tf.io.gfile.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(f"{path} holds no checkpoint.")
        return latest
    if tf.io.gfile.exists(path + ".index"):
        return path
    raise FileNotFoundError(f"{path} is neither a model directory nor a checkpoint prefix.")


def restore_generator(generator, prefix: str) -> str:
    """Loads the generator weights of checkpoint `prefix` into `generator`: the moving average of the
    weights where the run kept one (what it evaluated and exported), else the trained weights.

    Returns which of the two it loaded; raises ValueError naming the checkpoint if it holds neither, as a
    checkpoint written by other code or for other networks would.
    """
    for key in (EMA_GENERATOR, GENERATOR):
        try:
            status = tf.train.Checkpoint(**{key: generator}).restore(prefix).expect_partial()
        except ValueError as error:  # weights of another shape
            raise ValueError(f"{prefix}: its {key} does not fit the networks its {MODEL_CONFIG_FILE} "
                             f"describes ({error})") from error
        try:
            status.assert_existing_objects_matched()
        except AssertionError:
            continue  # not in this checkpoint (nothing was loaded): try the next name
        return key
    raise ValueError(f"{prefix} holds no generator weights that fit the networks its {MODEL_CONFIG_FILE} "
                     f"describes.")


def load_generator(path: str):
    """Rebuilds the generator saved under `path` (model dir or checkpoint prefix), with the moving average
    of its weights where the run kept one (see `restore_generator`).

    Returns `(generator, generator_config, step)`; optimizer and discriminator state is ignored.
    """
    prefix = resolve_checkpoint(path)
    config = read_model_config(os.path.dirname(prefix))
    generator = build_generator(config)
    restore_generator(generator, prefix)
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    tf.train.Checkpoint(step=step).restore(prefix).expect_partial()
    return generator, config, int(step.numpy())


def warm_start(generator, generator_config: GeneratorConfig, path: str) -> str:
    """Loads only the generator's weights from another run (a pretrain run, typically), after checking that
    every field that shapes the generator is the same. Returns what it loaded, for the log."""
    try:
        prefix = resolve_checkpoint(path)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"--init_checkpoint: {error}") from error
    differing = generator_config.differences(read_model_config(os.path.dirname(prefix)))
    if differing:
        field, (ours, theirs) = next(iter(differing.items()))
        raise CheckpointMismatchError(f"--init_checkpoint={path} has {field}={theirs}, this run {ours}.")
    try:
        key = restore_generator(generator, prefix)
    except ValueError as error:
        raise CheckpointMismatchError(f"--init_checkpoint={path}: {error}") from error
    return f"generator warm-started from {prefix} ({key})"
