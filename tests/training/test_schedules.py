"""The learning rate: warm-up then step, multistep or cosine decay, and the rate the optimizer steps at."""
import numpy as np
import pytest

from srgan_tf.config import OptimizationConfig
from srgan_tf.training.schedules import learning_rate_schedule
from tests.training.tiny_trainers import batch, fast_trainer, repeated, run_steps


@pytest.mark.parametrize("kind,steps,expected", [
    # warm-up 0.1, 0.5, ... of the peak, the peak until the decay step, from there on the rate after it.
    ("step", (0, 4, 10, 59, 60, 500), [1e-4, 5e-4, 1e-3, 1e-3, 1e-5, 1e-5]),
    # warm-up, then cosine from the peak at step 10 down to the final rate at step 110.
    ("cosine", (0, 4, 10, 60, 110, 500), [1e-4, 5e-4, 1e-3, 1e-5 + 0.5 * (1e-3 - 1e-5), 1e-5, 1e-5]),
])
def test_learning_rate_warms_up_then_decays(kind, steps, expected):
    schedule = learning_rate_schedule(OptimizationConfig(learning_rate=1e-3, lr_schedule=kind, warmup_steps=10,
                                                         lr_decay_step=60 if kind == "step" else 0,
                                                         lr_after_decay=1e-5, train_steps=110))
    np.testing.assert_allclose([float(schedule(step)) for step in steps], expected, rtol=1e-5)


def test_multistep_halves_the_rate_at_each_milestone_as_esrgan():
    schedule = learning_rate_schedule(OptimizationConfig(learning_rate=1e-4, lr_schedule="multistep",
                                                         lr_milestones="50,100,200,300", train_steps=400))
    rates = [float(schedule(step)) for step in (0, 49, 50, 99, 100, 199, 200, 300, 399)]
    np.testing.assert_allclose(rates, [1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5, 2.5e-5, 1.25e-5, 6.25e-6, 6.25e-6],
                               rtol=1e-6)


def test_the_optimizer_steps_at_the_decayed_rate_from_the_decay_step_on(one_device, tmp_path):
    trainer = fast_trainer(one_device, tmp_path, learning_rate=1e-3, lr_decay_step=2, lr_after_decay=1e-5)
    iterator = repeated(one_device, *batch())
    steps = []
    for _ in range(3):
        before = trainer.generator.get_weights()
        run_steps(trainer, iterator, 1)
        steps.append(max(float(np.abs(w - b).max()) for w, b in zip(trainer.generator.get_weights(), before)))
    # Adam moves a weight by about the learning rate: steps 0 and 1 at 1e-3, step 2 at 1e-5.
    assert steps[0] > 3e-4 and steps[1] > 3e-4 and steps[2] < 3e-5, steps
    assert trainer.scalars()["learning_rate/g"] == pytest.approx(1e-5)
