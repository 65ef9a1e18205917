"""SIGINT, SIGTERM and kill -9 during training: checkpoints, exit codes, resuming to the same weights."""
import os
import signal
import time

import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.training import preemption
from srgan_tf.training.controller import TrainingController
from tests.training.tiny_trainers import batches, short_run_trainer
from tests.training_processes import Training, latest_step, logged

# Checkpoints at every step, so kills land in writes; --deterministic, so runs can be compared exactly.
RESUMABLE = ["--deterministic", "--seed=3", "--cpu_replicas=2", "--strategy=mirrored", "--train_steps=30",
             "--steps_per_loop=1", "--checkpoint_every=1", "--log_every=10", "--keep_checkpoints=3",
             "--crops_per_image=2", "--shuffle_buffer=8"]


def test_sigint_finishes_the_loop_saves_and_reports_how_to_resume(tmp_path):
    def interrupt(i):
        if int(i) == 3:
            os.kill(os.getpid(), signal.SIGINT)

    trainer = short_run_trainer(tmp_path, train_steps=100, checkpoint_every=50, log_every=50)
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
    resumed = short_run_trainer(tmp_path, train_steps=100)
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
