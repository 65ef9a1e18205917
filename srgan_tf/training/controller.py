"""The outer training loop, as in tensorflow/models' orbit: train in loops of steps, and between loops run
the actions that are due (see actions.py; docs/reliability.md for signals and divergence)."""
from __future__ import annotations

import contextlib
import time
from typing import Dict, Optional, Sequence

import tensorflow as tf

from srgan_tf.common import console
from srgan_tf.data.pipeline import CorruptRecordsError
from srgan_tf.training.actions import Action, Progress, default_actions
from srgan_tf.training.trainer import Trainer


class _Interval:
    """The loops run since the last log step: their metrics averaged over steps, and the time spent training
    (actions left out, so step time and patches/s measure the training step)."""

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
    """Runs the trainer to `train_steps` in loops of at most `steps_per_loop` steps, stopping wherever an
    action is due; metrics are averaged over each `log_every` steps for the actions that read them."""

    def __init__(self, trainer: Trainer, train_input, eval_dataset: Optional[tf.data.Dataset] = None,
                 actions: Optional[Sequence[Action]] = None):
        """`actions`: the duties to run between loops; by default those of `actions.default_actions`."""
        self.trainer = trainer
        self.train_steps = trainer.config.optimization.train_steps
        self.steps_per_loop = trainer.config.runtime.steps_per_loop
        self.log_every = trainer.config.bookkeeping.log_every
        self.iterator = iter(train_input)
        self.actions = list(actions) if actions is not None else default_actions(trainer, eval_dataset)

    def _next_stop(self, step: int) -> int:
        """The nearest step at which something besides training has to happen."""
        candidates = [self.train_steps, step + self.steps_per_loop, (step // self.log_every + 1) * self.log_every]
        candidates += [(step // a.interval + 1) * a.interval for a in self.actions if a.interval]
        return min(candidates)

    def run(self) -> Dict[str, float]:
        """Trains to `train_steps` and returns the last logged metrics."""
        trainer = self.trainer
        if not trainer.resumed:
            trainer.save_checkpoint()  # something to roll back to before the first scheduled checkpoint
        with contextlib.ExitStack() as stack:
            for action in self.actions:
                stack.enter_context(action)
            step = int(trainer.step.numpy())
            if step >= self.train_steps:  # resumed after the last step: only what the end still owes
                self._run_actions(Progress(step, final=True, metrics={}, step_time=0.0),
                                  [action for action in self.actions if action.owed_after_last_step])
            last_metrics, interval = {}, _Interval()
            while step < self.train_steps:
                steps = self._next_stop(step) - step
                started = time.perf_counter()
                metrics = self._train(steps)
                interval.add(metrics, steps, time.perf_counter() - started)
                step = int(trainer.step.numpy())
                final = step == self.train_steps
                progress = Progress(step, final, metrics={}, step_time=0.0)
                if step % self.log_every == 0 or final:
                    last_metrics = interval.means()
                    progress = Progress(step, final, last_metrics, interval.step_time())
                    interval = _Interval()
                self._run_actions(progress)
                step = int(trainer.step.numpy())
        return last_metrics

    def _run_actions(self, progress: Progress, actions: Optional[Sequence[Action]] = None) -> None:
        for action in self.actions if actions is None else actions:
            if action.due(progress) and action.run(progress):
                return  # an earlier state was restored: what follows belongs to the step left behind

    def _train(self, steps: int) -> Dict[str, float]:
        try:
            metrics = self.trainer.train_loop(self.iterator, tf.constant(steps, tf.int64))
        except tf.errors.DataLossError as error:
            raise CorruptRecordsError(
                f"A training shard became unreadable during training ({console.describe_error(error)}). Rerun: "
                f"the start-up check names corrupt shards; or pass --skip_corrupt_records.") from error
        return {name: float(value) for name, value in metrics.items()}
