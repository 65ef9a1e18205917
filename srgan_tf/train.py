"""Trains SRResNet (`--phase=pretrain`) or SRGAN (`--phase=gan`): `python -m srgan_tf.train --flagfile=...`.

The only module that defines training flags: it checks them, turns them into frozen configs and hands
those to the library.
"""
from __future__ import annotations

import sys

from srgan_tf.common import commands

commands.quiet_tensorflow()  # before anything imports TensorFlow

from absl import app, flags, logging  # noqa: E402

from srgan_tf import SUPPORTED_SCALES  # noqa: E402
from srgan_tf.config import (CONTENT_LOSSES, LR_SCHEDULES, PHASES, PIXEL_LOSSES, PRECISIONS,  # noqa: E402
                             STRATEGIES, VGG_LAYERS)

FLAGS = flags.FLAGS

# Data.
flags.DEFINE_string("train_records", None, "Glob(s) of training TFRecord shards, comma-separated.")
flags.DEFINE_string("val_records", "", "Glob(s) of validation shards; empty: no evaluation during training.")
flags.DEFINE_integer("scale", 4, f"Upscaling factor, one of {list(SUPPORTED_SCALES)}.")
flags.DEFINE_integer("hr_patch_size", 96, "Side of the HR training crops; a multiple of --scale.")
flags.DEFINE_integer("batch_size", 16, "Global batch size, split over all replicas.")
flags.DEFINE_integer("crops_per_image", 1, "Random crops taken from each decoded image.")
flags.DEFINE_integer("shuffle_buffer", 512, "Examples in the shuffle buffer.")
flags.DEFINE_bool("skip_corrupt_records", False,
                  "Train on the records before the damage in a truncated or corrupt shard and skip the rest, "
                  "with a warning; by default a corrupt shard stops the run before training, named.")
flags.DEFINE_string("data_service", "",
                    "tf.data service dispatcher (grpc://host:port) whose workers run the input pipeline, for "
                    "input-bound training. The pipeline is then unseeded (a seeded one would make the same "
                    "batches on every tf.data worker): --seed seeds the networks only.")
flags.DEFINE_bool("quantize_lr", True, "Round training LR patches to 8 bits, as LR images read from files (and "
                                       "evaluation's) are.")
# Networks.
flags.DEFINE_integer("num_residual_blocks", 16, "Residual blocks in the generator.")
flags.DEFINE_integer("num_filters", 64, "Filters in the generator's body.")
flags.DEFINE_bool("generator_batch_norm", True,
                  "BatchNorm in the generator (SRResNet); --nogenerator_batch_norm: none, as in EDSR, whose "
                  "blocks train faster and need no batch statistics.")
flags.DEFINE_float("residual_scaling", 1.0, "Residual branches are multiplied by this (EDSR: 0.1 for wide "
                                            "networks).")
flags.DEFINE_bool("bicubic_residual", False,
                  "The generator adds its output to a bicubic upsample of its input (VDSR), so it learns only "
                  "the detail bicubic misses and starts at bicubic quality.")
flags.DEFINE_integer("discriminator_filters", 64, "Filters in the discriminator's first layer.")
flags.DEFINE_enum("vgg_layer", "vgg54", sorted(VGG_LAYERS), "VGG19 features for the content loss.")
flags.DEFINE_string("vgg_weights", "imagenet",
                    "'imagenet' (downloaded by Keras), 'none' (random, seeded) or a path to a weights file.")
# Phase and optimisation.
flags.DEFINE_enum("phase", "pretrain", PHASES, "pretrain: SRResNet with pixel MSE; gan: SRGAN.")
flags.DEFINE_string("model_dir", None, "Where checkpoints, summaries and model_config.json go.")
flags.DEFINE_string("init_checkpoint", "", "Generator weights to start from (a pretrain model dir or checkpoint).")
flags.DEFINE_integer("train_steps", 1_000_000, "Total steps of this phase.")
flags.DEFINE_integer("steps_per_loop", 100, "Steps run inside one tf.function call.")
flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate (the peak, after any warm-up).")
flags.DEFINE_enum("lr_schedule", "step", LR_SCHEDULES,
                  "step: --learning_rate, then --lr_after_decay from --lr_decay_step on; cosine: from "
                  "--learning_rate down to --lr_after_decay at --train_steps.")
flags.DEFINE_integer("lr_decay_step", 0, "Step at which the step schedule drops to --lr_after_decay; 0: never.")
flags.DEFINE_float("lr_after_decay", 1e-5, "Learning rate after --lr_decay_step (step), or at the end (cosine).")
flags.DEFINE_integer("warmup_steps", 0, "Steps of linear warm-up to --learning_rate (step i: (i + 1) / warmup "
                                        "of it).")
flags.DEFINE_float("beta1", 0.9, "Adam beta_1.")
flags.DEFINE_enum("pixel_loss", "mse", PIXEL_LOSSES,
                  "Pixel loss of pretraining, and of the GAN phase with --content_loss=pixel.")
flags.DEFINE_enum("content_loss", "vgg", CONTENT_LOSSES,
                  "GAN phase content loss: VGG19 features, or --pixel_loss on pixels (SRGAN-MSE).")
flags.DEFINE_float("ema_decay", 0.0,
                   "Keep an exponential moving average of the generator's weights with this decay (e.g. "
                   "0.999), checkpointed, and evaluate and export it; 0: off.")
flags.DEFINE_float("vgg_feature_scale", 1.0 / 12.75, "VGG features are multiplied by this before the MSE.")
flags.DEFINE_float("adversarial_weight", 1e-3, "Weight of the adversarial loss in the generator's loss.")
# Bookkeeping.
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.")
flags.DEFINE_integer("keep_checkpoints", 5, "Checkpoints kept.")
flags.DEFINE_integer("log_every", 100, "Steps between console lines and TensorBoard scalars.")
flags.DEFINE_integer("eval_every", 5000, "Steps between validation PSNR/SSIM and image grids.")
flags.DEFINE_integer("num_eval_images", 4, "Validation images evaluated (and shown) each time.")
flags.DEFINE_string("export_dir", "", "If set, the chief exports a SavedModel version here at the end.")
# Hardware.
flags.DEFINE_enum("strategy", "auto", STRATEGIES, "Distribution strategy.")
flags.DEFINE_integer("cpu_replicas", 1, "Split the CPU into this many logical devices (for testing).")
flags.DEFINE_enum("precision", "auto", PRECISIONS, "Numeric policy; auto: mixed_float16 on GPU, else float32.")
flags.DEFINE_bool("jit_compile", True, "XLA-compile the per-replica forward/backward computation.")
flags.DEFINE_integer("seed", None, "Seed for weights and data order; unset: nondeterministic.")
# Reliability (RELIABILITY.md).
flags.DEFINE_bool("deterministic", False,
                  "Deterministic ops, and the input position saved in checkpoints: an interrupted and "
                  "resumed run ends with exactly the weights of an uninterrupted one. Needs --seed; one host "
                  "only.")
flags.DEFINE_integer("nan_patience", 2,
                     "Log intervals the losses may stay non-finite (or above --max_loss) before training rolls "
                     "back to the last good checkpoint. Non-finite weights roll back at once.")
flags.DEFINE_integer("max_recoveries", 3, "Roll-backs after which a diverging run stops with an error.")
flags.DEFINE_float("max_loss", float("inf"), "A loss above this counts as diverged, like a non-finite one.")

flags.mark_flags_as_required(["train_records", "model_dir"])
flags.register_validator("scale", lambda v: v in SUPPORTED_SCALES,
                         message=f"--scale must be one of {list(SUPPORTED_SCALES)}.")
flags.register_multi_flags_validator(
    ["hr_patch_size", "scale"], lambda f: f["hr_patch_size"] > 0 and f["hr_patch_size"] % f["scale"] == 0,
    message="--hr_patch_size must be a positive multiple of --scale.")
flags.register_validator("batch_size", lambda v: v > 0, message="--batch_size must be positive.")
flags.register_validator("cpu_replicas", lambda v: v >= 1, message="--cpu_replicas must be at least 1.")
flags.register_validator("max_recoveries", lambda v: v >= 0, message="--max_recoveries must be >= 0.")
flags.register_validator("max_loss", lambda v: v > 0, message="--max_loss must be positive.")
flags.register_multi_flags_validator(["deterministic", "seed"],
                                     lambda f: not f["deterministic"] or f["seed"] is not None,
                                     message="--deterministic needs --seed.")
for _name in ("train_steps", "steps_per_loop", "checkpoint_every", "keep_checkpoints", "log_every",
              "eval_every", "nan_patience"):
    flags.register_validator(_name, lambda v: v > 0, message=f"--{_name} must be positive.")


def configs_from_flags(flag_values=FLAGS):
    """The three frozen configs a training run needs, built from parsed flags."""
    from srgan_tf.config import DataConfig, ModelConfig, TrainConfig

    f = flag_values
    data_config = DataConfig(
        train_records=f.train_records, val_records=f.val_records, scale=f.scale, hr_patch_size=f.hr_patch_size,
        batch_size=f.batch_size, crops_per_image=f.crops_per_image, shuffle_buffer=f.shuffle_buffer,
        seed=None if f.data_service else f.seed, skip_corrupt_records=f.skip_corrupt_records,
        data_service=f.data_service, quantize_lr=f.quantize_lr)
    model_config = ModelConfig(
        scale=f.scale, num_residual_blocks=f.num_residual_blocks, num_filters=f.num_filters,
        generator_batch_norm=f.generator_batch_norm, residual_scaling=f.residual_scaling,
        bicubic_residual=f.bicubic_residual, hr_patch_size=f.hr_patch_size, discriminator_filters=f.discriminator_filters, vgg_layer=f.vgg_layer,
        vgg_weights=f.vgg_weights)
    train_config = TrainConfig(
        model_dir=f.model_dir, phase=f.phase, train_steps=f.train_steps, steps_per_loop=f.steps_per_loop,
        learning_rate=f.learning_rate, lr_schedule=f.lr_schedule, lr_decay_step=f.lr_decay_step,
        lr_after_decay=f.lr_after_decay, warmup_steps=f.warmup_steps, beta1=f.beta1, pixel_loss=f.pixel_loss,
        content_loss=f.content_loss, ema_decay=f.ema_decay, vgg_feature_scale=f.vgg_feature_scale,
        adversarial_weight=f.adversarial_weight, init_checkpoint=f.init_checkpoint,
        checkpoint_every=f.checkpoint_every, keep_checkpoints=f.keep_checkpoints, log_every=f.log_every,
        eval_every=f.eval_every, num_eval_images=f.num_eval_images, export_dir=f.export_dir, strategy=f.strategy,
        precision=f.precision, jit_compile=f.jit_compile, seed=f.seed, deterministic=f.deterministic,
        nan_patience=f.nan_patience, max_recoveries=f.max_recoveries, max_loss=f.max_loss)
    return data_config, model_config, train_config


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    # Devices must be configured before TensorFlow touches them, so this comes first.
    from srgan_tf.training import distribute
    distribute.split_cpu(FLAGS.cpu_replicas)
    from srgan_tf.training import job, preemption
    try:
        data_config, model_config, train_config = configs_from_flags()
    except ValueError as error:  # a combination of flags that cannot work: the message names them
        sys.exit(f"error: {error}")
    try:
        job.run_training(data_config, model_config, train_config)
    except preemption.TrainingInterrupted as stop:
        logging.warning("%s", stop)
        sys.exit(stop.exit_code)


def run() -> None:
    """The `srgan-train` command (`python -m srgan_tf.train`)."""
    commands.run(main)


if __name__ == "__main__":
    run()
