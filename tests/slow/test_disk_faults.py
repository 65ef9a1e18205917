"""Unwritable and full disks (tmpfs, needs root): refused before training, and a disk filling up mid-run."""
import contextlib
import os
import shutil
import subprocess

import pytest
import tensorflow as tf

from srgan_tf.config import BookkeepingConfig, training_config
from srgan_tf.modeling.checkpointing import CheckpointWriteError
from srgan_tf.training import job
from srgan_tf.training.controller import TrainingController
from tests.tiny_models import MODEL
from tests.training.tiny_trainers import assert_every_checkpoint_restores_finite, batches, short_run_trainer


@contextlib.contextmanager
def tmpfs(path, size):
    """A small RAM disk at `path` (needs root and mount); skips the test where it can't be made."""
    path.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_an_unwritable_model_dir_fails_before_training(tmp_path):
    (tmp_path / "a_file").write_text("")
    model_dir = str(tmp_path / "a_file" / "model")
    with pytest.raises(OSError, match=f"--model_dir={model_dir} is not writable"):
        job.check_writable(model_dir, "model_dir")
    config = training_config(model_dir=model_dir, strategy="one_device", jit_compile="off",
                             train_records=str(tmp_path / "a_file"), **MODEL)
    with pytest.raises(OSError, match=f"--model_dir={model_dir} is not writable"):
        job.run_training(config)


def test_a_full_disk_fails_before_training(tmp_path):
    with tmpfs(tmp_path / "disk", "64k") as disk:
        with open(disk / "filler", "wb") as filler, pytest.raises(OSError, match="No space left"):
            filler.write(bytes(128 << 10))
        with pytest.raises(OSError, match=f"--export_dir={disk / 'export'} is not writable.*No space left"):
            job.check_writable(str(disk / "export"), "export_dir")


def test_too_little_room_for_the_checkpoints_kept_fails_before_training(tmp_path):
    size = short_run_trainer(tmp_path / "unused").checkpoint_bytes()  # about 125 KB for these tiny networks
    with tmpfs(tmp_path / "disk", f"{4 * size // 1024}k") as disk:
        trainer = short_run_trainer(disk, keep_checkpoints=5)
        with pytest.raises(OSError, match=rf"--model_dir={disk} has 0.5 MB free, but writing 6 more "
                                          r"checkpoint\(s\) of about 0.1 MB "
                                          r"\(--keep_checkpoints=5, 0 present\) needs about 0.7 MB"):
            job.check_disk_space(trainer, trainer.config.bookkeeping)
        # A run resuming with its checkpoints already there needs room for one more only.
        for step in range(2):
            trainer.step.assign(step)
            trainer.save_checkpoint()
        job.check_disk_space(trainer, BookkeepingConfig(model_dir=str(disk), keep_checkpoints=2))
        with pytest.raises(OSError, match=r"writing 2 more checkpoint\(s\) .* 2 present"):
            job.check_disk_space(trainer, BookkeepingConfig(model_dir=str(disk), keep_checkpoints=3))


def test_a_disk_that_fills_up_during_training_keeps_the_last_checkpoint_good(tmp_path):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        trainer = short_run_trainer(disk, train_steps=4)
        TrainingController(trainer, batches()).run()
        assert tf.train.latest_checkpoint(str(disk)).endswith("ckpt-4")
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(bytes(free - 20_000))  # another program takes the space

        trainer = short_run_trainer(disk, train_steps=8)
        trainer.restore_or_initialize()
        expected = f"--model_dir={disk}: could not write the checkpoint of step 6: .*No space left.*" \
                   f"{disk}/ckpt-4, is intact"
        with pytest.raises(CheckpointWriteError, match=expected):
            TrainingController(trainer, batches()).run()
        assert not [name for name in os.listdir(disk) if name.endswith("_temp")]
        (disk / "filler").unlink()
        assert "resumed from" in short_run_trainer(disk, train_steps=8).restore_or_initialize()
        assert_every_checkpoint_restores_finite(disk)
