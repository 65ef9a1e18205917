"""Flags generated from the configuration dataclasses: one per field, same default and help, parsed back into
the same config; every flagfile in configs/ makes a valid config."""
import dataclasses
import glob
import os

import pytest
from absl import flags

from srgan_tf.config import GROUPS, BookkeepingConfig, DataConfig, TrainingConfig
from srgan_tf.config_flags import define_training_flags, training_config_from_flags

CONFIGS_DIR = os.path.join(os.path.dirname(__file__), "..", "configs")
REQUIRED = ["--train_records=shards-*", "--model_dir=run"]


@pytest.fixture
def flag_values():
    values = flags.FlagValues()
    define_training_flags(values)
    return values


def settings():
    """Every field of every group, and the training config's own fields that are not its groups."""
    return [field for config_class in (TrainingConfig, *GROUPS.values()) for field in dataclasses.fields(config_class)
            if not (config_class is TrainingConfig and field.name in GROUPS)]


def test_every_setting_is_one_flag_with_its_default_and_help(flag_values):
    names = [field.name for field in settings()]
    assert len(names) == len(set(names)), "two groups define a setting of the same name"
    assert set(flag_values) == set(names)
    for field in settings():
        assert flag_values[field.name].default == field.default, field.name
        assert flag_values[field.name].help.endswith(field.metadata["help"]), field.name  # enums prefix choices


def test_defaults_parse_into_the_default_config(flag_values):
    flag_values(["train", *REQUIRED])
    expected = TrainingConfig(data=DataConfig(train_records="shards-*"), bookkeeping=BookkeepingConfig(model_dir="run"))
    assert training_config_from_flags(flag_values) == expected


def test_flags_land_in_their_groups(flag_values):
    flag_values(["train", *REQUIRED, "--phase=gan", "--scale=2", "--hr_patch_size=32", "--learning_rate=3e-4",
                 "--nogenerator_batch_norm", "--seed=5", "--vgg_layer=vgg22", "--checkpoint_every=7"])
    config = training_config_from_flags(flag_values)
    assert config.phase == "gan"
    assert (config.generator.scale, config.generator.generator_batch_norm) == (2, False)
    assert (config.data.hr_patch_size, config.lr_patch_size) == (32, 16)
    assert config.optimization.learning_rate == 3e-4 and config.loss.vgg_layer == "vgg22"
    assert config.runtime.seed == 5 and config.bookkeeping.checkpoint_every == 7


@pytest.mark.parametrize("bad,named", [("--scale=3", "--scale"), ("--batch_size=0", "--batch_size"),
                                       ("--pixel_loss=l2", "pixel_loss"), ("--max_recoveries=-1", "max_recoveries")])
def test_declared_constraints_are_checked_when_flags_are_parsed(flag_values, bad, named):
    with pytest.raises(flags.IllegalFlagValueError, match=named):
        flag_values(["train", *REQUIRED, bad])


@pytest.mark.parametrize("flagfile", sorted(glob.glob(os.path.join(CONFIGS_DIR, "*.flags"))),
                         ids=os.path.basename)
def test_every_flagfile_makes_a_valid_config(flag_values, flagfile):
    flag_values(["train", f"--flagfile={flagfile}", *REQUIRED])
    config = training_config_from_flags(flag_values)
    assert config.data.hr_patch_size % config.generator.scale == 0


def test_number_lists_parse_from_commas_and_bad_ones_name_the_flag(flag_values):
    flag_values(["train", *REQUIRED, "--degradation=realesrgan", "--hr_patch_size=128", "--resize_range=0.2,1.4",
                 "--kernel_prob=1,0,0,0,0,0"])
    config = training_config_from_flags(flag_values)
    assert config.degradation.resize_range == (0.2, 1.4)
    assert config.degradation.kernel_prob == (1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(flags.IllegalFlagValueError, match="flag --noise_range=1,x: not comma-separated numbers"):
        flags_values_again = flags.FlagValues()
        define_training_flags(flags_values_again)
        flags_values_again(["train", *REQUIRED, "--noise_range=1,x"])
