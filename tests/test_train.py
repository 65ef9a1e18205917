"""`python -m srgan_tf.train`: bad flags stop it before any work, and flags become frozen configs."""
import os

import pytest
from absl import flags

from srgan_tf import train
from tests.training_processes import TRAIN_FLAGS


@pytest.fixture
def parse():
    """Parses argv into the training flags, and forgets them afterwards."""
    def parse_argv(*argv):
        return train.FLAGS(["train", *argv])
    yield parse_argv
    train.FLAGS.unparse_flags()


@pytest.mark.parametrize("bad,named", [
    ("--scale=3", "--scale"),
    ("--strategy=tpu", "strategy"),
    ("--precision=float8", "precision"),
    ("--batch_size=0", "--batch_size"),
])
def test_bad_flag_values_stop_with_the_flag_named(parse, bad, named):
    with pytest.raises(flags.IllegalFlagValueError, match=named):
        parse("--train_records=x", "--model_dir=y", bad)


@pytest.mark.parametrize("bad,named", [
    (["--ema_decay=1.5"], "--ema_decay=1.5 must be in"),
    (["--warmup_steps=10", "--train_steps=10"], "--warmup_steps=10 must be"),
    (["--hr_patch_size=30"], "--hr_patch_size=30 must be a multiple of --scale"),
])
def test_flag_combinations_that_cannot_work_stop_before_training(parse, tmp_path, bad, named):
    parse(f"--train_records={tmp_path}/none-*", f"--model_dir={tmp_path}/run", *TRAIN_FLAGS, *bad)
    with pytest.raises(SystemExit, match=named):
        train.main(["train"])
    assert not os.path.exists(tmp_path / "run")


def test_missing_records_stop_before_any_work(parse, tmp_path):
    parse(f"--train_records={tmp_path}/nothing-*", f"--model_dir={tmp_path}/run", *TRAIN_FLAGS)
    with pytest.raises(FileNotFoundError, match="--train_records=.*matches no files"):
        train.main(["train"])
    assert not os.path.exists(tmp_path / "run" / "model_config.json")


def test_flags_become_frozen_configs(parse, tmp_path):
    parse("--train_records=a", f"--model_dir={tmp_path}", "--phase=gan", "--lr_decay_step=7", *TRAIN_FLAGS)
    config = train.training_config_from_flags()
    assert (config.data.hr_patch_size, config.lr_patch_size, config.generator.num_filters) == (16, 4, 8)
    assert (config.phase, config.optimization.lr_decay_step, config.runtime.jit_compile) == ("gan", 7, "off")
    with pytest.raises(Exception):
        config.phase = "pretrain"
