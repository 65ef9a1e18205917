"""Running a training phase from a config (job.py): a model directory belongs to one generator."""
import pytest

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling import checkpointing
from srgan_tf.training import job


def test_resuming_compares_the_generator_not_the_other_settings(tmp_path):
    generator = GeneratorConfig(num_residual_blocks=1, num_filters=8)
    checkpointing.write_model_config(str(tmp_path), generator)
    # Settings that do not shape the generator (the VGG weights file, the learning rate, ...) are not in it.
    job.check_model_config(str(tmp_path), GeneratorConfig(num_residual_blocks=1, num_filters=8))
    with pytest.raises(ValueError, match=f"--model_dir={tmp_path} was trained with .*model_config.json"):
        job.check_model_config(str(tmp_path), GeneratorConfig(num_residual_blocks=1, num_filters=16))
