"""Frozen configuration objects passed from entry points down to the library.

Flags live only in entry modules (`train.py`, tools); everything below them takes one of these.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Optional

from srgan_tf import SUPPORTED_SCALES


def check_scale(scale: int, name: str = "scale") -> int:
    if scale not in SUPPORTED_SCALES:
        raise ValueError(f"--{name}={scale} is not supported; choose one of {list(SUPPORTED_SCALES)}.")
    return scale


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """What the input pipeline reads and how it cuts training examples."""

    train_records: str = ""
    val_records: str = ""
    scale: int = 4
    hr_patch_size: int = 96
    batch_size: int = 16  # global, over all replicas
    crops_per_image: int = 1
    shuffle_buffer: int = 512
    seed: Optional[int] = None
    skip_corrupt_records: bool = False  # else a corrupt shard stops the run, named
    data_service: str = ""  # a tf.data service dispatcher ("grpc://host:port") to run the pipeline on
    quantize_lr: bool = True  # round training LR to 8 bits, as LR read from files is

    def __post_init__(self):
        check_scale(self.scale)
        if self.hr_patch_size <= 0 or self.hr_patch_size % self.scale:
            raise ValueError(
                f"--hr_patch_size={self.hr_patch_size} must be a positive multiple of --scale={self.scale}.")
        if self.batch_size <= 0:
            raise ValueError(f"--batch_size={self.batch_size} must be positive.")
        if self.crops_per_image <= 0:
            raise ValueError(f"--crops_per_image={self.crops_per_image} must be positive.")

    @property
    def lr_patch_size(self) -> int:
        return self.hr_patch_size // self.scale


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The networks' shapes; saved beside checkpoints so exports and tools can rebuild the generator."""

    scale: int = 4
    num_residual_blocks: int = 16
    num_filters: int = 64
    generator_batch_norm: bool = True  # False: no BatchNorm in the generator (EDSR's residual blocks)
    residual_scaling: float = 1.0  # residual branches multiplied by this (EDSR: 0.1 for wide networks)
    bicubic_residual: bool = False  # the network adds its output to a bicubic upsample of the LR input
    hr_patch_size: int = 96  # the discriminator's input size
    discriminator_filters: int = 64
    vgg_layer: str = "vgg54"
    vgg_weights: str = "imagenet"  # "imagenet", "none" (random, seeded) or a path to a weights file

    def __post_init__(self):
        check_scale(self.scale)
        if self.num_residual_blocks < 0:
            raise ValueError(f"--num_residual_blocks={self.num_residual_blocks} must be >= 0.")
        if self.num_filters <= 0:
            raise ValueError(f"--num_filters={self.num_filters} must be positive.")
        if not self.residual_scaling > 0:
            raise ValueError(f"--residual_scaling={self.residual_scaling} must be positive.")
        if self.vgg_layer not in VGG_LAYERS:
            raise ValueError(f"--vgg_layer={self.vgg_layer!r} is not one of {sorted(VGG_LAYERS)}.")

    def generator_fields(self) -> dict:
        """The fields that shape the generator's weights and what they compute."""
        return {name: getattr(self, name) for name in GENERATOR_FIELDS}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in json.loads(text).items() if k in fields})


GENERATOR_FIELDS = ("scale", "num_residual_blocks", "num_filters", "generator_batch_norm", "residual_scaling",
                    "bicubic_residual")

# Names used by the paper for the VGG19 feature maps, mapped to Keras layer names.
VGG_LAYERS = {"vgg54": "block5_conv4", "vgg22": "block2_conv2"}


PHASES = ("pretrain", "gan")
CONTENT_LOSSES = ("vgg", "pixel")
PIXEL_LOSSES = ("mse", "l1")
LR_SCHEDULES = ("step", "cosine")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "mirrored", "multi_worker", "one_device")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How one training phase runs: schedule, losses, bookkeeping and the hardware to use."""

    model_dir: str
    phase: str = "pretrain"
    train_steps: int = 1_000_000
    steps_per_loop: int = 100
    learning_rate: float = 1e-4
    lr_schedule: str = "step"
    lr_decay_step: int = 0  # step schedule: 0 keeps the learning rate constant
    lr_after_decay: float = 1e-5  # step: the rate after lr_decay_step; cosine: the rate at train_steps
    warmup_steps: int = 0  # linear warm-up: step i at (i + 1) / warmup_steps of learning_rate
    beta1: float = 0.9
    pixel_loss: str = "mse"  # pretraining's loss, and the gan phase's content loss when content_loss=pixel
    content_loss: str = "vgg"  # gan phase only
    ema_decay: float = 0.0  # 0: off; else evaluation and export use an exponential moving average
    vgg_feature_scale: float = 1.0 / 12.75
    adversarial_weight: float = 1e-3
    init_checkpoint: str = ""
    checkpoint_every: int = 1000
    keep_checkpoints: int = 5
    log_every: int = 100
    eval_every: int = 5000
    num_eval_images: int = 4
    export_dir: str = ""
    strategy: str = "auto"
    precision: str = "auto"
    jit_compile: bool = True
    seed: Optional[int] = None
    deterministic: bool = False  # deterministic ops, and the input position saved in checkpoints
    nan_patience: int = 2  # log intervals of non-finite (or > max_loss) losses before a recovery
    max_recoveries: int = 3  # restores of the last good checkpoint before giving up
    max_loss: float = math.inf

    def __post_init__(self):
        for name, value, allowed in (("phase", self.phase, PHASES),
                                     ("content_loss", self.content_loss, CONTENT_LOSSES),
                                     ("pixel_loss", self.pixel_loss, PIXEL_LOSSES),
                                     ("lr_schedule", self.lr_schedule, LR_SCHEDULES),
                                     ("precision", self.precision, PRECISIONS),
                                     ("strategy", self.strategy, STRATEGIES)):
            if value not in allowed:
                raise ValueError(f"--{name}={value!r} is not one of {list(allowed)}.")
        for name in ("train_steps", "steps_per_loop", "checkpoint_every", "keep_checkpoints", "log_every",
                     "eval_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name}={getattr(self, name)} must be positive.")
        if not self.model_dir:
            raise ValueError("--model_dir is required.")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"--ema_decay={self.ema_decay} must be in [0, 1) (0 turns the average off).")
        if not 0 <= self.warmup_steps < self.train_steps:
            raise ValueError(f"--warmup_steps={self.warmup_steps} must be >= 0 and shorter than "
                             f"--train_steps={self.train_steps}.")
        if not (self.learning_rate > 0 and self.lr_after_decay >= 0):
            raise ValueError(f"--learning_rate={self.learning_rate} must be positive and "
                             f"--lr_after_decay={self.lr_after_decay} not negative.")
        if self.lr_decay_step < 0:
            raise ValueError(f"--lr_decay_step={self.lr_decay_step} must be >= 0 (0: never).")
        if self.lr_decay_step and self.lr_schedule != "step":
            raise ValueError(f"--lr_decay_step={self.lr_decay_step} belongs to --lr_schedule=step; the "
                             f"{self.lr_schedule} schedule decays until --train_steps.")
        if 0 < self.lr_decay_step <= self.warmup_steps:
            raise ValueError(f"--lr_decay_step={self.lr_decay_step} must come after the "
                             f"--warmup_steps={self.warmup_steps}.")
        if self.nan_patience <= 0:
            raise ValueError(f"--nan_patience={self.nan_patience} must be positive.")
        if self.max_recoveries < 0:
            raise ValueError(f"--max_recoveries={self.max_recoveries} must be >= 0.")
        if not self.max_loss > 0:
            raise ValueError(f"--max_loss={self.max_loss} must be positive.")
        if self.deterministic and self.seed is None:
            raise ValueError("--deterministic needs --seed: without one, weights and data order are random.")
        if self.deterministic and self.strategy == "multi_worker":
            raise ValueError("--deterministic runs on one host: with --strategy=multi_worker only the "
                             "chief's input position could be saved.")
