"""Tiny trainers and the batches they step on, for the training tests and the fault tests."""
import math

import keras
import numpy as np
import tensorflow as tf

from srgan_tf.common import imaging
from srgan_tf.config import training_config
from srgan_tf.modeling import checkpointing
from srgan_tf.training.trainer import Trainer
from tests.tiny_models import FAST, MODEL, generator_of

DATA = dict(hr_patch_size=16, batch_size=4, scale=4)


def make_trainer(strategy, model_dir, phase="pretrain", precision="float32", model=MODEL, data=DATA,
                 **overrides):
    """A trainer of tiny networks, seeded, without XLA unless `overrides` say otherwise, and with its
    precision policy set; not yet restored or initialised.

    Seeded as the job seeds a run with --seed before it builds the networks, so their first weights do not
    depend on what ran before in this process.
    """
    config = training_config(**{"model_dir": str(model_dir), "phase": phase, "precision": precision,
                                "jit_compile": "off", "seed": 1, **data, **model, **overrides})
    keras.utils.set_random_seed(config.runtime.seed)
    return Trainer(strategy, config)


def fast_trainer(strategy, model_dir, model=FAST, **overrides):
    """A trainer of the fast-learning generator, restored from `model_dir` or initialised."""
    trainer = make_trainer(strategy, model_dir, model=model, **overrides)
    trainer.restore_or_initialize()
    return trainer


def short_run_trainer(model_dir, precision="float32", **overrides):
    """A tiny pretrain trainer on the default strategy (in-process tests make no strategy of their own):
    12 steps in loops of 2, logging and checkpointing every 2 steps, unless `overrides` say otherwise."""
    return make_trainer(tf.distribute.get_strategy(), model_dir, precision=precision,
                        **{"train_steps": 12, "steps_per_loop": 2, "log_every": 2, "checkpoint_every": 2,
                           "keep_checkpoints": 20, **overrides})


def run_steps(trainer, iterator, steps):
    """Runs one training loop of `steps` steps; returns its metrics as floats."""
    return {k: float(v) for k, v in trainer.train_loop(iterator, tf.constant(steps, tf.int64)).items()}


def batch(seed=0, size=16, count=4):
    """`count` random HR patches and their 8-bit bicubic LR."""
    hr = tf.random.stateless_uniform([count, size, size, 3], seed=[seed, 1])
    return imaging.quantize(imaging.bicubic_downscale(hr, 4)), hr


def repeated(strategy, lr, hr):
    """The batch (lr, hr) endlessly, distributed by `strategy`."""
    return iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors((lr, hr)).repeat()))


def batches(nan_at=(), on_batch=None):
    """One fixed batch, endlessly, with NaN LR pixels in the batches numbered `nan_at` (from 0).

    `on_batch(i)`, if given, runs in the input pipeline as batch i is made.
    """
    size = DATA["hr_patch_size"]
    hr = tf.random.stateless_uniform([DATA["batch_size"], size, size, 3], seed=[0, 1])
    lr = tf.image.resize(hr, [size // 4, size // 4], "bicubic", antialias=True)
    poisoned = tf.constant(sorted(nan_at) or [-1], tf.int64)

    def nth_batch(i):
        if on_batch is not None:
            tf.py_function(on_batch, [i], [])
        nan = tf.where(tf.reduce_any(tf.equal(i, poisoned)), math.nan, 0.0)
        return lr + nan, hr

    return tf.distribute.get_strategy().distribute_datasets_from_function(
        lambda context: tf.data.Dataset.range(1 << 40).map(nth_batch))


def assert_every_checkpoint_restores_finite(model_dir):
    """Every checkpoint the `checkpoint` file lists loads as a generator with finite weights."""
    checkpointing.write_model_config(str(model_dir), generator_of(MODEL))
    state = tf.train.get_checkpoint_state(str(model_dir))
    for path in state.all_model_checkpoint_paths:
        generator, _, _ = checkpointing.load_generator(path)
        assert all(np.isfinite(w.numpy()).all() for w in generator.weights), path
