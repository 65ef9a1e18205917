"""The controller's duties, one action each: summaries, divergence roll-back, evaluation, checkpoints, the
save on SIGTERM/SIGINT and the export.

As in orbit's `Controller` and Model Garden's `RecoveryCondition`, each action says how often it runs and
does one thing; the controller runs the due ones, in order, between loops of training steps. An action
that restores an earlier state (the roll-back) tells the controller, which then skips the rest.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from srgan_tf.common import console, imaging
from srgan_tf.evaluation import scoring, upscalers
from srgan_tf.training import preemption
from srgan_tf.training.divergence import DivergenceGuard
from srgan_tf.training.trainer import Trainer

PICTURE_TAG = "eval/nearest|bicubic|sr|hr"


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where training stands after a loop of steps."""

    step: int
    final: bool  # the last step of the phase
    metrics: Dict[str, float]  # means since the previous log step; empty between log steps
    step_time: float  # seconds per training step since the previous log step (0 between them)


class Action:
    """One duty of the controller, run every `interval` steps (None: after every loop) and at the end.

    An action is a context manager for the length of the run, for what it holds (a signal handler, a
    summary writer).
    """

    interval: Optional[int] = None
    # Whether a run resumed at its last step still owes this duty (the export it may not have written);
    # the others were done when that step was first reached.
    owed_after_last_step = False

    def due(self, progress: Progress) -> bool:
        return self.interval is None or progress.final or progress.step % self.interval == 0

    def run(self, progress: Progress) -> bool:
        """Does the duty; returns True if it restored an earlier training state."""
        raise NotImplementedError

    def __enter__(self) -> "Action":
        return self

    def __exit__(self, *exc_info) -> None:
        return None


def _summary_writer(trainer: Trainer, name: str):
    if not trainer.is_chief:
        return tf.summary.create_noop_writer()
    return tf.summary.create_file_writer(os.path.join(trainer.model_dir, name))


def _format_duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class WriteSummaries(Action):
    """The console's progress line and TensorBoard's training scalars, at each log step."""

    def __init__(self, trainer: Trainer, recoveries: DivergenceGuard):
        self.trainer = trainer
        self._guard = recoveries
        self._writer = _summary_writer(trainer, "train")
        self._start_time = self._start_step = None

    def __enter__(self) -> "WriteSummaries":
        self._start_time, self._start_step = time.perf_counter(), int(self.trainer.step.numpy())
        return self

    def due(self, progress: Progress) -> bool:
        return bool(progress.metrics)

    def run(self, progress: Progress) -> bool:
        trainer = self.trainer
        phase, train_steps = trainer.config.phase, trainer.config.optimization.train_steps
        patches_per_s = trainer.global_batch_size / progress.step_time
        with self._writer.as_default(step=progress.step):
            for name, value in {**progress.metrics, **trainer.scalars()}.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("reliability/recoveries", self._guard.recoveries)
            tf.summary.scalar("perf/step_time_s", progress.step_time)
            tf.summary.scalar("perf/hr_patches_per_s", patches_per_s)
        self._writer.flush()
        elapsed = time.perf_counter() - self._start_time
        remaining = elapsed / max(progress.step - self._start_step, 1) * (train_steps - progress.step)
        shown = "  ".join(f"{k}={v:.4g}" for k, v in progress.metrics.items())
        logging.info("[%s] step %d/%d  %s  %.1f patches/s  ETA %s", phase, progress.step, train_steps, shown,
                     patches_per_s, _format_duration(remaining))
        return False


class RollBackOnDivergence(Action):
    """Restores the last good checkpoint when the guard says training has diverged (see divergence.py)."""

    def __init__(self, trainer: Trainer, guard: DivergenceGuard):
        self.trainer = trainer
        self.guard = guard

    def due(self, progress: Progress) -> bool:
        return bool(progress.metrics)

    def run(self, progress: Progress) -> bool:
        reason = self.guard.reason_to_recover(progress.metrics, bool(self.trainer.weights_finite()),
                                              final=progress.final)
        if reason is None:
            return False
        path = self.trainer.roll_back()
        logging.warning("step %d: %s; rolled back to %s (recovery %d of at most %d).", progress.step, reason, path,
                        self.guard.recoveries, self.guard.max_recoveries)
        return True


class Evaluate(Action):
    """PSNR/SSIM on Y of the generator that evaluation uses, measured as `srgan_tf.evaluate` measures an
    export (the same serving graph, 8-bit images, `scoring.compare`), and its comparison pictures."""

    def __init__(self, trainer: Trainer, dataset: tf.data.Dataset):
        self.trainer = trainer
        self.interval = trainer.config.bookkeeping.eval_every
        self.dataset = dataset
        generator = trainer.config.generator
        self._upscaler = upscalers.from_generator(trainer.eval_generator, generator, "SR")
        self._config = scoring.EvalConfig(scale=generator.scale)
        self._writer = _summary_writer(trainer, "eval")

    def measure(self):
        """`({"eval/psnr_y": ..., "eval/ssim_y": ...}, pictures)`, or `({}, [])` for an empty dataset."""
        scores, pictures = [], []
        for example in self.dataset:
            lr, hr = (imaging.to_uint8(example[key])[0].numpy() for key in ("lr", "hr"))
            comparison = scoring.compare([self._upscaler], lr, hr, self._config)
            scores.append(comparison.upscaled[0][:2])
            pictures.append(comparison.picture)
        if not scores:
            return {}, []
        psnr, ssim = np.mean(scores, axis=0)
        return {"eval/psnr_y": float(psnr), "eval/ssim_y": float(ssim)}, pictures

    def run(self, progress: Progress) -> bool:
        results, pictures = self.measure()
        if not results:
            return False
        with self._writer.as_default(step=progress.step):
            for name, value in results.items():
                tf.summary.scalar(name, value)
            tf.summary.image(PICTURE_TAG, _same_size(pictures), max_outputs=len(pictures))
        self._writer.flush()
        logging.info("[%s] step %d  eval  %s", self.trainer.config.phase, progress.step,
                     "  ".join(f"{k}={v:.4f}" for k, v in results.items()))
        return False


def _same_size(pictures: List[np.ndarray]) -> np.ndarray:
    """The pictures padded with white to the largest height and width, as one batch."""
    height, width = max(p.shape[0] for p in pictures), max(p.shape[1] for p in pictures)
    batch = np.full((len(pictures), height, width, 3), 255, np.uint8)
    for picture, canvas in zip(pictures, batch):
        canvas[:picture.shape[0], :picture.shape[1]] = picture
    return batch


class SaveCheckpoint(Action):
    """A checkpoint every `--checkpoint_every` steps and at the end."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.interval = trainer.config.bookkeeping.checkpoint_every

    def run(self, progress: Progress) -> bool:
        if self.trainer.last_saved_step != progress.step:
            path = self.trainer.save_checkpoint()
            if path:
                logging.info("step %d: saved %s", progress.step, path)
        return False


class StopOnSignal(Action):
    """After SIGTERM or SIGINT on any worker: every worker saves a checkpoint at the same step and stops
    with preemption.TrainingInterrupted (see preemption.py)."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self._requests = preemption.StopRequests()

    def __enter__(self) -> "StopOnSignal":
        self._requests.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self._requests.__exit__(*exc_info)

    def run(self, progress: Progress) -> bool:
        # A collective every worker joins after every loop, so all stop at the same step.
        if not self.trainer.workers.any(self._requests.signum is not None):
            return False
        checkpoint = None
        if self.trainer.last_saved_step != progress.step:
            checkpoint = self.trainer.save_checkpoint()
        elif self.trainer.is_chief:
            checkpoint = self.trainer.manager.latest_checkpoint
        raise preemption.TrainingInterrupted(self._requests.signum, progress.step, checkpoint)


class Export(Action):
    """The chief exports the generator evaluation uses as a SavedModel version named by the step, at the
    end of the phase."""

    owed_after_last_step = True

    def __init__(self, trainer: Trainer, export_dir: str):
        self.trainer = trainer
        self.export_dir = export_dir

    def due(self, progress: Progress) -> bool:
        return progress.final and self.trainer.is_chief

    def run(self, progress: Progress) -> bool:
        from srgan_tf.serving.saved_model import export_saved_model  # the serving graph only when exporting

        try:
            path = export_saved_model(self.trainer.eval_generator, self.trainer.config.generator, self.export_dir,
                                      version=progress.step, overwrite=True)
        except (tf.errors.OpError, OSError) as error:
            raise OSError(f"--export_dir={self.export_dir}: the export failed ({console.describe_error(error)}). "
                          f"Training is complete and checkpointed at step {progress.step}: fix this and run the "
                          f"same command again to export.") from error
        logging.info("exported %s", path)
        return False


def default_actions(trainer: Trainer, eval_dataset: Optional[tf.data.Dataset] = None) -> List[Action]:
    """The duties of a training run, in the order they run at a step where several are due."""
    c = trainer.config.bookkeeping
    guard = DivergenceGuard(c.nan_patience, c.max_recoveries, c.max_loss)
    actions: List[Action] = [WriteSummaries(trainer, guard), RollBackOnDivergence(trainer, guard)]
    if eval_dataset is not None:
        actions.append(Evaluate(trainer, eval_dataset))
    actions += [SaveCheckpoint(trainer), StopOnSignal(trainer)]
    if c.export_dir:
        actions.append(Export(trainer, c.export_dir))
    return actions
