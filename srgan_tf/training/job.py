"""Runs one training phase from configs: the library side of `python -m srgan_tf.train`."""
from __future__ import annotations

import os
import shutil
from typing import Dict

import keras
import tensorflow as tf
from absl import logging

from srgan_tf.common import console
from srgan_tf.config import BookkeepingConfig, GeneratorConfig, TrainingConfig
from srgan_tf.data import pipeline
from srgan_tf.modeling import checkpointing
from srgan_tf.modeling.checkpointing import size_in_bytes
from srgan_tf.training import distribute, run_record
from srgan_tf.training.controller import TrainingController
from srgan_tf.training.distribute import ResumableInput
from srgan_tf.training.trainer import Trainer

MB = 1 << 20


def check_model_config(model_dir: str, generator_config: GeneratorConfig) -> None:
    """A model directory belongs to one generator: refuse to resume it with another. (Fields that do not
    shape the networks, a VGG weights path say, may change between runs.)"""
    path = os.path.join(model_dir, checkpointing.MODEL_CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return
    saved = checkpointing.read_model_config(model_dir)
    if saved != generator_config:
        raise ValueError(f"--model_dir={model_dir} was trained with {path}:\n{saved.to_json()}\n"
                         f"which differs from this run's flags; use a new --model_dir or the same flags.")


def _require_records(patterns: str, flag: str) -> None:
    """Stops before any work when a records flag is empty or matches nothing."""
    if not patterns:
        raise ValueError(f"--{flag} is required.")
    if not pipeline.list_record_files(patterns):
        raise FileNotFoundError(f"--{flag}={patterns!r} matches no files.")


def check_writable(path: str, flag: str) -> None:
    """Fails before any training if `path` can't be written, rather than at the first checkpoint."""
    try:
        tf.io.gfile.makedirs(path)
        probe = os.path.join(path, ".write_probe")
        with tf.io.gfile.GFile(probe, "w") as f:
            f.write("ok")
        tf.io.gfile.remove(probe)
    except (tf.errors.OpError, OSError) as error:
        raise OSError(f"--{flag}={path} is not writable: {console.describe_error(error)}") from error


def check_free_space(path: str, needed_bytes: int, flag: str, what: str) -> None:
    """Fails before any training if the disk under local `path` has less room than `what` needs.

    Object stores (gs://, s3://) report no free space and are not checked.
    """
    if "://" in path:
        return
    free = shutil.disk_usage(path).free
    if free < needed_bytes:
        raise OSError(f"--{flag}={path} has {free / MB:.1f} MB free, but {what} needs about "
                      f"{needed_bytes / MB:.1f} MB.")


def check_disk_space(trainer: Trainer, c: BookkeepingConfig) -> None:
    """Room for the checkpoints still to come (one more than kept is written before the oldest is deleted)
    and for the export."""
    state = tf.train.get_checkpoint_state(c.model_dir)
    present = len(state.all_model_checkpoint_paths) if state else 0
    to_write, checkpoint = max(c.keep_checkpoints + 1 - present, 1), trainer.checkpoint_bytes()
    check_free_space(c.model_dir, to_write * checkpoint, "model_dir",
                     f"writing {to_write} more checkpoint(s) of about {checkpoint / MB:.1f} MB "
                     f"(--keep_checkpoints={c.keep_checkpoints}, {present} present)")
    if c.export_dir:
        check_free_space(c.export_dir, size_in_bytes(trainer.generator.weights), "export_dir",
                         "the exported generator")


def prepare_training(config: TrainingConfig):
    """Checks the inputs and outputs, sets up devices, and builds the trainer (which picks the precision and
    XLA; resumed or warm-started) with its distributed training input. Returns `(trainer, train_input)`."""
    data, runtime, bookkeeping = config.data, config.runtime, config.bookkeeping
    _require_records(data.train_records, "train_records")
    if data.val_records:
        _require_records(data.val_records, "val_records")
    strategy = distribute.make_strategy(runtime.strategy)  # first: MultiWorkerMirroredStrategy needs it
    if runtime.seed is not None:
        keras.utils.set_random_seed(runtime.seed)
    if runtime.deterministic:
        tf.config.experimental.enable_op_determinism()
    is_chief = distribute.is_chief(strategy)
    if is_chief:
        check_writable(bookkeeping.model_dir, "model_dir")
        if bookkeeping.export_dir:
            check_writable(bookkeeping.export_dir, "export_dir")
        check_model_config(bookkeeping.model_dir, config.generator)
        checkpointing.write_model_config(bookkeeping.model_dir, config.generator)

    def dataset_fn(resume_step: int = 0):
        return pipeline.train_dataset_fn(data, config.generator.scale, config.pipeline_seed, resume_step,
                                         config.degradation)

    # A deterministic run checkpoints its input position, so its input must exist before the restore.
    resumable_input = ResumableInput(strategy, dataset_fn()) if runtime.deterministic else None
    trainer = Trainer(strategy, config, input_state=resumable_input.iterator if resumable_input else None)
    logging.info("%s phase: %d replica(s) with %s, %s%s", config.phase, strategy.num_replicas_in_sync,
                 type(strategy).__name__, trainer.acceleration.describe(),
                 ", deterministic" if runtime.deterministic else "")
    if is_chief:
        check_disk_space(trainer, bookkeeping)
    logging.info(trainer.restore_or_initialize())
    if is_chief:
        run_record.record_run(config, int(trainer.step.numpy()))
    if data.data_service:
        # --seed seeds the networks only: a global seed would fix the seeds of the random ops in the pipeline
        # every tf.data worker receives, and they would all cut the same crops.
        tf.random.set_seed(None)
    train_input = resumable_input or strategy.distribute_datasets_from_function(
        dataset_fn(resume_step=int(trainer.step.numpy())))
    return trainer, train_input


def run_training(config: TrainingConfig) -> Dict[str, float]:
    """Builds everything for one phase, resumes or warm-starts, trains, checkpoints and optionally exports."""
    trainer, train_input = prepare_training(config)
    eval_dataset = None
    if config.data.val_records:
        eval_dataset = pipeline.eval_dataset(config.data.val_records, config.generator.scale,
                                             max_images=config.bookkeeping.num_eval_images,
                                             skip_corrupt=config.data.skip_corrupt_records)
    metrics = TrainingController(trainer, train_input, eval_dataset).run()
    logging.info("finished at step %d; generator weights fingerprint %s", int(trainer.step.numpy()),
                 trainer.fingerprint())
    return metrics
