"""The whole run, recorded in its model directory: every setting of its TrainingConfig as JSON
(`training_config.json`), the same as a flagfile that re-runs it (`srgan-train --flagfile=<model_dir>/train.flags`),
and, each time the directory is resumed with other settings, what changed (`config_changes.txt` and the log).
TensorBoard shows the settings as text under `config`. Checkpoints tell which weights; these tell which
learning rate, degradation and loss weights made them.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Dict, Tuple

import tensorflow as tf
from absl import logging

from srgan_tf.common.files import write_text_atomic
from srgan_tf.config import TrainingConfig
from srgan_tf.config_flags import flagfile_text

CONFIG_FILE = "training_config.json"
FLAGS_FILE = "train.flags"
CHANGES_FILE = "config_changes.txt"
SUMMARY_DIR = "config"  # under the model dir, beside the training summaries


def settings_by_name(groups: dict) -> Dict[str, object]:
    """A TrainingConfig's settings by flag name, from its JSON form (groups of settings nested by name)."""
    flat = {}
    for name, value in groups.items():
        flat.update(value if isinstance(value, dict) else {name: value})
    return flat


def _as_json(config: TrainingConfig) -> str:
    return json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True)


def changed_settings(model_dir: str, config: TrainingConfig) -> Dict[str, Tuple[object, object]]:
    """Each setting whose value differs from the one `model_dir` recorded last, as (recorded, now); nothing
    for a directory without a record."""
    path = os.path.join(model_dir, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        before = settings_by_name(json.load(f))
    now = settings_by_name(json.loads(_as_json(config)))
    return {name: (before.get(name), value) for name, value in now.items() if before.get(name) != value}


def record_run(config: TrainingConfig, step: int) -> None:
    """Writes the run's settings into its model dir (the chief's job), after noting what a resumed run
    changed, at `step`."""
    model_dir = config.bookkeeping.model_dir
    changes = changed_settings(model_dir, config)
    if changes:
        lines = [f"--{name}: {before!r} -> {now!r}" for name, (before, now) in sorted(changes.items())]
        logging.warning("Resumed at step %d with other settings than the last run in %s:\n  %s", step,
                        model_dir, "\n  ".join(lines))
        changes_path = os.path.join(model_dir, CHANGES_FILE)
        earlier = ""
        if tf.io.gfile.exists(changes_path):
            with tf.io.gfile.GFile(changes_path) as f:
                earlier = f.read()
        write_text_atomic(changes_path, earlier + f"step {step}:\n" + "".join(f"  {line}\n" for line in lines))
    write_text_atomic(os.path.join(model_dir, CONFIG_FILE), _as_json(config) + "\n")
    flagfile = flagfile_text(config)
    write_text_atomic(os.path.join(model_dir, FLAGS_FILE), flagfile)
    with tf.summary.create_file_writer(os.path.join(model_dir, SUMMARY_DIR)).as_default():
        tf.summary.text("config/flags", "    " + flagfile.replace("\n", "\n    "), step=step)  # Markdown code
        if changes:
            tf.summary.text("config/changed", "\n".join(f"* `{line}`" for line in lines), step=step)
