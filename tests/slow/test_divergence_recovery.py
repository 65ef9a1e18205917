"""NaN batches, float16 overflow and divergence in training runs: roll-backs, skipped steps, a clear stop."""
import math

import keras
import pytest
import tensorflow as tf

from srgan_tf.training.actions import RollBackOnDivergence
from srgan_tf.training.controller import TrainingController
from srgan_tf.training.divergence import TrainingDivergedError
from tests.summaries import scalars
from tests.training.tiny_trainers import assert_every_checkpoint_restores_finite, batches, short_run_trainer


@pytest.fixture
def precision():
    """Sets the Keras precision policy for one test, and puts float32 back after it."""
    def set_policy(name):
        keras.mixed_precision.set_global_policy(name)
        return name

    yield set_policy
    keras.mixed_precision.set_global_policy("float32")


def recoveries(controller: TrainingController) -> int:
    """The roll-backs the controller's divergence action made."""
    return next(a for a in controller.actions if isinstance(a, RollBackOnDivergence)).guard.recoveries


def checkpoint_steps(model_dir):
    state = tf.train.get_checkpoint_state(str(model_dir))
    return [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths] if state else []


def test_a_nan_batch_rolls_back_to_the_last_good_checkpoint_and_training_goes_on(tmp_path):
    trainer = short_run_trainer(tmp_path)
    controller = TrainingController(trainer, batches(nan_at=[5]))
    metrics = controller.run()

    assert int(trainer.step.numpy()) == 12 and math.isfinite(metrics["g_loss"])
    assert recoveries(controller) == 1
    assert bool(trainer.weights_finite())
    # The NaN came in step 6: logged as NaN, rolled back to step 4, trained again on the batches after it.
    losses = scalars(tmp_path / "train", "g_loss")
    assert [step for step, _ in losses] == [2, 4, 6, 6, 8, 10, 12]
    assert [math.isnan(loss) for _, loss in losses] == [False, False, True, False, False, False, False]
    assert scalars(tmp_path / "train", "reliability/recoveries")[-1] == (12, 1)
    assert checkpoint_steps(tmp_path) == [0, 2, 4, 6, 8, 10, 12]
    assert_every_checkpoint_restores_finite(tmp_path)


def test_float16_overflow_is_skipped_by_loss_scaling_and_counted(tmp_path, precision):
    trainer = short_run_trainer(tmp_path, precision("mixed_float16"))
    controller = TrainingController(trainer, batches(nan_at=[4, 5]))
    controller.run()

    skipped = scalars(tmp_path / "train", "reliability/skipped_steps/g")
    assert skipped == [(2, 0), (4, 0), (6, 2), (8, 2), (10, 2), (12, 2)]
    assert int(trainer.optimizers["g"].iterations.numpy()) == 10
    assert recoveries(controller) == 0  # one bad interval, then healthy again: within --nan_patience=2
    assert bool(trainer.weights_finite())


def test_a_run_that_keeps_diverging_stops_with_a_clear_error(tmp_path):
    trainer = short_run_trainer(tmp_path, max_loss=1e-9, nan_patience=2, max_recoveries=2, log_every=1,
                           steps_per_loop=1)
    controller = TrainingController(trainer, batches())
    with pytest.raises(TrainingDivergedError, match=r"above --max_loss=1e-09 for 2 log interval.*"
                                                    r"after 2 roll-back.*--max_recoveries=2"):
        controller.run()
    assert recoveries(controller) == 2
    assert checkpoint_steps(tmp_path)[-1] <= 1  # every checkpoint after step 0 came from diverged training
