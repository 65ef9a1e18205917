"""The model dir records the whole run: every setting as JSON and as a flagfile that builds the same config
again, what a resumed run changed, and the settings as TensorBoard text."""
import json
import math
import os

import tensorflow as tf
from absl import flags

from srgan_tf.config import training_config
from srgan_tf.config_flags import define_training_flags, training_config_from_flags
from srgan_tf.training import run_record
from tests.summaries import summary_tags


def a_config(model_dir, **settings):
    return training_config(**{"model_dir": str(model_dir), "train_records": "shards-*", "phase": "gan",
                              "degradation": "realesrgan", "hr_patch_size": 128, "resize_range": (0.2, 1.4),
                              "vgg_feature_scale": 1 / 12.75, "max_loss": math.inf, "seed": None,
                              "generator_batch_norm": False, **settings})


def test_the_recorded_flagfile_builds_the_same_config(tmp_path):
    config = a_config(tmp_path, learning_rate=3e-4, lr_milestones="", data_service="")
    run_record.record_run(config, step=0)
    flag_values = flags.FlagValues()
    define_training_flags(flag_values)
    flag_values(["train", f"--flagfile={tmp_path / run_record.FLAGS_FILE}"])
    assert training_config_from_flags(flag_values) == config
    recorded = json.loads((tmp_path / run_record.CONFIG_FILE).read_text())
    assert recorded["optimization"]["learning_rate"] == 3e-4 and recorded["phase"] == "gan"
    assert recorded["degradation"]["resize_range"] == [0.2, 1.4]
    assert not (tmp_path / run_record.CHANGES_FILE).exists()  # a new run changed nothing


def test_a_resumed_run_records_what_it_changed(tmp_path):
    run_record.record_run(a_config(tmp_path), step=0)
    resumed = a_config(tmp_path, learning_rate=5e-5, adversarial_weight=5e-3)
    assert run_record.changed_settings(str(tmp_path), resumed) == {
        "learning_rate": (1e-4, 5e-5), "adversarial_weight": (1e-3, 5e-3)}
    run_record.record_run(resumed, step=1200)
    run_record.record_run(resumed, step=1300)  # the same settings again: nothing more to note
    assert (tmp_path / run_record.CHANGES_FILE).read_text() == (
        "step 1200:\n  --adversarial_weight: 0.001 -> 0.005\n  --learning_rate: 0.0001 -> 5e-05\n")
    assert json.loads((tmp_path / run_record.CONFIG_FILE).read_text())["optimization"]["learning_rate"] == 5e-5
    tags = summary_tags(tmp_path / run_record.SUMMARY_DIR)
    assert tags == {"config/flags", "config/changed"}


def test_tensorboard_shows_every_flag(tmp_path):
    run_record.record_run(a_config(tmp_path), step=7)
    (name,) = os.listdir(tmp_path / run_record.SUMMARY_DIR)
    texts = [tf.make_ndarray(value.tensor).item().decode()
             for event in tf.compat.v1.train.summary_iterator(str(tmp_path / run_record.SUMMARY_DIR / name))
             for value in event.summary.value if value.tag == "config/flags"]
    assert len(texts) == 1
    assert "--degradation=realesrgan" in texts[0] and "--nogenerator_batch_norm" in texts[0]
