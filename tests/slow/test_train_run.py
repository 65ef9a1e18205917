"""A whole training run through `python -m srgan_tf.train --flagfile`: checkpoint, export and summaries."""
import subprocess
import sys

import tensorflow as tf

from tests.summaries import summary_tags
from tests.training_processes import TRAIN_FLAGS


def test_a_run_through_absl_with_a_flagfile(tmp_path, tiny_records):
    model_dir, export_dir = tmp_path / "run", tmp_path / "exports"
    flagfile = tmp_path / "tiny.flags"
    flagfile.write_text("\n".join(TRAIN_FLAGS + [
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
    assert summary_tags(model_dir / "config") == {"config/flags"}

    # The run as recorded, run again with two more steps: it resumes, and the change is recorded.
    result = subprocess.run([sys.executable, "-m", "srgan_tf.train", f"--flagfile={model_dir / 'train.flags'}",
                             "--train_steps=6"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-6")
    assert (model_dir / "config_changes.txt").read_text() == "step 4:\n  --train_steps: 4 -> 6\n"
    assert "--train_steps=6" in (model_dir / "train.flags").read_text().splitlines()


def test_a_real_esrgan_gan_run_on_two_replicas(tmp_path, tiny_records):
    """Two GAN steps on LR made by Real-ESRGAN's degradation, against the U-Net discriminator, on 2 replicas."""
    model_dir = tmp_path / "run"
    result = subprocess.run([
        sys.executable, "-m", "srgan_tf.train", *TRAIN_FLAGS, f"--train_records={tiny_records['train']}",
        f"--model_dir={model_dir}", "--phase=gan", "--train_steps=2", "--steps_per_loop=2", "--log_every=2",
        "--checkpoint_every=2", "--cpu_replicas=2", "--strategy=mirrored", "--degradation=realesrgan",
        "--blur_kernel_size=3", "--hr_patch_size=32", "--discriminator=unet", "--adversarial_weight=0.1",
        "--pixel_weight=1", "--pixel_loss=l1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s)" in result.stderr and "step 2/2" in result.stderr
    assert "Training LR: realesrgan" in result.stderr
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-2")
