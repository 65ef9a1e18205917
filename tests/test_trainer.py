import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.data import pipeline
from srgan_tf.training import checkpointing, distribute
from srgan_tf.config import DataConfig, ModelConfig, TrainConfig
from srgan_tf.training.trainer import (CheckpointMismatchError, Trainer, TrainingController,
                                       WorkersDisagreeError)
from tests.summaries import summary_tags

DATA = DataConfig(hr_patch_size=16, batch_size=4, scale=4)
MODEL = ModelConfig(num_residual_blocks=1, num_filters=8, hr_patch_size=16, discriminator_filters=4,
                    vgg_layer="vgg22", vgg_weights="none")


@pytest.fixture(scope="module")
def two_replicas():
    # One strategy per process, as in a real run: strategies made one after another in a process
    # restart their collective keys, and collectives may then meet stale state of an earlier one.
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture
def strategy(two_replicas):
    yield two_replicas
    keras.mixed_precision.set_global_policy("float32")


def make_trainer(strategy, model_dir, phase="pretrain", precision="float32", model=MODEL, **overrides):
    distribute.set_precision(precision)
    config = TrainConfig(**{"model_dir": str(model_dir), "phase": phase, "jit_compile": False, "seed": 1,
                            **overrides})
    return Trainer(strategy, DATA, model, config, precision=precision)


def fixed_batches(strategy, seed=0):
    """One fixed global batch, repeated: the same data every step."""
    size = DATA.hr_patch_size
    hr = tf.random.stateless_uniform([DATA.batch_size, size, size, 3], seed=[seed, 1])
    lr = tf.image.resize(hr, [size // 4, size // 4], "bicubic", antialias=True)

    def dataset_fn(context):
        per_replica = context.get_per_replica_batch_size(DATA.batch_size)
        return tf.data.Dataset.from_tensor_slices((lr, hr)).batch(per_replica).repeat()

    return iter(strategy.distribute_datasets_from_function(dataset_fn))


def run_steps(trainer, iterator, steps):
    return {k: float(v) for k, v in trainer.train_loop(iterator, tf.constant(steps, tf.int64)).items()}


@pytest.mark.parametrize("precision", ["float32", "mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("phase", ["pretrain", "gan"])
def test_a_step_on_two_replicas_gives_finite_losses_and_identical_replicas(strategy, tmp_path, phase, precision):
    trainer = make_trainer(strategy, tmp_path, phase, precision, ema_decay=0.5)
    trainer.restore_or_initialize()
    before = [w.numpy() for w in trainer.generator.trainable_weights]
    metrics = run_steps(trainer, fixed_batches(strategy), 1)
    assert int(trainer.step.numpy()) == 1
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    changed = any(np.any(w.numpy() != b) for w, b in zip(trainer.generator.trainable_weights, before))
    if precision == "mixed_float16":
        # A float16 step whose scaled gradients overflow is skipped and the loss scale halved instead.
        assert changed != (trainer.scalars()["loss_scale/g"] < 32768)
    else:
        assert changed
    networks = [trainer.generator, trainer.ema_generator]  # the average is updated in cross-replica context
    if phase == "gan":
        assert {"adversarial_loss", "d_loss", "d_accuracy_real", "d_accuracy_fake"} <= set(metrics)
        networks.append(trainer.discriminator)
    for variable in (w for network in networks for w in network.weights):
        first, second = (replica.numpy() for replica in variable.value.values)
        np.testing.assert_array_equal(first, second, err_msg=variable.path)


def test_a_float16_overflow_on_one_replica_skips_the_step_on_every_replica(strategy, tmp_path):
    trainer = make_trainer(strategy, tmp_path, precision="mixed_float16")
    before = [w.numpy() for w in trainer.generator.weights]
    size, per_replica = DATA.hr_patch_size, DATA.batch_size // 2
    hr = tf.random.stateless_uniform([per_replica, size, size, 3], seed=[0, 1])
    lr = tf.image.resize(hr, [size // 4, size // 4], "bicubic", antialias=True)
    # Replicas take consecutive elements: one replica gets the finite batch, the other the NaN one.
    batches = tf.data.Dataset.from_tensor_slices(([lr, lr + float("nan")], [hr, hr])).repeat()
    run_steps(trainer, iter(strategy.distribute_datasets_from_function(lambda context: batches)), 1)

    assert trainer.scalars()["reliability/skipped_steps/g"] == 1
    assert trainer.scalars()["loss_scale/g"] == 32768 / 2
    for weight, value in zip(trainer.generator.weights, before):  # BatchNorm statistics included
        for replica in weight.value.values:
            np.testing.assert_array_equal(replica.numpy(), value, err_msg=weight.path)


def test_pixel_loss_decreases_on_a_fixed_batch(strategy, tmp_path):
    trainer = make_trainer(strategy, tmp_path, learning_rate=1e-3)
    iterator = fixed_batches(strategy)
    first = run_steps(trainer, iterator, 1)["g_loss"]
    run_steps(trainer, iterator, 30)
    last = run_steps(trainer, iterator, 1)["g_loss"]
    assert last < 0.8 * first, (first, last)


def _networks(trainer):
    return [trainer.generator] + ([trainer.discriminator] if trainer.is_gan else [])


def _gradients(trainer):
    """Per network, Adam's first moments: after one step, (1 - beta1) times the (unscaled) gradients."""
    optimizers = [trainer.g_optimizer] + ([trainer.d_optimizer] if trainer.is_gan else [])
    return [[v.numpy() for v in optimizer.variables if "momentum" in v.path] for optimizer in optimizers]


# Largest differences seen here (3 runs each), XLA against plain: weights 4.8e-5 in both cases, mostly in
# biases that feed BatchNorm, whose exact gradient is 0: Adam's first step, about lr * sign(gradient),
# turns rounding noise into steps of up to lr = 1e-4 (so 1.5e-4 still catches a gradient of the wrong
# sign); gradients, relative to the largest of their network, 8.8e-5 (gan, the discriminator) and 4.3e-4
# (float16); losses, relative, 5.3e-7.
@pytest.mark.parametrize("phase,precision,gradients_rtol", [("gan", "float32", 5e-4),
                                                            ("pretrain", "mixed_float16", 2e-3)])
def test_xla_step_gives_the_weights_of_the_plain_step(strategy, tmp_path, phase, precision, gradients_rtol):
    plain = make_trainer(strategy, tmp_path / "plain", phase, precision)
    compiled = make_trainer(strategy, tmp_path / "xla", phase, precision, jit_compile=True)
    vgg = [(plain.vgg, compiled.vgg)] if plain.is_gan else []
    for source, target in list(zip(_networks(plain), _networks(compiled))) + vgg:
        target.set_weights(source.get_weights())
    before = [w.numpy() for network in _networks(plain) for w in network.weights]
    plain_losses = run_steps(plain, fixed_batches(strategy), 1)
    compiled_losses = run_steps(compiled, fixed_batches(strategy), 1)

    after = [(w.path, w.numpy()) for network in _networks(plain) for w in network.weights]
    compiled_after = [w.numpy() for network in _networks(compiled) for w in network.weights]
    for (name, value), initial, compiled_value in zip(after, before, compiled_after):
        assert np.any(value != initial), f"{name} did not move: the step was skipped"
        np.testing.assert_allclose(compiled_value, value, rtol=0, atol=1.5e-4, err_msg=name)
    # Adam's first step hardly depends on the gradients' size, so the gradients are compared too.
    for network_gradients, compiled_gradients in zip(_gradients(plain), _gradients(compiled)):
        atol = gradients_rtol * max(np.max(np.abs(g)) for g in network_gradients)
        for gradient, compiled_gradient in zip(network_gradients, compiled_gradients):
            np.testing.assert_allclose(compiled_gradient, gradient, rtol=0, atol=atol)
    for name in (name for name in plain_losses if name.endswith("loss")):
        np.testing.assert_allclose(compiled_losses[name], plain_losses[name], rtol=2e-6, err_msg=name)


def _state(trainer):
    """Every variable a resumed run depends on, in a fixed order, with readable names."""
    variables = (trainer.generator.weights + trainer.discriminator.weights + trainer.g_optimizer.variables
                 + trainer.d_optimizer.variables)
    return [(v.path, v.numpy()) for v in variables] + [("step", trainer.step.numpy())]


def test_checkpoint_round_trip_restores_everything_exactly(strategy, tmp_path):
    trainer = make_trainer(strategy, tmp_path, "gan", "mixed_float16")
    run_steps(trainer, fixed_batches(strategy), 3)
    trainer.save_checkpoint()
    saved = _state(trainer)

    restored = make_trainer(strategy, tmp_path, "gan", "mixed_float16")
    assert "resumed" in restored.restore_or_initialize()
    after = _state(restored)
    assert len(after) == len(saved)
    for (name, value), (_, restored_value) in zip(saved, after):
        np.testing.assert_array_equal(restored_value, value, err_msg=name)
    assert int(restored.step.numpy()) == 3
    # The Adam slots and the loss scale are among what came back, and they are not trivial.
    names = [name for name, _ in saved]
    assert any("dynamic_scale" in n for n in names) and any("momentum" in n for n in names)
    assert any(np.any(v != 0) for n, v in saved if "momentum" in n)


def test_warm_start_loads_the_generator_only(strategy, tmp_path):
    pretrain = make_trainer(strategy, tmp_path / "pre")
    checkpointing.write_model_config(str(tmp_path / "pre"), MODEL)
    run_steps(pretrain, fixed_batches(strategy), 2)
    pretrain.save_checkpoint()

    gan = make_trainer(strategy, tmp_path / "gan", "gan", init_checkpoint=str(tmp_path / "pre"))
    assert "warm-started" in gan.restore_or_initialize()
    for ours, theirs in zip(gan.generator.weights, pretrain.generator.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert int(gan.step.numpy()) == 0
    assert int(gan.g_optimizer.iterations.numpy()) == 0
    assert all(not np.any(v.numpy()) for v in gan.g_optimizer.variables if "momentum" in v.path)


def test_warm_start_from_other_networks_is_refused(strategy, tmp_path):
    other = ModelConfig(**{**MODEL.__dict__, "num_filters": 16})
    pretrain = make_trainer(strategy, tmp_path / "pre", model=other)
    checkpointing.write_model_config(str(tmp_path / "pre"), other)
    pretrain.save_checkpoint()

    gan = make_trainer(strategy, tmp_path / "gan", "gan", init_checkpoint=str(tmp_path / "pre"))
    with pytest.raises(CheckpointMismatchError, match=r"--init_checkpoint=.* has num_filters=16, this run 8"):
        gan.restore_or_initialize()


def test_warm_start_from_a_dir_without_checkpoint_is_refused(strategy, tmp_path):
    checkpointing.write_model_config(str(tmp_path / "pre"), MODEL)
    gan = make_trainer(strategy, tmp_path / "gan", "gan", init_checkpoint=str(tmp_path / "pre"))
    with pytest.raises(FileNotFoundError, match="--init_checkpoint: .* holds no checkpoint"):
        gan.restore_or_initialize()


def test_resuming_a_pretrain_dir_as_gan_is_refused(strategy, tmp_path):
    pretrain = make_trainer(strategy, tmp_path)
    pretrain.save_checkpoint()
    gan = make_trainer(strategy, tmp_path, "gan")
    with pytest.raises(CheckpointMismatchError, match="does not match this run's phase"):
        gan.restore_or_initialize()


def test_controller_logs_evaluates_and_checkpoints(strategy, tmp_path, tiny_records):
    data_config = DataConfig(train_records=tiny_records["train"], val_records=tiny_records["val"],
                             hr_patch_size=16, batch_size=4, scale=4, seed=0)
    model_dir = tmp_path / "gan"
    trainer = make_trainer(strategy, model_dir, "gan", train_steps=4, steps_per_loop=2, log_every=2,
                           eval_every=4, checkpoint_every=4, num_eval_images=2)
    train_data = strategy.distribute_datasets_from_function(pipeline.train_dataset_fn(data_config))
    eval_data = pipeline.eval_dataset(data_config.val_records, 4, max_images=2)
    TrainingController(trainer, train_data, eval_data).run()

    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-4")
    assert {"g_loss", "content_loss", "adversarial_loss", "d_loss", "d_accuracy_real", "d_accuracy_fake",
            "learning_rate/g", "learning_rate/d", "perf/step_time_s", "perf/hr_patches_per_s"} <= summary_tags(
        model_dir / "train")
    assert {"eval/psnr_y", "eval/ssim_y", "eval/nearest|bicubic|sr|hr"} <= summary_tags(model_dir / "eval")


def test_replicas_holding_different_steps_refuse_to_train(strategy, tmp_path):
    trainer = make_trainer(strategy, tmp_path)
    trainer.step.values[1].assign(5)  # as a worker would that read another --model_dir than its peers
    with pytest.raises(WorkersDisagreeError, match="different steps .* must be storage every worker reads"):
        trainer.restore_or_initialize()
