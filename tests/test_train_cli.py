"""`python -m srgan_tf.train`: flags, flagfiles and a whole run through absl."""
import os
import subprocess
import sys

import pytest
import tensorflow as tf
from absl import flags

from srgan_tf import train
from tests.summaries import summary_tags

TINY_FLAGS = [
    "--scale=4", "--hr_patch_size=16", "--batch_size=4", "--num_residual_blocks=1", "--num_filters=8",
    "--discriminator_filters=4", "--vgg_layer=vgg22", "--vgg_weights=none", "--jit_compile=false", "--seed=3",
]


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
    ("--hr_patch_size=30", "--hr_patch_size"),
    ("--batch_size=0", "--batch_size"),
])
def test_bad_flag_values_stop_with_the_flag_named(parse, bad, named):
    with pytest.raises(flags.IllegalFlagValueError, match=named):
        parse("--train_records=x", "--model_dir=y", bad)


@pytest.mark.parametrize("bad,named", [
    (["--ema_decay=1.5"], "--ema_decay=1.5 must be in"),
    (["--warmup_steps=10", "--train_steps=10"], "--warmup_steps=10 must be"),
])
def test_flag_combinations_that_cannot_work_stop_before_training(parse, tmp_path, bad, named):
    parse(f"--train_records={tmp_path}/none-*", f"--model_dir={tmp_path}/run", *TINY_FLAGS, *bad)
    with pytest.raises(SystemExit, match=named):
        train.main(["train"])
    assert not os.path.exists(tmp_path / "run")


def test_missing_records_stop_before_any_work(parse, tmp_path):
    parse(f"--train_records={tmp_path}/nothing-*", f"--model_dir={tmp_path}/run", *TINY_FLAGS)
    with pytest.raises(FileNotFoundError, match="--train_records=.*matches no files"):
        train.main(["train"])
    assert not os.path.exists(tmp_path / "run" / "model_config.json")


def test_flags_become_frozen_configs(parse, tmp_path):
    parse("--train_records=a", f"--model_dir={tmp_path}", "--phase=gan", "--lr_decay_step=7", *TINY_FLAGS)
    data_config, model_config, train_config = train.configs_from_flags()
    assert (data_config.hr_patch_size, data_config.lr_patch_size, model_config.num_filters) == (16, 4, 8)
    assert (train_config.phase, train_config.lr_decay_step, train_config.jit_compile) == ("gan", 7, False)
    with pytest.raises(Exception):
        train_config.phase = "pretrain"


def test_a_run_through_absl_with_a_flagfile(tmp_path, tiny_records):
    model_dir, export_dir = tmp_path / "run", tmp_path / "exports"
    flagfile = tmp_path / "tiny.flags"
    flagfile.write_text("\n".join(TINY_FLAGS + [
        f"--train_records={tiny_records['train']}", f"--val_records={tiny_records['val']}",
        f"--model_dir={model_dir}", f"--export_dir={export_dir}", "--phase=pretrain", "--train_steps=4",
        "--steps_per_loop=2", "--log_every=2", "--eval_every=4", "--checkpoint_every=4", "--cpu_replicas=2",
    ]) + "\n")
    result = subprocess.run([sys.executable, "-m", "srgan_tf.train", f"--flagfile={flagfile}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s)" in result.stderr
    assert "step 4/4" in result.stderr and "patches/s" in result.stderr and "ETA" in result.stderr
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-4")
    assert (model_dir / "model_config.json").exists()
    assert (export_dir / "4" / "saved_model.pb").exists()
    assert {"g_loss", "content_loss", "learning_rate/g", "perf/step_time_s",
            "perf/hr_patches_per_s"} <= summary_tags(model_dir / "train")
    assert {"eval/psnr_y", "eval/ssim_y", "eval/nearest|bicubic|sr|hr"} <= summary_tags(model_dir / "eval")
