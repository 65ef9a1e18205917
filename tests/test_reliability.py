"""Faults a long training run meets, each caused on purpose: signals, NaN and divergence, corrupt shards,
unwritable and full disks, kill -9. RELIABILITY.md lists which test shows what."""
import contextlib
import math
import os
import shutil
import signal
import subprocess
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.data import pipeline
from srgan_tf.training import checkpointing, job, preemption
from srgan_tf.config import DataConfig, ModelConfig, TrainConfig
from srgan_tf.training.divergence import TrainingDivergedError
from srgan_tf.training.trainer import CheckpointWriteError, Trainer, TrainingController
from tests.training_processes import Training, latest_step, logged

DATA = DataConfig(hr_patch_size=16, batch_size=4, scale=4)
MODEL = ModelConfig(num_residual_blocks=1, num_filters=8, hr_patch_size=16, discriminator_filters=4,
                    vgg_layer="vgg22", vgg_weights="none")
# Checkpoints at every step, so kills land in writes; --deterministic, so runs can be compared exactly.
RESUMABLE = ["--deterministic", "--seed=3", "--cpu_replicas=2", "--strategy=mirrored", "--train_steps=30",
             "--steps_per_loop=1", "--checkpoint_every=1", "--log_every=10", "--keep_checkpoints=3",
             "--crops_per_image=2", "--shuffle_buffer=8"]


@pytest.fixture
def precision():
    """Sets the Keras precision policy for one test, and puts float32 back after it."""
    def set_policy(name):
        keras.mixed_precision.set_global_policy(name)
        return name

    yield set_policy
    keras.mixed_precision.set_global_policy("float32")


def make_trainer(model_dir, precision="float32", **overrides):
    """A tiny pretrain trainer on the default strategy: in-process tests make no strategy of their own."""
    keras.utils.set_random_seed(1)
    config = TrainConfig(**{"model_dir": str(model_dir), "jit_compile": False, "seed": 1, "train_steps": 12,
                            "steps_per_loop": 2, "log_every": 2, "checkpoint_every": 2,
                            "keep_checkpoints": 20, **overrides})
    return Trainer(tf.distribute.get_strategy(), DATA, MODEL, config, precision=precision)


def batches(nan_at=(), on_batch=None):
    """One fixed batch, endlessly, with NaN LR pixels in the batches numbered `nan_at` (from 0).

    `on_batch(i)`, if given, runs in the input pipeline as batch i is made.
    """
    size = DATA.hr_patch_size
    hr = tf.random.stateless_uniform([DATA.batch_size, size, size, 3], seed=[0, 1])
    lr = tf.image.resize(hr, [size // 4, size // 4], "bicubic", antialias=True)
    poisoned = tf.constant(sorted(nan_at) or [-1], tf.int64)

    def batch(i):
        if on_batch is not None:
            tf.py_function(on_batch, [i], [])
        nan = tf.where(tf.reduce_any(tf.equal(i, poisoned)), math.nan, 0.0)
        return lr + nan, hr

    return tf.distribute.get_strategy().distribute_datasets_from_function(
        lambda context: tf.data.Dataset.range(1 << 40).map(batch))


def scalars(event_dir, tag):
    """[(step, value)] of one scalar written to TensorBoard, in the order written."""
    (name,) = os.listdir(event_dir)
    return [(event.step, float(tf.make_ndarray(value.tensor)))
            for event in tf.compat.v1.train.summary_iterator(os.path.join(event_dir, name))
            for value in event.summary.value if value.tag == tag]


def checkpoint_steps(model_dir):
    state = tf.train.get_checkpoint_state(str(model_dir))
    return [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths] if state else []


def assert_every_checkpoint_restores_finite(model_dir):
    checkpointing.write_model_config(str(model_dir), MODEL)
    state = tf.train.get_checkpoint_state(str(model_dir))
    for path in state.all_model_checkpoint_paths:
        generator, _, _ = checkpointing.load_generator(path)
        assert all(np.isfinite(w.numpy()).all() for w in generator.weights), path


# --------------------------------------------------------------------------------------- NaN and divergence


def test_a_nan_batch_rolls_back_to_the_last_good_checkpoint_and_training_goes_on(tmp_path):
    trainer = make_trainer(tmp_path)
    controller = TrainingController(trainer, batches(nan_at=[5]))
    metrics = controller.run()

    assert int(trainer.step.numpy()) == 12 and math.isfinite(metrics["g_loss"])
    assert controller.guard.recoveries == 1
    assert bool(trainer.weights_finite())
    # The NaN came in step 6: logged as NaN, rolled back to step 4, trained again on the batches after it.
    losses = scalars(tmp_path / "train", "g_loss")
    assert [step for step, _ in losses] == [2, 4, 6, 6, 8, 10, 12]
    assert [math.isnan(loss) for _, loss in losses] == [False, False, True, False, False, False, False]
    assert scalars(tmp_path / "train", "reliability/recoveries")[-1] == (12, 1)
    assert checkpoint_steps(tmp_path) == [0, 2, 4, 6, 8, 10, 12]
    assert_every_checkpoint_restores_finite(tmp_path)


def test_float16_overflow_is_skipped_by_loss_scaling_and_counted(tmp_path, precision):
    trainer = make_trainer(tmp_path, precision("mixed_float16"))
    controller = TrainingController(trainer, batches(nan_at=[4, 5]))
    controller.run()

    skipped = scalars(tmp_path / "train", "reliability/skipped_steps/g")
    assert skipped == [(2, 0), (4, 0), (6, 2), (8, 2), (10, 2), (12, 2)]
    assert int(trainer.g_optimizer.iterations.numpy()) == 10
    assert controller.guard.recoveries == 0  # one bad interval, then healthy again: within --nan_patience=2
    assert bool(trainer.weights_finite())


def test_a_run_that_keeps_diverging_stops_with_a_clear_error(tmp_path):
    trainer = make_trainer(tmp_path, max_loss=1e-9, nan_patience=2, max_recoveries=2, log_every=1,
                           steps_per_loop=1)
    controller = TrainingController(trainer, batches())
    with pytest.raises(TrainingDivergedError, match=r"above --max_loss=1e-09 for 2 log interval.*"
                                                    r"after 2 roll-back.*--max_recoveries=2"):
        controller.run()
    assert controller.guard.recoveries == 2
    assert checkpoint_steps(tmp_path)[-1] <= 1  # every checkpoint after step 0 came from diverged training


# ----------------------------------------------------------------------------------------------- signals

def test_sigint_finishes_the_loop_saves_and_reports_how_to_resume(tmp_path):
    def interrupt(i):
        if int(i) == 3:
            os.kill(os.getpid(), signal.SIGINT)

    trainer = make_trainer(tmp_path, train_steps=100, checkpoint_every=50, log_every=50)
    previous_handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(preemption.TrainingInterrupted) as stopped:
        TrainingController(trainer, batches(on_batch=interrupt)).run()

    assert stopped.value.exit_code == 130 and "SIGINT" in str(stopped.value)
    step = int(trainer.step.numpy())
    # Stopped at the end of a loop (of 2 steps), before the first scheduled checkpoint at step 50.
    assert stopped.value.step == step and 0 < step < 50 and step % 2 == 0
    assert stopped.value.checkpoint == tf.train.latest_checkpoint(str(tmp_path))
    assert stopped.value.checkpoint == str(tmp_path / f"ckpt-{step}")
    assert signal.getsignal(signal.SIGINT) is previous_handler
    resumed = make_trainer(tmp_path, train_steps=100)
    assert f"at step {step}" in resumed.restore_or_initialize()


def every_tensor(checkpoint):
    """Every value a checkpoint holds, read in full (a damaged file fails here), but the input pipeline's
    state: variant tensors the reader can't return (a resumed run restores them)."""
    reader = tf.train.load_checkpoint(str(checkpoint))
    return {key: reader.get_tensor(key) for key, dtype in reader.get_variable_to_dtype_map().items()
            if dtype != tf.variant}


def partial_writes(model_dir):
    return [name for name in os.listdir(model_dir) if name.endswith("_temp")]


def test_sigterm_and_kill_9_at_any_moment_resume_to_the_weights_of_an_uninterrupted_run(tiny_records,
                                                                                        tmp_path):
    records, model_dir = tiny_records["train"], tmp_path / "interrupted"
    uninterrupted = Training(records, tmp_path / "whole", tmp_path / "whole.log", *RESUMABLE)

    # SIGTERM: the loop in progress ends, a checkpoint is saved, and the process exits with 128 + 15.
    run = Training(records, model_dir, tmp_path / "sigterm.log", *RESUMABLE)
    run.wait_until(lambda: latest_step(model_dir) >= 3, "a checkpoint at step 3")
    run.process.send_signal(signal.SIGTERM)
    assert run.wait() == 143, run.log()
    (stopped,) = logged(r"SIGTERM received: stopped at step (\d+), saved \S+/ckpt-(\d+);", run.log())
    assert int(stopped[0]) == int(stopped[1]) == latest_step(model_dir) >= 3

    # kill -9 in the middle of writing a checkpoint, then at some moment between checkpoints.
    for moment in ("writing", "stepping"):
        before = latest_step(model_dir)
        run = Training(records, model_dir, tmp_path / f"kill_{moment}.log", *RESUMABLE)
        run.wait_until(lambda: latest_step(model_dir) > before, "a new checkpoint")
        if moment == "writing":
            run.wait_until(lambda: partial_writes(model_dir), "a checkpoint being written")
        else:
            time.sleep(0.05)
        run.process.kill()
        assert run.wait() == -signal.SIGKILL
        assert f"resumed from {model_dir}/ckpt-{before} at step {before}" in run.log()
        if moment == "writing":
            assert partial_writes(model_dir), "the kill came after the write had finished"
        assert latest_step(model_dir) > before
        assert every_tensor(tf.train.latest_checkpoint(str(model_dir)))

    last = latest_step(model_dir)
    run = Training(records, model_dir, tmp_path / "finish.log", *RESUMABLE)
    assert run.wait() == 0, run.log()
    assert f"resumed from {model_dir}/ckpt-{last} at step {last}" in run.log()
    assert latest_step(model_dir) == 30 and not partial_writes(model_dir)

    assert uninterrupted.wait() == 0, uninterrupted.log()
    expected, resumed = every_tensor(tmp_path / "whole" / "ckpt-30"), every_tensor(model_dir / "ckpt-30")
    compared = [key for key in expected if not key.startswith("save_counter")]
    assert set(resumed) == set(expected) and any(key.startswith("generator") for key in compared)
    for key in compared:
        np.testing.assert_array_equal(resumed[key], expected[key], err_msg=key)


# ------------------------------------------------------------------------------------------- corrupt data

def corrupt_copy(tiny_records, tmp_path, damage):
    """The tiny training shards copied into tmp_path, the second one damaged; returns (pattern, shard)."""
    shards = pipeline.list_record_files(tiny_records["train"])
    for shard in shards:
        shutil.copy(shard, tmp_path)
    bad = str(tmp_path / os.path.basename(shards[1]))
    raw = bytearray(open(bad, "rb").read())
    if damage == "truncated":
        raw = raw[:len(raw) * 2 // 3]
    else:
        raw[len(raw) // 2] ^= 0x20  # one bit in the middle of a record
    open(bad, "wb").write(bytes(raw))
    return str(tmp_path / "train-*"), bad


@pytest.mark.parametrize("damage", ["truncated", "bit_flipped"])
def test_a_corrupt_shard_stops_the_run_before_training_and_is_named(tiny_records, tmp_path, damage):
    pattern, bad = corrupt_copy(tiny_records, tmp_path, damage)
    config = DataConfig(train_records=pattern, hr_patch_size=16, batch_size=4, seed=0)
    with pytest.raises(pipeline.CorruptRecordsError, match=f"{bad} is corrupt .*--skip_corrupt_records"):
        pipeline.train_dataset_fn(config)(tf.distribute.InputContext())
    with pytest.raises(pipeline.CorruptRecordsError, match=bad):
        pipeline.eval_dataset(pattern, 4)


@pytest.mark.parametrize("damage", ["truncated", "bit_flipped"])
def test_skip_corrupt_records_uses_what_precedes_the_damage(tiny_records, tmp_path, damage):
    pattern, bad = corrupt_copy(tiny_records, tmp_path, damage)
    files = pipeline.list_record_files(pattern)
    count = pipeline.count_images(files, 16, skip_corrupt=True)
    assert list(count.corrupt) == [bad]
    assert count.total < 6  # the tiny set holds 6 images, 3 per shard; the damage cost the bad shard some
    assert count.total >= 3

    config = DataConfig(train_records=pattern, hr_patch_size=16, batch_size=4, seed=0, crops_per_image=1,
                        shuffle_buffer=2, skip_corrupt_records=True)
    dataset = pipeline.train_dataset_fn(config)(tf.distribute.InputContext())
    # 8 batches of 4 patches, one per image: several passes over both shards, and no error or hang.
    assert len(list(dataset.take(8))) == 8
    images = pipeline.eval_dataset(pattern, 4, skip_corrupt=True)
    assert len(list(images)) == count.total


def test_a_shard_damaged_during_training_stops_it_with_a_clear_error(tiny_records, tmp_path):
    _, bad = corrupt_copy(tiny_records, tmp_path, "truncated")
    fixed = next(iter(batches()))
    dataset = tf.data.TFRecordDataset(bad).repeat().map(lambda record: fixed)
    trainer = make_trainer(tmp_path / "model")
    with pytest.raises(pipeline.CorruptRecordsError, match="became unreadable during training.*truncated record"):
        TrainingController(trainer, dataset).run()


# ---------------------------------------------------------------------------------------- tf.data service


# --------------------------------------------------------------------------------------------------- disks

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
    config = TrainConfig(model_dir=model_dir, strategy="one_device", jit_compile=False)
    with pytest.raises(OSError, match=f"--model_dir={model_dir} is not writable"):
        job.run_training(DataConfig(train_records=str(tmp_path / "a_file")), MODEL, config)


def test_a_full_disk_fails_before_training(tmp_path):
    with tmpfs(tmp_path / "disk", "64k") as disk:
        with open(disk / "filler", "wb") as filler, pytest.raises(OSError, match="No space left"):
            filler.write(bytes(128 << 10))
        with pytest.raises(OSError, match=f"--export_dir={disk / 'export'} is not writable.*No space left"):
            job.check_writable(str(disk / "export"), "export_dir")


def test_too_little_room_for_the_checkpoints_kept_fails_before_training(tmp_path):
    size = make_trainer(tmp_path / "unused").checkpoint_bytes()  # about 125 KB for these tiny networks
    with tmpfs(tmp_path / "disk", f"{4 * size // 1024}k") as disk:
        trainer = make_trainer(disk, keep_checkpoints=5)
        with pytest.raises(OSError, match=rf"--model_dir={disk} has 0.5 MB free, but writing 6 more "
                                          r"checkpoint\(s\) of about 0.1 MB "
                                          r"\(--keep_checkpoints=5, 0 present\) needs about 0.7 MB"):
            job.check_disk_space(trainer, trainer.config)
        # A run resuming with its checkpoints already there needs room for one more only.
        for step in range(2):
            trainer.step.assign(step)
            trainer.save_checkpoint()
        job.check_disk_space(trainer, TrainConfig(model_dir=str(disk), keep_checkpoints=2))
        with pytest.raises(OSError, match=r"writing 2 more checkpoint\(s\) .* 2 present"):
            job.check_disk_space(trainer, TrainConfig(model_dir=str(disk), keep_checkpoints=3))


def test_a_disk_that_fills_up_during_training_keeps_the_last_checkpoint_good(tmp_path):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        trainer = make_trainer(disk, train_steps=4)
        TrainingController(trainer, batches()).run()
        assert tf.train.latest_checkpoint(str(disk)).endswith("ckpt-4")
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(bytes(free - 20_000))  # another program takes the space

        trainer = make_trainer(disk, train_steps=8)
        trainer.restore_or_initialize()
        expected = f"--model_dir={disk}: could not write the checkpoint of step 6: .*No space left.*" \
                   f"{disk}/ckpt-4, is intact"
        with pytest.raises(CheckpointWriteError, match=expected):
            TrainingController(trainer, batches()).run()
        assert not [name for name in os.listdir(disk) if name.endswith("_temp")]
        (disk / "filler").unlink()
        assert "resumed from" in make_trainer(disk, train_steps=8).restore_or_initialize()
        assert_every_checkpoint_restores_finite(disk)
