"""The learning rate as a function of the step: linear warm-up, then constant, one step down, steps down by a
factor at milestones, or cosine.

A constant rate stays a plain float, which Keras keeps as a variable of the optimizer (as checkpoints
written before schedules existed hold it); the trainer sets that variable from the flags after a restore.
A schedule is computed from the flags. Either way a resumed run trains with the rate it is given.
"""
from __future__ import annotations

import math
from typing import Union

import keras
import tensorflow as tf

from srgan_tf.config import OptimizationConfig


@keras.saving.register_keras_serializable(package="srgan_tf")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`peak * (step + 1) / warmup_steps` during the warm-up, then the `kind` schedule:

    - "step": `peak` until `decay_step` (0: forever), `final` from there on;
    - "multistep": `peak` times `factor` to the power of the `milestones` reached (ESRGAN's halvings);
    - "cosine": from `peak` at the end of the warm-up down to `final` at `total_steps` (BasicSR, Real-ESRGAN).
    """

    def __init__(self, peak: float, kind: str = "step", warmup_steps: int = 0, decay_step: int = 0,
                 final: float = 0.0, total_steps: int = 1, milestones=(), factor: float = 0.5):
        self.peak, self.kind, self.warmup_steps = peak, kind, warmup_steps
        self.decay_step, self.final, self.total_steps = decay_step, final, total_steps
        self.milestones, self.factor = tuple(milestones), factor

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        if self.kind == "cosine":
            span = max(self.total_steps - self.warmup_steps, 1)
            progress = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
            rate = self.final + 0.5 * (self.peak - self.final) * (1.0 + tf.cos(math.pi * progress))
        elif self.kind == "multistep":
            reached = tf.reduce_sum(tf.cast(step >= tf.constant(self.milestones, tf.float32), tf.float32))
            rate = self.peak * tf.pow(tf.constant(self.factor, tf.float32), reached)
        elif self.decay_step > 0:
            rate = tf.where(step >= self.decay_step, self.final, self.peak)
        else:
            rate = tf.constant(self.peak, tf.float32)
        if self.warmup_steps > 0:
            rate = tf.where(step < self.warmup_steps, self.peak * (step + 1.0) / self.warmup_steps, rate)
        return rate

    def get_config(self):
        return dict(peak=self.peak, kind=self.kind, warmup_steps=self.warmup_steps, decay_step=self.decay_step,
                    final=self.final, total_steps=self.total_steps, milestones=list(self.milestones),
                    factor=self.factor)


def learning_rate_schedule(config: OptimizationConfig) -> WarmupDecay:
    return WarmupDecay(config.learning_rate, config.lr_schedule, config.warmup_steps, config.lr_decay_step,
                       config.lr_after_decay, config.train_steps, config.milestones, config.lr_decay_factor)


def is_constant(config: OptimizationConfig) -> bool:
    return config.lr_schedule == "step" and config.lr_decay_step == 0 and config.warmup_steps == 0


def learning_rate(config: OptimizationConfig) -> Union[float, WarmupDecay]:
    """What the optimizer is given: the float itself when the rate never changes, else the schedule."""
    return config.learning_rate if is_constant(config) else learning_rate_schedule(config)
