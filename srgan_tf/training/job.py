"""Runs one training phase from configs: the library side of `python -m srgan_tf.train`."""
from __future__ import annotations

import os
import shutil
from typing import Dict

import keras
import tensorflow as tf
from absl import logging

from srgan_tf.common import console
from srgan_tf.config import DataConfig, ModelConfig, TrainConfig
from srgan_tf.data import pipeline
from srgan_tf.training import checkpointing, distribute
from srgan_tf.training.checkpointing import size_in_bytes
from srgan_tf.training.controller import TrainingController
from srgan_tf.training.distribute import ResumableInput
from srgan_tf.training.trainer import Trainer

MB = 1 << 20


def check_model_config(model_dir: str, model_config: ModelConfig) -> None:
    """A model directory belongs to one set of networks: refuse to resume it with different ones."""
    path = os.path.join(model_dir, checkpointing.MODEL_CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return
    saved = checkpointing.read_model_config(model_dir)
    if saved != model_config:
        raise ValueError(f"--model_dir={model_dir} was trained with {path}:\n{saved.to_json()}\n"
                         f"which differs from this run's flags; use a new --model_dir or the same flags.")


def _require_records(patterns: str, flag: str) -> None:
    """Stops before any work when a records flag matches nothing."""
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


def check_disk_space(trainer: Trainer, train_config: TrainConfig) -> None:
    """Room for the checkpoints still to come (one more than kept is written before the oldest is deleted)
    and for the export."""
    c = train_config
    state = tf.train.get_checkpoint_state(c.model_dir)
    present = len(state.all_model_checkpoint_paths) if state else 0
    to_write, checkpoint = max(c.keep_checkpoints + 1 - present, 1), trainer.checkpoint_bytes()
    check_free_space(c.model_dir, to_write * checkpoint, "model_dir",
                     f"writing {to_write} more checkpoint(s) of about {checkpoint / MB:.1f} MB "
                     f"(--keep_checkpoints={c.keep_checkpoints}, {present} present)")
    if train_config.export_dir:
        check_free_space(train_config.export_dir, size_in_bytes(trainer.generator.weights), "export_dir",
                         "the exported generator")


def prepare_training(data_config: DataConfig, model_config: ModelConfig, train_config: TrainConfig):
    """Checks the inputs and outputs, sets up devices and precision, and builds the trainer (resumed or
    warm-started) with its distributed training input. Returns `(trainer, train_input)`."""
    if data_config.data_service and (data_config.seed is not None or train_config.deterministic):
        raise ValueError(f"--data_service={data_config.data_service} needs an unseeded input pipeline (a "
                         f"seeded one makes the same batches on every tf.data worker), so not "
                         f"--deterministic.")
    _require_records(data_config.train_records, "train_records")
    if data_config.val_records:
        _require_records(data_config.val_records, "val_records")
    strategy = distribute.make_strategy(train_config.strategy)  # first: MultiWorkerMirroredStrategy needs it
    if train_config.seed is not None:
        keras.utils.set_random_seed(train_config.seed)
    if train_config.deterministic:
        tf.config.experimental.enable_op_determinism()
    precision = distribute.set_precision(train_config.precision)
    is_chief = distribute.is_chief(strategy)
    if is_chief:
        check_writable(train_config.model_dir, "model_dir")
        if train_config.export_dir:
            check_writable(train_config.export_dir, "export_dir")
        check_model_config(train_config.model_dir, model_config)
        checkpointing.write_model_config(train_config.model_dir, model_config)
    logging.info("%s phase: %d replica(s) with %s, precision %s, XLA %s%s", train_config.phase,
                 strategy.num_replicas_in_sync, type(strategy).__name__, precision,
                 "on" if train_config.jit_compile else "off",
                 ", deterministic" if train_config.deterministic else "")

    # A deterministic run checkpoints its input position, so its input must exist before the restore.
    resumable_input = (ResumableInput(strategy, pipeline.train_dataset_fn(data_config))
                       if train_config.deterministic else None)
    trainer = Trainer(strategy, data_config, model_config, train_config, precision=precision,
                      input_state=resumable_input.iterator if resumable_input else None)
    if is_chief:
        check_disk_space(trainer, train_config)
    logging.info(trainer.restore_or_initialize())
    if data_config.data_service:
        # --seed seeds the networks only: a global seed would fix the seeds of the random ops in the pipeline
        # every tf.data worker receives, and they would all cut the same crops.
        tf.random.set_seed(None)
    train_input = resumable_input or strategy.distribute_datasets_from_function(
        pipeline.train_dataset_fn(data_config, resume_step=int(trainer.step.numpy())))
    return trainer, train_input


def run_training(data_config: DataConfig, model_config: ModelConfig, train_config: TrainConfig) -> Dict[str, float]:
    """Builds everything for one phase, resumes or warm-starts, trains, checkpoints and optionally exports."""
    trainer, train_input = prepare_training(data_config, model_config, train_config)
    eval_dataset = None
    if data_config.val_records:
        eval_dataset = pipeline.eval_dataset(data_config.val_records, data_config.scale,
                                         max_images=train_config.num_eval_images,
                                         skip_corrupt=data_config.skip_corrupt_records)
    metrics = TrainingController(trainer, train_input, eval_dataset).run()
    logging.info("finished at step %d; generator weights fingerprint %s", int(trainer.step.numpy()),
                 trainer.fingerprint())
    return metrics
