"""Runs one training phase from configs: the library side of `python -m srgan_tf.train`."""
from __future__ import annotations

import os
from typing import Dict

import keras
import tensorflow as tf
from absl import logging

from srgan_tf import checkpoints, data, distribute
from srgan_tf.config import DataConfig, ModelConfig, TrainConfig
from srgan_tf.trainer import Trainer, TrainingController


def check_model_config(model_dir: str, model_config: ModelConfig) -> None:
    """A model directory belongs to one set of networks: refuse to resume it with different ones."""
    path = os.path.join(model_dir, checkpoints.MODEL_CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return
    saved = checkpoints.read_model_config(model_dir)
    if saved != model_config:
        raise ValueError(f"--model_dir={model_dir} was trained with {path}:\n{saved.to_json()}\n"
                         f"which differs from this run's flags; use a new --model_dir or the same flags.")


def _require_records(patterns: str, flag: str) -> None:
    """Stops before any work when a records flag matches nothing."""
    if not data.list_record_files(patterns):
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
        raise PermissionError(f"--{flag}={path} is not writable: {error}") from error


def run_training(data_config: DataConfig, model_config: ModelConfig, train_config: TrainConfig) -> Dict[str, float]:
    """Builds everything for one phase, resumes or warm-starts, trains, checkpoints and optionally exports."""
    _require_records(data_config.train_records, "train_records")
    if data_config.val_records:
        _require_records(data_config.val_records, "val_records")
    if train_config.seed is not None:
        keras.utils.set_random_seed(train_config.seed)
    precision = distribute.set_precision(train_config.precision)
    strategy = distribute.make_strategy(train_config.strategy)
    is_chief = distribute.is_chief(strategy)
    if is_chief:
        check_writable(train_config.model_dir, "model_dir")
        if train_config.export_dir:
            check_writable(train_config.export_dir, "export_dir")
        check_model_config(train_config.model_dir, model_config)
        checkpoints.write_model_config(train_config.model_dir, model_config)
    logging.info("%s phase: %d replica(s) with %s, precision %s, XLA %s", train_config.phase,
                 strategy.num_replicas_in_sync, type(strategy).__name__, precision,
                 "on" if train_config.jit_compile else "off")

    trainer = Trainer(strategy, data_config, model_config, train_config, precision=precision)
    logging.info(trainer.restore_or_initialize())
    train_dataset = strategy.distribute_datasets_from_function(data.train_dataset_fn(data_config))
    eval_dataset = None
    if data_config.val_records:
        eval_dataset = data.eval_dataset(data_config.val_records, data_config.scale,
                                         max_images=train_config.num_eval_images)
    metrics = TrainingController(trainer, train_dataset, eval_dataset).run()

    if train_config.export_dir and is_chief:
        from srgan_tf import export
        path = export.export_saved_model(trainer.generator, model_config, train_config.export_dir,
                                         version=int(trainer.step.numpy()), overwrite=True)
        logging.info("exported %s", path)
    return metrics
