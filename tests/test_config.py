"""The frozen configs: values that cannot work refused by flag name, old model configs loaded (config.py)."""
import json

import pytest

from srgan_tf.config import ModelConfig, TrainConfig
from tests.tiny_models import TINY_NETWORKS


def test_model_configs_written_before_the_generator_options_load_as_the_paper_network():
    old = {"scale": 4, "num_residual_blocks": 16, "num_filters": 64, "hr_patch_size": 96,
           "discriminator_filters": 64, "vgg_layer": "vgg54", "vgg_weights": "imagenet"}
    config = ModelConfig.from_json(json.dumps(old))
    assert (config.generator_batch_norm, config.residual_scaling, config.bicubic_residual) == (True, 1.0, False)


@pytest.mark.parametrize("overrides,named", [
    ({"ema_decay": 1.0}, "--ema_decay"),
    ({"ema_decay": -0.1}, "--ema_decay"),
    ({"warmup_steps": 100, "train_steps": 100}, "--warmup_steps"),
    ({"pixel_loss": "l2"}, "--pixel_loss"),
    ({"lr_schedule": "linear"}, "--lr_schedule"),
    ({"lr_schedule": "cosine", "lr_decay_step": 10}, "--lr_decay_step=10 belongs to --lr_schedule=step"),
    ({"warmup_steps": 10, "lr_decay_step": 10}, "--lr_decay_step=10 must come after the --warmup_steps"),
])
def test_settings_that_cannot_work_are_refused_by_flag_name(overrides, named):
    with pytest.raises(ValueError, match=named):
        TrainConfig(model_dir="m", **overrides)


@pytest.mark.parametrize("bad,match", [(dict(scale=3), "--scale=3"),
                                      (dict(vgg_layer="vgg33"), "--vgg_layer='vgg33'")])
def test_bad_model_config_names_the_flag(bad, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**{**TINY_NETWORKS, **bad})
