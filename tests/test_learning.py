"""The networks learn, and the maths of each option is what it claims: schedules, the moving average,
the GAN losses' gradients, and train/eval LR that match."""
import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.common import imaging
from srgan_tf.data import pipeline
from srgan_tf.evaluation import metrics
from srgan_tf.modeling import losses
from srgan_tf.training import checkpointing
from srgan_tf.evaluation.image_pairs import find_benchmarks
from srgan_tf.config import DataConfig, TrainConfig
from srgan_tf.evaluation.scoring import EvalConfig, evaluate_benchmark
from srgan_tf.modeling.generator import build_generator
from srgan_tf.training.schedules import learning_rate_schedule
from srgan_tf.training.trainer import CheckpointMismatchError, Trainer
from srgan_tf.evaluation.upscalers import load_upscaler
from tests.tiny_models import FAST

DATA = DataConfig(hr_patch_size=16, batch_size=4, scale=4)


@pytest.fixture(scope="module")
def one_device():
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def make_trainer(strategy, model_dir, model=FAST, data_config=DATA, **overrides):
    config = TrainConfig(**{"model_dir": str(model_dir), "jit_compile": False, "seed": 1, **overrides})
    trainer = Trainer(strategy, data_config, model, config)
    trainer.restore_or_initialize()
    return trainer


def batch(seed=0, size=16, count=4):
    hr = tf.random.stateless_uniform([count, size, size, 3], seed=[seed, 1])
    return imaging.quantize(imaging.bicubic_downscale(hr, 4)), hr


def repeated(strategy, lr, hr):
    return iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors((lr, hr)).repeat()))


def train(trainer, iterator, steps):
    return {k: float(v) for k, v in trainer.train_loop(iterator, tf.constant(steps, tf.int64)).items()}


def test_a_tiny_generator_overfits_one_image_beyond_bicubic(one_device, tmp_path, make_image):
    """Two hundred steps on one small photo: the network must beat interpolation on that photo."""
    image = imaging.to_float(make_image(32, 32, seed=5))[None]
    lr = imaging.quantize(imaging.bicubic_downscale(image, 4))
    trainer = make_trainer(one_device, tmp_path, pixel_loss="l1", learning_rate=1e-3,
                           data_config=DataConfig(hr_patch_size=32, batch_size=1, scale=4),
                           model=dataclasses.replace(FAST, hr_patch_size=32))
    train(trainer, repeated(one_device, lr, image), 200)
    sr = imaging.quantize(trainer.eval_generator(lr, training=False))
    bicubic = imaging.quantize(imaging.bicubic_upscale(lr, 4))
    gain = float(metrics.psnr(image, sr, 4)[0] - metrics.psnr(image, bicubic, 4)[0])
    assert gain > 1.0, f"only {gain:.2f} dB over bicubic"


@pytest.mark.parametrize("kind,steps,expected", [
    # warm-up 0.1, 0.5, ... of the peak, the peak until the decay step, from there on the rate after it.
    ("step", (0, 4, 10, 59, 60, 500), [1e-4, 5e-4, 1e-3, 1e-3, 1e-5, 1e-5]),
    # warm-up, then cosine from the peak at step 10 down to the final rate at step 110.
    ("cosine", (0, 4, 10, 60, 110, 500), [1e-4, 5e-4, 1e-3, 1e-5 + 0.5 * (1e-3 - 1e-5), 1e-5, 1e-5]),
])
def test_learning_rate_warms_up_then_decays(kind, steps, expected):
    schedule = learning_rate_schedule(TrainConfig(model_dir="m", learning_rate=1e-3, lr_schedule=kind,
                                                  warmup_steps=10, lr_decay_step=60 if kind == "step" else 0,
                                                  lr_after_decay=1e-5, train_steps=110))
    np.testing.assert_allclose([float(schedule(step)) for step in steps], expected, rtol=1e-5)


def test_the_optimizer_steps_at_the_decayed_rate_from_the_decay_step_on(one_device, tmp_path):
    trainer = make_trainer(one_device, tmp_path, learning_rate=1e-3, lr_decay_step=2, lr_after_decay=1e-5)
    iterator = repeated(one_device, *batch())
    steps = []
    for _ in range(3):
        before = trainer.generator.get_weights()
        train(trainer, iterator, 1)
        steps.append(max(float(np.abs(w - b).max()) for w, b in zip(trainer.generator.get_weights(), before)))
    # Adam moves a weight by about the learning rate: steps 0 and 1 at 1e-3, step 2 at 1e-5.
    assert steps[0] > 3e-4 and steps[1] > 3e-4 and steps[2] < 3e-5, steps
    assert trainer.scalars()["learning_rate/g"] == pytest.approx(1e-5)


@pytest.mark.parametrize("schedule", [{}, {"warmup_steps": 1, "lr_schedule": "cosine"}])
def test_resuming_with_another_learning_rate_applies_it(one_device, tmp_path, schedule):
    """A constant rate is an optimizer variable that the checkpoint holds; a schedule is not."""
    first = make_trainer(one_device, tmp_path, learning_rate=1e-3, **schedule)
    train(first, repeated(one_device, *batch()), 2)
    first.save_checkpoint()
    resumed = make_trainer(one_device, tmp_path, learning_rate=2e-4, **schedule)
    assert resumed.resumed and int(resumed.step.numpy()) == 2
    expected = 2e-4 if not schedule else float(learning_rate_schedule(resumed.config)(2))
    assert resumed.scalars()["learning_rate/g"] == pytest.approx(expected)
    assert expected < 5e-4


def test_resuming_with_other_optimizer_state_is_refused_by_name(one_device, tmp_path):
    first = make_trainer(one_device, tmp_path)
    first.save_checkpoint()
    with pytest.raises(CheckpointMismatchError, match="--ema_decay .* learning-rate schedule"):
        make_trainer(one_device, tmp_path, ema_decay=0.9)
    with pytest.raises(CheckpointMismatchError, match="--ema_decay .* learning-rate schedule"):
        make_trainer(one_device, tmp_path, warmup_steps=5)


def test_moving_average_follows_the_weights_and_is_what_checkpoints_give_to_tools(one_device, tmp_path):
    trainer = make_trainer(one_device, tmp_path, ema_decay=0.5, learning_rate=1e-2)
    iterator = repeated(one_device, *batch())
    expected = trainer.generator.get_weights()
    np.testing.assert_array_equal(trainer.ema_generator.get_weights()[0], expected[0])
    for _ in range(3):
        train(trainer, iterator, 1)
        expected = [0.5 * e + 0.5 * w for e, w in zip(expected, trainer.generator.get_weights())]
    for average, value in zip(trainer.ema_generator.get_weights(), expected):
        np.testing.assert_allclose(average, value, rtol=1e-5, atol=1e-7)
    assert trainer.eval_generator is trainer.ema_generator
    assert not np.allclose(expected[-2], trainer.generator.get_weights()[-2])  # the two really differ
    trainer.save_checkpoint()
    checkpointing.write_model_config(str(tmp_path), FAST)

    resumed = make_trainer(one_device, tmp_path, ema_decay=0.5, learning_rate=1e-2)
    for ours, theirs in zip(resumed.ema_generator.get_weights(), trainer.ema_generator.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    loaded, _, step = checkpointing.load_generator(str(tmp_path))
    assert step == 3
    for ours, theirs in zip(loaded.get_weights(), trainer.ema_generator.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_checkpoint_without_a_generator_is_refused_by_name(tmp_path):
    checkpointing.write_model_config(str(tmp_path), FAST)
    prefix = tf.train.Checkpoint(step=tf.Variable(3, dtype=tf.int64)).save(str(tmp_path / "ckpt"))
    with pytest.raises(ValueError, match=f"{prefix} holds no generator weights"):
        checkpointing.load_generator(prefix)


# ----------------------------------------------------------------------------------- the GAN phase


def gradients(trainer, lr, hr):
    """The per-replica gradients (generator, discriminator) and metrics of one GAN step, applying nothing."""
    (g_grads, d_grads), step_metrics = trainer.strategy.run(trainer._gradients, args=(lr, hr))
    return [g.numpy() for g in g_grads], [d.numpy() for d in d_grads], step_metrics


def gan_trainer(strategy, model_dir, generator_weights, **overrides):
    trainer = make_trainer(strategy, model_dir, phase="gan", content_loss="pixel", pixel_loss="mse",
                           **overrides)
    trainer.generator.set_weights(generator_weights)
    return trainer


def test_without_adversarial_weight_a_gan_step_moves_the_generator_as_pretraining_does(one_device, tmp_path):
    """The discriminator's update runs in the GAN step but must not reach the generator."""
    pretrain = make_trainer(one_device, tmp_path / "pre", pixel_loss="mse")
    gan = gan_trainer(one_device, tmp_path / "gan", pretrain.generator.get_weights(), adversarial_weight=0.0)
    d_before = gan.discriminator.get_weights()
    lr, hr = batch()
    train(pretrain, repeated(one_device, lr, hr), 1)
    train(gan, repeated(one_device, lr, hr), 1)
    for ours, theirs in zip(gan.generator.get_weights(), pretrain.generator.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert any(np.any(a != b) for a, b in zip(gan.discriminator.get_weights(), d_before))


def flat(tensors) -> np.ndarray:
    return np.concatenate([np.ravel(t) for t in tensors])


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def test_the_adversarial_gradient_has_the_weight_and_sign_of_the_loss(one_device, tmp_path):
    """g(w) = g_content + w * grad(-log D(G(lr))): linear in w, and pointing where the adversarial loss grows."""
    weights = build_generator(FAST).get_weights()
    trainers = {w: gan_trainer(one_device, tmp_path / str(w), weights, adversarial_weight=w)
                for w in (0.0, 0.5, 1.0)}
    d_weights = trainers[0.0].discriminator.get_weights()
    for trainer in trainers.values():
        trainer.discriminator.set_weights(d_weights)
    lr, hr = batch()
    grads = {w: gradients(trainer, lr, hr)[0] for w, trainer in trainers.items()}

    reference = trainers[0.0]
    variables = reference.generator.trainable_variables
    with tf.GradientTape() as tape:
        fake_logits = reference.discriminator(reference.generator(lr, training=True), training=True)
        adversarial = tf.reduce_mean(losses.adversarial_loss(fake_logits))
    expected = flat(tape.gradient(adversarial, variables))
    g0, g_half, g1 = (flat(grads[w]) for w in (0.0, 0.5, 1.0))
    assert np.linalg.norm(expected) > 1e-3  # the check is not vacuous
    # Relative errors of whole gradient vectors: differences of float32 gradients lose a few digits.
    assert relative_error(g1 - g0, expected) < 1e-3
    assert relative_error(g1 - g0, 2 * (g_half - g0)) < 1e-3


def test_the_vgg_content_loss_compares_features_of_sr_and_hr(one_device, tmp_path):
    trainer = make_trainer(one_device, tmp_path, phase="gan", content_loss="vgg", vgg_feature_scale=0.5)
    lr, hr = batch()
    _, _, step_metrics = gradients(trainer, lr, hr)
    sr = trainer.generator(lr, training=True)
    expected = tf.reduce_mean(losses.feature_mse(trainer.vgg(hr), trainer.vgg(sr), 0.5))
    assert float(step_metrics["content_loss"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(step_metrics["content_loss"]) != pytest.approx(float(step_metrics["pixel_mse"]), rel=1e-2)


# ------------------------------------------------------------------------- train and evaluate agree


def test_in_training_psnr_equals_what_the_evaluate_command_reports(one_device, tmp_path, tiny_records):
    trainer = make_trainer(one_device, tmp_path, ema_decay=0.5, learning_rate=1e-2)
    train(trainer, repeated(one_device, *batch()), 3)
    during_training, _ = trainer.evaluate(pipeline.eval_dataset(tiny_records["val"], 4))

    trainer.save_checkpoint()
    checkpointing.write_model_config(str(tmp_path), FAST)

    val_images = os.path.join(os.path.dirname(os.path.dirname(tiny_records["val"])), "val_images")
    (benchmark,) = find_benchmarks([val_images], [], 4)
    # What `python -m srgan_tf.evaluate --model=<model_dir>` runs: the checkpoint's generator, on image files.
    result = evaluate_benchmark(load_upscaler(str(tmp_path), 4), benchmark, EvalConfig(scale=4))
    assert len(result.images) == 2
    assert during_training["eval/psnr_y"] == pytest.approx(result.mean()["psnr"], abs=1e-4)
    assert during_training["eval/ssim_y"] == pytest.approx(result.mean()["ssim"], abs=1e-5)
