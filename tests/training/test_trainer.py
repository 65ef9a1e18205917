"""The trainer: steps on one device and two replicas, XLA, the GAN step, learning, checkpoints, controller."""
import itertools
import os
import unittest.mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.common import imaging
from srgan_tf.config import DataConfig
from srgan_tf.data import pipeline
from srgan_tf.evaluation import metrics
from srgan_tf.evaluation.image_pairs import find_benchmarks
from srgan_tf.evaluation.scoring import EvalConfig, evaluate_benchmark
from srgan_tf.evaluation.upscalers import load_upscaler
from srgan_tf.modeling import checkpointing, losses
from srgan_tf.modeling.checkpointing import CheckpointMismatchError
from srgan_tf.modeling.generator import build_generator
from srgan_tf.training import acceleration
from srgan_tf.training.actions import Evaluate
from srgan_tf.training.controller import TrainingController
from srgan_tf.training.distribute import WorkersDisagreeError
from srgan_tf.training.schedules import learning_rate_schedule
from tests.summaries import summary_tags
from tests.tiny_models import ESRGAN, FAST, MODEL, RRDB_GENERATOR, generator_of
from tests.training.tiny_trainers import DATA, batch, fast_trainer, make_trainer, repeated, run_steps


@pytest.fixture(scope="module")
def two_replicas():
    # One strategy per process, as in a real run: strategies made one after another in a process
    # restart their collective keys, and collectives may then meet stale state of an earlier one.
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture
def strategy(two_replicas):
    yield two_replicas
    keras.mixed_precision.set_global_policy("float32")


# ESRGAN's networks and losses with SRGAN's adversarial loss: RaGAN's cross-replica means rule out XLA on two.
VANILLA_ESRGAN = dict(ESRGAN, adversarial="vanilla")


def fixed_batches(strategy, seed=0):
    """One fixed global batch, repeated: the same data every step."""
    size = DATA["hr_patch_size"]
    hr = tf.random.stateless_uniform([DATA["batch_size"], size, size, 3], seed=[seed, 1])
    lr = tf.image.resize(hr, [size // 4, size // 4], "bicubic", antialias=True)

    def dataset_fn(context):
        per_replica = context.get_per_replica_batch_size(DATA["batch_size"])
        return tf.data.Dataset.from_tensor_slices((lr, hr)).batch(per_replica).repeat()

    return iter(strategy.distribute_datasets_from_function(dataset_fn))


# ------------------------------------------------------------------------------------- two replicas


def slow_if(is_slow: bool, *values):
    """A parametrized case, marked slow (left out by `make test-fast`) if `is_slow`."""
    return pytest.param(*values, marks=[pytest.mark.slow] if is_slow else [])


def assert_replicas_identical(trainer):
    """Every weight of every network (the moving average too, updated in cross-replica context; spectral
    normalisation's kernels and power-iteration vectors, updated in each replica's forward pass) is the same
    on both replicas."""
    networks = [trainer.generator] + [n for n in (trainer.ema_generator,) if n is not None]
    if trainer.config.phase == "gan":
        networks.append(trainer.task.discriminator)
    for variable in (w for network in networks for w in network.weights):
        first, second = (replica.numpy() for replica in variable.value.values)
        np.testing.assert_array_equal(first, second, err_msg=variable.path)


# Every generator in each phase, each discriminator and adversarial loss in the GAN phase (SRGAN's losses, and
# ESRGAN's with its discriminator), on one and two replicas, in each precision, tiny: every pair of these
# settings is in some case (the full product would take minutes), plus the cases that once failed or need a
# combination of their own (below).
MATRIX_GENERATORS = {"srresnet": {}, "srresnet-nobn": dict(generator_batch_norm=False),
                     "rrdb": dict(generator="rrdb", **RRDB_GENERATOR)}
ESRGAN_LOSSES = {name: ESRGAN[name] for name in ("discriminator", "vgg_layer", "content_loss_type",
                                                 "pixel_loss", "pixel_weight", "adversarial_weight")}
MATRIX_PHASES = {"pretrain": ("pretrain", {}), "gan-vgg": ("gan", dict(discriminator="vgg")),
                 "gan-esrgan": ("gan", ESRGAN_LOSSES), "gan-unet": ("gan", dict(discriminator="unet"))}
MATRIX_FACTORS = (tuple(MATRIX_GENERATORS), tuple(MATRIX_PHASES), ("vanilla", "relativistic"), (1, 2),
                  ("float32", "mixed_float16", "mixed_bfloat16"))


def all_pairs(candidates, start=()):
    """`start`, then more of `candidates` until every pair of settings of theirs appears in a case: greedily,
    each next case the one that covers the most pairs not yet covered (the first such)."""
    def pairs(case):
        """Pairs of (factor, value): the first phase has no adversarial loss, so its cases cover none."""
        settings = [(factor, value) for factor, value in enumerate(case)
                    if not (factor == 2 and case[1] == "pretrain")]
        return set(itertools.combinations(settings, 2))

    cases = list(start)
    uncovered = set().union(*map(pairs, candidates)).difference(*map(pairs, cases))
    while uncovered:
        best = max(candidates, key=lambda case: len(pairs(case) & uncovered))
        cases.append(best)
        uncovered -= pairs(best)
    return cases


# Each BatchNorm-free generator's first phase on two replicas, which once stopped at step 1; ESRGAN whole
# on two replicas in float16 (RaGAN's cross-replica means, the loss scale); the U-Net on two replicas in
# bfloat16, what `auto` picks on CPUs that have it (its spectral normalisation keeps float32 kernels). The
# pairs are built around these, so that they cover pairs too: 13 cases, 3 of them the costly kind (the GAN
# phase on two replicas).
ESRGAN_ON_TWO = ("rrdb", "gan-esrgan", "relativistic", 2, "mixed_float16")
UNET_ON_TWO = ("srresnet", "gan-unet", "vanilla", 2, "mixed_bfloat16")
NOBN_PRETRAIN_ON_TWO = ("srresnet-nobn", "pretrain", "vanilla", 2, "float32")
OWN_CASES = [NOBN_PRETRAIN_ON_TWO, ("rrdb", "pretrain", "vanilla", 2, "float32"), ESRGAN_ON_TWO, UNET_ON_TWO]
MATRIX = all_pairs([case for case in itertools.product(*MATRIX_FACTORS)
                    if case[1] != "pretrain" or case[2] == "vanilla"], start=OWN_CASES)
# These resume from their checkpoint and step again: a case on two replicas for each generator, among them
# ESRGAN's and the U-Net's (a second trainer traced on two replicas: 15 to 25 s more for the GAN phase).
RESUMED = {ESRGAN_ON_TWO, UNET_ON_TWO, NOBN_PRETRAIN_ON_TWO}


def _state(trainer):
    """Every variable a resumed run depends on, in a fixed order, with readable names."""
    variables = trainer.generator.weights + [v for optimizer in trainer.optimizers.values()
                                             for v in optimizer.variables]
    if trainer.ema_generator is not None:
        variables += trainer.ema_generator.weights
    if trainer.config.phase == "gan":
        variables += trainer.task.discriminator.weights
    return [(v.path, v.numpy()) for v in variables] + [("step", trainer.step.numpy())]


def assert_same_state(expected, actual):
    """Two `_state` lists, in the same order (names differ where Keras numbered a second trainer's variables),
    hold the same values."""
    for (name, value), (_, other_value) in zip(expected, actual, strict=True):
        np.testing.assert_array_equal(other_value, value, err_msg=name)


# Slow: the GAN phase's cases and the resumed ones (a second trainer traced); the others take 2 to 4 s each.
@pytest.mark.parametrize("case", [slow_if(case[1] != "pretrain" or case in RESUMED, case) for case in MATRIX],
                         ids=["-".join(map(str, case)) for case in MATRIX])
def test_every_network_steps_on_every_strategy_and_resumes(case, strategy, one_device, tmp_path):
    generator, phase_name, adversarial, replicas, precision = case
    phase, phase_settings = MATRIX_PHASES[phase_name]
    chosen = strategy if replicas == 2 else one_device
    model = dict(MODEL, **MATRIX_GENERATORS[generator], **phase_settings, adversarial=adversarial)
    trainer = make_trainer(chosen, tmp_path, phase, precision, model=model, ema_decay=0.5)
    trainer.restore_or_initialize()
    before = [w.numpy() for w in trainer.generator.trainable_weights]
    metrics = run_steps(trainer, fixed_batches(chosen), 1)
    assert int(trainer.step.numpy()) == 1 and bool(trainer.weights_finite())
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    changed = any(np.any(w.numpy() != b) for w, b in zip(trainer.generator.trainable_weights, before))
    if precision == "mixed_float16":
        # A float16 step whose scaled gradients overflow is skipped and the loss scale halved instead.
        assert changed != (trainer.scalars()["loss_scale/g"] < 32768)
    else:
        assert changed
    if phase == "gan":
        assert {"adversarial_loss", "pixel_loss", "d_loss", "d_accuracy_real", "d_accuracy_fake", "d_real_logit",
                "d_fake_logit"} <= set(metrics)
    if replicas == 2:
        assert_replicas_identical(trainer)
    if case in RESUMED:
        trainer.save_checkpoint()
        resumed = make_trainer(chosen, tmp_path, phase, precision, model=model, ema_decay=0.5)
        initial = _state(resumed)
        assert "resumed" in resumed.restore_or_initialize() and int(resumed.step.numpy()) == 1
        restored = _state(resumed)
        assert_same_state(_state(trainer), restored)
        # What came back is more than the weights, and the step had moved it: Adam's moments (or, for a
        # skipped float16 step, the loss scale) and spectral normalisation's power-iteration vectors.
        if precision == "mixed_float16":
            assert any("dynamic_scale" in name for name, _ in restored)
        moved = {name for (name, value), (_, first) in zip(restored, initial) if np.any(value != first)}
        assert any(("momentum" if changed else "dynamic_scale") in name for name in moved), sorted(moved)
        vectors = [name for name, _ in initial if name.endswith("vector_u")]
        assert len(vectors) == (8 if phase_name == "gan-unet" else 0) and set(vectors) <= moved
        # The next step (the same batch for both) moves the resumed networks exactly as the others.
        metrics = run_steps(resumed, fixed_batches(chosen, seed=1), 1)
        run_steps(trainer, fixed_batches(chosen, seed=1), 1)
        assert int(resumed.step.numpy()) == 2 and all(np.isfinite(v) for v in metrics.values()), metrics
        assert_same_state(_state(trainer), _state(resumed))


def test_the_matrix_covers_every_pair_of_settings():
    """Every pair of values of two factors, but the first phase's adversarial loss: it has none, so its cases
    cover no pair of an adversarial loss."""
    covered = {(i, case[i], j, case[j]) for case in MATRIX for i, j in itertools.combinations(range(5), 2)
               if not (2 in (i, j) and case[1] == "pretrain")}
    expected = {(i, a, j, b) for i, j in itertools.combinations(range(5), 2)
                for a in MATRIX_FACTORS[i] for b in MATRIX_FACTORS[j]
                if not ((i, j) == (1, 2) and a == "pretrain")}
    assert covered == expected and set(OWN_CASES) <= set(MATRIX) and len(set(MATRIX)) == len(MATRIX) <= 13
    assert RESUMED <= set(MATRIX) and {generator for generator, _, _, replicas, _ in RESUMED if replicas == 2} == set(
        MATRIX_GENERATORS)


def test_a_float16_overflow_on_one_replica_skips_the_step_on_every_replica(strategy, tmp_path):
    trainer = make_trainer(strategy, tmp_path, precision="mixed_float16")
    before = [w.numpy() for w in trainer.generator.weights]
    size, per_replica = DATA["hr_patch_size"], DATA["batch_size"] // 2
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
    return [trainer.generator] + ([trainer.task.discriminator] if trainer.config.phase == "gan" else [])


def _gradients(trainer):
    """Per network, Adam's first moments: after one step, (1 - beta1) times the (unscaled) gradients."""
    optimizers = [trainer.optimizers["g"]] + ([trainer.optimizers["d"]] if trainer.config.phase == "gan" else [])
    return [[v.numpy() for v in optimizer.variables if "momentum" in v.path] for optimizer in optimizers]


# Largest differences seen here (3 runs each), XLA against plain: weights 4.8e-5 in both cases, mostly in
# biases that feed BatchNorm, whose exact gradient is 0: Adam's first step, about lr * sign(gradient),
# turns rounding noise into steps of up to lr = 1e-4, and a gradient of rounding noise whose sign differs
# into a difference of up to 2 x lr (1.8e-4 was seen with ESRGAN's networks), so the weights are only
# checked to have moved by a step; the gradients, compared relative to the largest of their network, are
# what catches a real difference: 8.8e-5 (gan, the discriminator) and 4.3e-4 (float16); losses, relative,
# 5.3e-7 (3.7e-6 with ESRGAN's networks).
@pytest.mark.parametrize("phase,model,precision,gradients_rtol", [("gan", MODEL, "float32", 5e-4),
                                                                  ("gan", VANILLA_ESRGAN, "float32", 5e-4),
                                                                  ("pretrain", MODEL, "mixed_float16", 2e-3)],
                         ids=["gan", "esrgan_networks", "pretrain"])
@pytest.mark.slow
def test_xla_step_gives_the_weights_of_the_plain_step(strategy, tmp_path, phase, model, precision, gradients_rtol):
    plain = make_trainer(strategy, tmp_path / "plain", phase, precision, model=model)
    compiled = make_trainer(strategy, tmp_path / "xla", phase, precision, model=model, jit_compile="on")
    vgg = [(plain.task.vgg, compiled.task.vgg)] if phase == "gan" else []
    for source, target in list(zip(_networks(plain), _networks(compiled))) + vgg:
        target.set_weights(source.get_weights())
    before = [w.numpy() for network in _networks(plain) for w in network.weights]
    plain_losses = run_steps(plain, fixed_batches(strategy), 1)
    compiled_losses = run_steps(compiled, fixed_batches(strategy), 1)

    after = [(w.path, w.numpy()) for network in _networks(plain) for w in network.weights]
    compiled_after = [w.numpy() for network in _networks(compiled) for w in network.weights]
    step_size = plain.config.optimization.learning_rate
    for (name, value), initial, compiled_value in zip(after, before, compiled_after):
        assert np.any(value != initial) and np.any(compiled_value != initial), f"{name} did not move: a step skipped"
        np.testing.assert_allclose(compiled_value, value, rtol=0, atol=2 * step_size + 1e-6,
                                   err_msg=name)
    # Adam's first step hardly depends on the gradients' size, so the gradients are compared too.
    for network_gradients, compiled_gradients in zip(_gradients(plain), _gradients(compiled)):
        atol = gradients_rtol * max(np.max(np.abs(g)) for g in network_gradients)
        for gradient, compiled_gradient in zip(network_gradients, compiled_gradients):
            np.testing.assert_allclose(compiled_gradient, gradient, rtol=0, atol=atol)
    for name in (name for name in plain_losses if name.endswith("loss")):
        np.testing.assert_allclose(compiled_losses[name], plain_losses[name], rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("jit_compile", [pytest.param("auto", marks=pytest.mark.slow), "on"])  # "on": refused
def test_relativistic_gan_on_two_replicas_runs_without_xla(strategy, tmp_path, jit_compile):
    settings = dict(model=ESRGAN, precision="auto")
    if jit_compile == "on":
        with pytest.raises(ValueError, match="--jit_compile=on: --adversarial=relativistic all-reduces"):
            make_trainer(strategy, tmp_path, "gan", jit_compile="on", **settings)
        return
    with unittest.mock.patch.object(acceleration, "cpu_features", return_value=frozenset()):  # XLA auto: on
        trainer = make_trainer(strategy, tmp_path, "gan", jit_compile="auto", **settings)
    assert not trainer.acceleration.jit_compile
    assert "XLA off: --adversarial=relativistic all-reduces its batch means across the 2 replicas" in (
        trainer.acceleration.describe())
    assert np.isfinite(run_steps(trainer, fixed_batches(strategy), 1)["d_loss"])


def test_the_relativistic_mean_and_its_gradient_span_every_replica(strategy, tmp_path):
    """RaGAN compares each example with the mean of the global batch: two replicas compute the loss and the
    summed gradients of one device."""
    task = make_trainer(strategy, tmp_path, "gan", model=ESRGAN).task
    logits = tf.constant([[1.0], [-2.0], [0.5], [3.0]])  # the global batch of 4, two per replica

    def loss_and_gradient(local_logits):
        with tf.GradientTape() as tape:
            tape.watch(local_logits)
            # Each replica's share of a global-batch mean of softplus(x - mean(x)), as RaGAN's terms are.
            loss = tf.reduce_sum(tf.nn.softplus(local_logits - task._batch_mean(local_logits))) / 4
        return loss, tape.gradient(loss, local_logits)

    halves = strategy.experimental_distribute_values_from_function(
        lambda context: logits[2 * context.replica_id_in_sync_group:][:2])
    losses_per_replica, gradients = tf.function(lambda x: strategy.run(loss_and_gradient, args=(x,)))(halves)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        expected_loss = tf.reduce_mean(tf.nn.softplus(logits - tf.reduce_mean(logits)))
    expected_gradient = tape.gradient(expected_loss, logits)
    assert float(strategy.reduce("SUM", losses_per_replica, axis=None)) == pytest.approx(float(expected_loss))
    gradient = np.concatenate([g.numpy() for g in strategy.experimental_local_results(gradients)])
    # The mean's share of the gradient is not zero: a per-replica mean would give other values.
    assert np.abs(expected_gradient - tf.sigmoid(logits - 0.625) / 4).max() > 0.05
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_warm_start_loads_the_generator_only(strategy, tmp_path):
    pretrain = make_trainer(strategy, tmp_path / "pre")
    checkpointing.write_model_config(str(tmp_path / "pre"), generator_of(MODEL))
    run_steps(pretrain, fixed_batches(strategy), 2)
    pretrain.save_checkpoint()

    gan = make_trainer(strategy, tmp_path / "gan", "gan", init_checkpoint=str(tmp_path / "pre"))
    assert "warm-started" in gan.restore_or_initialize()
    for ours, theirs in zip(gan.generator.weights, pretrain.generator.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert int(gan.step.numpy()) == 0
    assert int(gan.optimizers["g"].iterations.numpy()) == 0
    assert all(not np.any(v.numpy()) for v in gan.optimizers["g"].variables if "momentum" in v.path)


def test_warm_start_from_other_networks_is_refused(strategy, tmp_path):
    other = {**MODEL, "num_filters": 16}
    pretrain = make_trainer(strategy, tmp_path / "pre", model=other)
    checkpointing.write_model_config(str(tmp_path / "pre"), generator_of(other))
    pretrain.save_checkpoint()

    gan = make_trainer(strategy, tmp_path / "gan", "gan", init_checkpoint=str(tmp_path / "pre"))
    with pytest.raises(CheckpointMismatchError, match=r"--init_checkpoint=.* has num_filters=16, this run 8"):
        gan.restore_or_initialize()


def test_warm_start_from_a_dir_without_checkpoint_is_refused(strategy, tmp_path):
    checkpointing.write_model_config(str(tmp_path / "pre"), generator_of(MODEL))
    gan = make_trainer(strategy, tmp_path / "gan", "gan", init_checkpoint=str(tmp_path / "pre"))
    with pytest.raises(FileNotFoundError, match="--init_checkpoint: .* holds no checkpoint"):
        gan.restore_or_initialize()


def test_resuming_a_pretrain_dir_as_gan_is_refused(strategy, tmp_path):
    pretrain = make_trainer(strategy, tmp_path)
    pretrain.save_checkpoint()
    gan = make_trainer(strategy, tmp_path, "gan")
    with pytest.raises(CheckpointMismatchError, match="does not match this run's phase"):
        gan.restore_or_initialize()


@pytest.mark.slow
def test_controller_logs_evaluates_and_checkpoints(strategy, tmp_path, tiny_records):
    data_config = DataConfig(train_records=tiny_records["train"], val_records=tiny_records["val"],
                             hr_patch_size=16, batch_size=4)
    model_dir = tmp_path / "gan"
    trainer = make_trainer(strategy, model_dir, "gan", train_steps=4, steps_per_loop=2, log_every=2,
                           eval_every=4, checkpoint_every=4, num_eval_images=2)
    train_data = strategy.distribute_datasets_from_function(pipeline.train_dataset_fn(data_config, 4, seed=0))
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


# -------------------------------------------------------------------------------------- one device


def test_a_tiny_generator_overfits_one_image_beyond_bicubic(one_device, tmp_path, make_image):
    """Two hundred steps on one small photo: the network must beat interpolation on that photo."""
    image = imaging.to_float(make_image(32, 32, seed=5))[None]
    lr = imaging.quantize(imaging.bicubic_downscale(image, 4))
    trainer = fast_trainer(one_device, tmp_path, pixel_loss="l1", learning_rate=1e-3,
                           data=dict(hr_patch_size=32, batch_size=1, scale=4), model=dict(FAST, hr_patch_size=32))
    run_steps(trainer, repeated(one_device, lr, image), 200)
    sr = imaging.quantize(trainer.eval_generator(lr, training=False))
    bicubic = imaging.quantize(imaging.bicubic_upscale(lr, 4))
    gain = float(metrics.psnr(image, sr, 4)[0] - metrics.psnr(image, bicubic, 4)[0])
    assert gain > 1.0, f"only {gain:.2f} dB over bicubic"


@pytest.mark.parametrize("schedule", [{}, {"warmup_steps": 1, "lr_schedule": "cosine"}])
def test_resuming_with_another_learning_rate_applies_it(one_device, tmp_path, schedule):
    """A constant rate is an optimizer variable that the checkpoint holds; a schedule is not."""
    first = fast_trainer(one_device, tmp_path, learning_rate=1e-3, **schedule)
    run_steps(first, repeated(one_device, *batch()), 2)
    first.save_checkpoint()
    resumed = fast_trainer(one_device, tmp_path, learning_rate=2e-4, **schedule)
    assert resumed.resumed and int(resumed.step.numpy()) == 2
    expected = 2e-4 if not schedule else float(learning_rate_schedule(resumed.config.optimization)(2))
    assert resumed.scalars()["learning_rate/g"] == pytest.approx(expected)
    assert expected < 5e-4


def test_resuming_with_other_optimizer_state_is_refused_by_name(one_device, tmp_path):
    first = fast_trainer(one_device, tmp_path)
    first.save_checkpoint()
    with pytest.raises(CheckpointMismatchError, match="--ema_decay .* learning-rate schedule"):
        fast_trainer(one_device, tmp_path, ema_decay=0.9)
    with pytest.raises(CheckpointMismatchError, match="--ema_decay .* learning-rate schedule"):
        fast_trainer(one_device, tmp_path, warmup_steps=5)


def test_moving_average_follows_the_weights_and_is_what_checkpoints_give_to_tools(one_device, tmp_path):
    trainer = fast_trainer(one_device, tmp_path, ema_decay=0.5, learning_rate=1e-2)
    iterator = repeated(one_device, *batch())
    expected = trainer.generator.get_weights()
    np.testing.assert_array_equal(trainer.ema_generator.get_weights()[0], expected[0])
    for _ in range(3):
        run_steps(trainer, iterator, 1)
        expected = [0.5 * e + 0.5 * w for e, w in zip(expected, trainer.generator.get_weights())]
    for average, value in zip(trainer.ema_generator.get_weights(), expected):
        np.testing.assert_allclose(average, value, rtol=1e-5, atol=1e-7)
    assert trainer.eval_generator is trainer.ema_generator
    assert not np.allclose(expected[-2], trainer.generator.get_weights()[-2])  # the two really differ
    trainer.save_checkpoint()
    checkpointing.write_model_config(str(tmp_path), generator_of(FAST))

    resumed = fast_trainer(one_device, tmp_path, ema_decay=0.5, learning_rate=1e-2)
    for ours, theirs in zip(resumed.ema_generator.get_weights(), trainer.ema_generator.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    loaded, _, step = checkpointing.load_generator(str(tmp_path))
    assert step == 3
    for ours, theirs in zip(loaded.get_weights(), trainer.ema_generator.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


# ----------------------------------------------------------------------------------- the GAN phase


def gradients(trainer, lr, hr):
    """The per-replica gradients (generator, discriminator) and metrics of one GAN step, applying nothing."""
    (g_grads, d_grads), step_metrics = trainer.strategy.run(trainer._gradients, args=(lr, hr))
    return [g.numpy() for g in g_grads], [d.numpy() for d in d_grads], step_metrics


def gan_trainer(strategy, model_dir, generator_weights, **overrides):
    trainer = fast_trainer(strategy, model_dir, phase="gan", content_loss="pixel", pixel_loss="mse",
                           **overrides)
    trainer.generator.set_weights(generator_weights)
    return trainer


@pytest.mark.slow
def test_without_adversarial_weight_a_gan_step_moves_the_generator_as_pretraining_does(one_device, tmp_path):
    """The discriminator's update runs in the GAN step but must not reach the generator."""
    pretrain = fast_trainer(one_device, tmp_path / "pre", pixel_loss="mse")
    gan = gan_trainer(one_device, tmp_path / "gan", pretrain.generator.get_weights(), adversarial_weight=0.0)
    d_before = gan.task.discriminator.get_weights()
    lr, hr = batch()
    run_steps(pretrain, repeated(one_device, lr, hr), 1)
    run_steps(gan, repeated(one_device, lr, hr), 1)
    for ours, theirs in zip(gan.generator.get_weights(), pretrain.generator.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert any(np.any(a != b) for a, b in zip(gan.task.discriminator.get_weights(), d_before))


def flat(tensors) -> np.ndarray:
    return np.concatenate([np.ravel(t) for t in tensors])


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


@pytest.mark.slow
def test_the_adversarial_gradient_has_the_weight_and_sign_of_the_loss(one_device, tmp_path):
    """g(w) = g_content + w * grad(-log D(G(lr))): linear in w, and pointing where the adversarial loss grows."""
    weights = build_generator(generator_of(FAST)).get_weights()
    trainers = {w: gan_trainer(one_device, tmp_path / str(w), weights, adversarial_weight=w)
                for w in (0.0, 0.5, 1.0)}
    d_weights = trainers[0.0].task.discriminator.get_weights()
    for trainer in trainers.values():
        trainer.task.discriminator.set_weights(d_weights)
    lr, hr = batch()
    grads = {w: gradients(trainer, lr, hr)[0] for w, trainer in trainers.items()}

    reference = trainers[0.0]
    variables = reference.generator.trainable_variables
    with tf.GradientTape() as tape:
        real_logits = reference.task.discriminator(hr, training=True)
        fake_logits = reference.task.discriminator(reference.generator(lr, training=True), training=True)
        adversarial = tf.reduce_mean(losses.vanilla_gan(real_logits, fake_logits).generator)
    expected = flat(tape.gradient(adversarial, variables))
    g0, g_half, g1 = (flat(grads[w]) for w in (0.0, 0.5, 1.0))
    assert np.linalg.norm(expected) > 1e-3  # the check is not vacuous
    # Relative errors of whole gradient vectors: differences of float32 gradients lose a few digits.
    assert relative_error(g1 - g0, expected) < 1e-3
    assert relative_error(g1 - g0, 2 * (g_half - g0)) < 1e-3


def test_the_vgg_content_loss_compares_features_of_sr_and_hr(one_device, tmp_path):
    trainer = fast_trainer(one_device, tmp_path, phase="gan", content_loss="vgg", vgg_feature_scale=0.5)
    lr, hr = batch()
    _, _, step_metrics = gradients(trainer, lr, hr)
    sr = trainer.generator(lr, training=True)
    expected = tf.reduce_mean(losses.feature_loss(trainer.task.vgg(hr), trainer.task.vgg(sr), 0.5))
    assert float(step_metrics["content_loss"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(step_metrics["content_loss"]) != pytest.approx(float(step_metrics["pixel_mse"]), rel=1e-2)


# Real-ESRGAN's perceptual loss: L1 of features before the ReLU of five layers, weighted.
REAL_ESRGAN_LAYERS = (("vgg12_before_relu", 0.1), ("vgg22_before_relu", 0.1), ("vgg34_before_relu", 1.0),
                      ("vgg44_before_relu", 1.0), ("vgg54_before_relu", 1.0))


@pytest.mark.slow
def test_a_gan_step_learns_the_weighted_features_of_several_vgg_layers(one_device, tmp_path):
    """On 32-pixel patches, so that block 5 still has 2x2 features; --vgg_layer back to its default, as the
    weights replace it."""
    trainer = fast_trainer(one_device, tmp_path, phase="gan", data=dict(hr_patch_size=32, batch_size=2, scale=4),
                           model=dict(FAST, hr_patch_size=32, vgg_layer="vgg54"), content_loss_type="l1",
                           vgg_feature_scale=0.5,
                           vgg_layer_weights=",".join(f"{layer}:{weight}" for layer, weight in REAL_ESRGAN_LAYERS))
    lr, hr = batch(size=32, count=2)
    _, _, step_metrics = gradients(trainer, lr, hr)
    sr = trainer.generator(lr, training=True)
    hr_features, sr_features = trainer.task.vgg(hr), trainer.task.vgg(sr)
    assert [f.shape[1] for f in hr_features] == [32, 16, 8, 4, 2]
    expected = sum(weight * tf.reduce_mean(losses.feature_loss(h, s, 0.5, "l1"))
                   for (_, weight), h, s in zip(REAL_ESRGAN_LAYERS, hr_features, sr_features))
    assert float(step_metrics["content_loss"]) == pytest.approx(float(expected), rel=1e-5)

    before = trainer.generator.get_weights()
    step = run_steps(trainer, repeated(one_device, lr, hr), 1)
    assert all(np.isfinite(value) for value in step.values()), step
    assert any(np.any(w != b) for w, b in zip(trainer.generator.get_weights(), before))


# ------------------------------------------------------------------------- train and evaluate agree


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_in_training_psnr_equals_what_the_evaluate_command_reports(one_device, tmp_path, tiny_records, precision):
    trainer = fast_trainer(one_device, tmp_path, ema_decay=0.5, learning_rate=1e-2, precision=precision)
    keras.mixed_precision.set_global_policy("float32")
    # Made before training, as the controller makes it: it must measure the weights of each evaluation's step
    # (under mixed precision through a float32 copy of them).
    evaluate = Evaluate(trainer, pipeline.eval_dataset(tiny_records["val"], 4))
    run_steps(trainer, repeated(one_device, *batch()), 3)
    during_training, _ = evaluate.measure()

    trainer.save_checkpoint()
    checkpointing.write_model_config(str(tmp_path), generator_of(FAST))

    val_images = os.path.join(os.path.dirname(os.path.dirname(tiny_records["val"])), "val_images")
    (benchmark,) = find_benchmarks([val_images], [], 4)
    # What `python -m srgan_tf.evaluate --model=<model_dir>` runs: the checkpoint's generator, on image files.
    result = evaluate_benchmark(load_upscaler(str(tmp_path), 4), benchmark, EvalConfig(scale=4))
    assert len(result.images) == 2
    assert during_training["eval/psnr_y"] == pytest.approx(result.mean()["psnr"], abs=1e-4)
    assert during_training["eval/ssim_y"] == pytest.approx(result.mean()["ssim"], abs=1e-5)
