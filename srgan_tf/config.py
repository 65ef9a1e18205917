"""Every setting of a training run, defined once: frozen dataclasses grouped by what they configure.

Each field's name, type, default and help is the whole definition of a setting: the command-line flags are
generated from them (`srgan_tf.config_flags`), and the checks live here, so the library and the commands
refuse the same values with the same message, naming the flag. Constraints on one field are declared in its
metadata (`choices`, `lower_bound`); checks across fields are in `__post_init__`.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import typing
from typing import Dict, Optional, Tuple

from srgan_tf.registry import (ADVERSARIAL_LOSSES, DEGRADATIONS, DISCRIMINATORS, GENERATORS, PIXEL_LOSSES,
                               TASKS, Registry)

# The values of --vgg_layer: the VGG19 feature maps as the papers name them. "vgg<i><j>" is the j-th
# convolution of block i (before the i-th max-pooling), after its ReLU (SRGAN's "vgg54"); ESRGAN compares
# features before the ReLU ("_before_relu"). modeling/vgg.py finds them in Keras's VGG19.
BEFORE_RELU = "_before_relu"
VGG_LAYERS = tuple(f"vgg{block}{conv}{suffix}" for suffix in ("", BEFORE_RELU)
                   for block, convolutions in enumerate((2, 2, 4, 4, 4), start=1)
                   for conv in range(1, convolutions + 1))

SUPPORTED_SCALES = (2, 4, 8)


def _parse_vgg_layer_weights(text: str) -> Tuple[Tuple[str, float], ...]:
    """--vgg_layer_weights as (layer, weight) pairs, in its order; ValueError names the flag and the bad item."""
    pairs = []
    for item in (item.strip() for item in text.split(",")):
        if not item:
            continue
        named = f"--vgg_layer_weights: {item!r}"
        layer, colon, weight = (part.strip() for part in item.partition(":"))
        if not colon:
            raise ValueError(f"{named} is not layer:weight (e.g. vgg54_before_relu:1).")
        if layer not in VGG_LAYERS:
            names = ", ".join(name for name in VGG_LAYERS if not name.endswith(BEFORE_RELU))
            raise ValueError(f"{named}: {layer!r} is no VGG19 layer; they are {names}, each also *{BEFORE_RELU}.")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"{named}: the weight {weight!r} is not a number.") from None
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{named}: the weight must be a finite number >= 0.")
        if any(layer == seen for seen, _ in pairs):
            raise ValueError(f"{named}: {layer} is weighted twice.")
        pairs.append((layer, value))
    if not pairs:
        raise ValueError(f"--vgg_layer_weights={text!r} names no layer.")
    return tuple(pairs)


def setting(default, help: str, choices=None, lower_bound=None):
    """A configuration field: its default, the help its flag shows, and the values it may take (a registry's
    names are read when a value is checked, so that an implementation registered later is accepted)."""
    metadata = {"help": help}
    if choices is not None:
        metadata["choices"] = choices if isinstance(choices, Registry) else tuple(choices)
    if lower_bound is not None:
        metadata["lower_bound"] = lower_bound
    return dataclasses.field(default=default, metadata=metadata)


def _check_declared(config) -> None:
    """Enforces each field's declared `choices` and `lower_bound`."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        choices = field.metadata.get("choices")
        if choices is not None and value not in choices:
            raise ValueError(f"--{field.name}={value!r} is not supported; choose one of {list(choices)}.")
        bound = field.metadata.get("lower_bound")
        if bound is not None and value is not None and value < bound:
            raise ValueError(f"--{field.name}={value} must be >= {bound}.")


class Settings:
    """Base of frozen settings dataclasses: declared constraints are checked on creation, `_check` adds the
    rest."""

    def __post_init__(self):
        _check_declared(self)
        self._check()

    def _check(self) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class DataConfig(Settings):
    """What the input pipeline reads and how it cuts training examples."""

    train_records: str = setting("", "Glob(s) of training TFRecord shards, comma-separated.")
    val_records: str = setting("", "Glob(s) of validation shards; empty: no evaluation during training.")
    hr_patch_size: int = setting(96, "Side of the HR training crops (the discriminator's input); a multiple of "
                                     "--scale.", lower_bound=1)
    batch_size: int = setting(16, "Global batch size, split over all replicas.", lower_bound=1)
    crops_per_image: int = setting(1, "Random crops taken from each decoded image.", lower_bound=1)
    min_image_scale: float = setting(
        1.0, "Shrink each decoded training image by a random factor in [this, 1] (antialiased bicubic) "
             "before its crops are cut: more distinct patches from few images, as FSRCNN and LapSRN trained "
             "on 91 and 291. 1: off. Never below what keeps --hr_patch_size inside the image.")
    shuffle_buffer: int = setting(512, "Examples in the shuffle buffer.", lower_bound=1)
    skip_corrupt_records: bool = setting(
        False, "Train on the records before the damage in a truncated or corrupt shard and skip the rest, with "
               "a warning; by default a corrupt shard stops the run before training, named.")
    data_service: str = setting(
        "", "tf.data service dispatcher (grpc://host:port) whose workers run the input pipeline, for "
            "input-bound training. The pipeline is then unseeded (a seeded one would make the same batches on "
            "every tf.data worker): --seed seeds the networks only.")
    quantize_lr: bool = setting(True, "Round training LR patches to 8 bits, as LR images read from files (and "
                                      "evaluation's) are.")

    def _check(self) -> None:
        if not 0.0 < self.min_image_scale <= 1.0:
            raise ValueError(f"--min_image_scale={self.min_image_scale} must be in (0, 1]: images are only "
                             f"shrunk.")


KERNEL_FAMILIES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_DIRECTIONS = ("up", "down", "keep")
_FAMILIES_HELP = ", ".join(KERNEL_FAMILIES)


def _probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"--{name}={value} is a probability: it must be in [0, 1].")


def _distribution(name: str, values: Tuple[float, ...], outcomes: Tuple[str, ...]) -> None:
    """Probabilities of `outcomes`, one each, summing to 1."""
    shown = ",".join(f"{v:g}" for v in values)
    if len(values) != len(outcomes):
        raise ValueError(f"--{name}={shown} needs {len(outcomes)} probabilities, one for each of "
                         f"{', '.join(outcomes)}.")
    if any(not 0.0 <= v <= 1.0 for v in values) or abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"--{name}={shown}: probabilities in [0, 1] that sum to 1 (they sum to {sum(values):g}).")


def _interval(name: str, values: Tuple[float, ...], low: float, high: float = math.inf) -> None:
    """A range `lo,hi` with low <= lo <= hi <= high."""
    shown = ",".join(f"{v:g}" for v in values)
    if len(values) != 2 or not all(map(math.isfinite, values)) or not low <= values[0] <= values[1] <= high:
        bounds = f"[{low:g}, {high:g}]" if high < math.inf else f">= {low:g}"
        raise ValueError(f"--{name}={shown} must be two numbers lo,hi with lo <= hi, both {bounds}.")


@dataclasses.dataclass(frozen=True)
class DegradationConfig(Settings):
    """How training LR patches are made from HR: bicubic downscaling, or Real-ESRGAN's second-order random
    process (blur, resize, noise, JPEG, twice; then the final resize with a sinc filter and JPEG). The other
    settings are Real-ESRGAN's, named and defaulted as its train_realesrnet_x4plus options; "2" marks the
    second order."""

    degradation: str = setting("bicubic", "bicubic: LR is the antialiased bicubic downscale of HR; realesrgan: "
                                          "Real-ESRGAN's random second-order degradation, seeded by --seed.",
                               choices=DEGRADATIONS)
    usm_hr: bool = setting(False, "realesrgan: sharpen the HR target by unsharp masking (Real-ESRGAN's gt_usm) "
                                  "and degrade the sharpened patch.")
    blur_kernel_size: int = setting(21, "Largest blur and sinc kernel; each is drawn from the odd sizes 7 to this "
                                        "(a size below 7: that size only).", lower_bound=3)
    kernel_prob: Tuple[float, ...] = setting((0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
                                             f"First blur: probabilities of the kernels {_FAMILIES_HELP}.")
    sinc_prob: float = setting(0.1, "First blur: probability of a sinc (ringing) kernel instead.")
    blur_sigma: Tuple[float, ...] = setting((0.2, 3.0), "First blur: range of the Gaussian widths.")
    betag_range: Tuple[float, ...] = setting((0.5, 4.0), "First blur: range of the generalised Gaussian's "
                                                         "shape.")
    betap_range: Tuple[float, ...] = setting((1.0, 2.0), "First blur: range of the plateau kernel's shape.")
    resize_prob: Tuple[float, ...] = setting((0.2, 0.7, 0.1), "First resize: probabilities of up, down, keep.")
    resize_range: Tuple[float, ...] = setting((0.15, 1.5), "First resize: range of the factor.")
    gaussian_noise_prob: float = setting(0.5, "First noise: probability of Gaussian noise, else Poisson.")
    noise_range: Tuple[float, ...] = setting((1.0, 30.0), "First noise: range of the Gaussian sigma (of 255).")
    poisson_scale_range: Tuple[float, ...] = setting((0.05, 3.0), "First noise: range of the Poisson scale.")
    gray_noise_prob: float = setting(0.4, "First noise: probability that it is the same in every channel.")
    jpeg_range: Tuple[float, ...] = setting((30.0, 95.0), "First JPEG: range of the quality (1 to 100).")
    second_blur_prob: float = setting(0.8, "Probability of the second blur.")
    kernel_prob2: Tuple[float, ...] = setting((0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
                                              f"Second blur: probabilities of the kernels {_FAMILIES_HELP}.")
    sinc_prob2: float = setting(0.1, "Second blur: probability of a sinc kernel instead.")
    blur_sigma2: Tuple[float, ...] = setting((0.2, 1.5), "Second blur: range of the Gaussian widths.")
    betag_range2: Tuple[float, ...] = setting((0.5, 4.0), "Second blur: range of the generalised Gaussian's "
                                                          "shape.")
    betap_range2: Tuple[float, ...] = setting((1.0, 2.0), "Second blur: range of the plateau kernel's shape.")
    resize_prob2: Tuple[float, ...] = setting((0.3, 0.4, 0.3), "Second resize: probabilities of up, down, "
                                                               "keep.")
    resize_range2: Tuple[float, ...] = setting((0.3, 1.2), "Second resize: range of the factor, of the LR "
                                                           "size.")
    gaussian_noise_prob2: float = setting(0.5, "Second noise: probability of Gaussian noise, else Poisson.")
    noise_range2: Tuple[float, ...] = setting((1.0, 25.0), "Second noise: range of the Gaussian sigma (of "
                                                           "255).")
    poisson_scale_range2: Tuple[float, ...] = setting((0.05, 2.5), "Second noise: range of the Poisson scale.")
    gray_noise_prob2: float = setting(0.4, "Second noise: probability that it is the same in every channel.")
    jpeg_range2: Tuple[float, ...] = setting((30.0, 95.0), "Final JPEG (the second order's): range of the "
                                                           "quality.")
    final_sinc_prob: float = setting(0.8, "Probability of the sinc filter after the final resize.")

    def _check(self) -> None:
        if self.blur_kernel_size % 2 == 0:
            raise ValueError(f"--blur_kernel_size={self.blur_kernel_size} must be odd: kernels are centred.")
        for name in ("sinc_prob", "gaussian_noise_prob", "gray_noise_prob", "second_blur_prob", "sinc_prob2",
                     "gaussian_noise_prob2", "gray_noise_prob2", "final_sinc_prob"):
            _probability(name, getattr(self, name))
        for suffix in ("", "2"):
            value = functools.partial(self.of_order, order=suffix)
            _distribution("kernel_prob" + suffix, value("kernel_prob"), KERNEL_FAMILIES)
            _distribution("resize_prob" + suffix, value("resize_prob"), RESIZE_DIRECTIONS)
            for name in ("blur_sigma", "betag_range", "betap_range"):
                _interval(name + suffix, value(name), low=1e-3)
            _interval("resize_range" + suffix, value("resize_range"), low=1e-3)
            _interval("noise_range" + suffix, value("noise_range"), low=0.0)
            _interval("poisson_scale_range" + suffix, value("poisson_scale_range"), low=0.0)
            _interval("jpeg_range" + suffix, value("jpeg_range"), low=1.0, high=100.0)
            low, high = value("resize_range")
            up, down = value("resize_prob")[:2]
            if (up and high < 1.0) or (down and low > 1.0):
                raise ValueError(f"--resize_range{suffix}={low:g},{high:g} must reach above 1 for 'up' and below 1 "
                                 f"for 'down' (--resize_prob{suffix}).")
            for name in ("betag_range", "betap_range"):  # half the shapes are drawn below 1, half above
                low, high = value(name)
                if not low <= 1.0 <= high:
                    raise ValueError(f"--{name}{suffix}={low:g},{high:g} must include 1: half the shapes are drawn "
                                     f"from lo to 1, half from 1 to hi.")

    def of_order(self, name: str, order: str):
        """A setting of the first ("") or the second ("2") order: `of_order("jpeg_range", "2")` is --jpeg_range2."""
        return getattr(self, name + order)

    @property
    def kernel_sizes(self) -> Tuple[int, ...]:
        """The odd kernel sizes drawn from: Real-ESRGAN's 7 to 21."""
        return tuple(range(min(7, self.blur_kernel_size), self.blur_kernel_size + 1, 2))


@dataclasses.dataclass(frozen=True)
class GeneratorConfig(Settings):
    """The generator's shape: saved beside checkpoints, so exports and tools rebuild the same network."""

    generator: str = setting("srresnet", "srresnet: SRGAN's generator (and EDSR's, without BatchNorm); rrdb: "
                                         "ESRGAN's residual-in-residual dense blocks.", choices=GENERATORS)
    scale: int = setting(4, "Upscaling factor.", choices=SUPPORTED_SCALES)
    num_residual_blocks: int = setting(16, "Residual blocks in the generator (SRResNet: 16 in the paper), or "
                                           "residual-in-residual dense blocks (RRDB: 23 in the paper).",
                                       lower_bound=0)
    num_filters: int = setting(64, "Filters in the generator's body.", lower_bound=1)
    growth_channels: int = setting(32, "RRDB: channels each convolution of a dense block adds.", lower_bound=1)
    generator_batch_norm: bool = setting(
        True, "SRResNet: BatchNorm in the generator; --nogenerator_batch_norm: none, as in EDSR, whose blocks "
              "train faster and need no batch statistics. RRDB has none.")
    residual_scaling: float = setting(1.0, "SRResNet: residual branches are multiplied by this (EDSR: 0.1 for "
                                           "wide networks). RRDB scales its own by 0.2, as the paper.")
    bicubic_residual: bool = setting(
        False, "The generator adds its output to a bicubic upsample of its input (VDSR), so it learns only the "
               "detail bicubic misses and starts at bicubic quality.")
    light_upsampler: bool = setting(
        False, "One convolution to 3 x scale^2 channels at the input's resolution and a single pixel shuffle "
               "(ESPCN; IMDN and the lightweight networks after it), in place of the network's own upsamplers "
               "and output-resolution convolutions, which cost more than 8 residual blocks of 64 at x4.")

    def _check(self) -> None:
        if not self.residual_scaling > 0:
            raise ValueError(f"--residual_scaling={self.residual_scaling} must be positive.")
        if self.generator == "rrdb" and self.residual_scaling != 1.0:
            raise ValueError(f"--residual_scaling={self.residual_scaling} is SRResNet's: --generator=rrdb "
                             f"scales its residuals by 0.2, as the paper.")

    def differences(self, other: "GeneratorConfig") -> Dict[str, Tuple[object, object]]:
        """Each field whose value differs, with (this config's value, the other's): configs with none build the
        same network."""
        ours, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return {name: (ours[name], theirs[name]) for name in ours if ours[name] != theirs[name]}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "GeneratorConfig":
        """Reads what `to_json` wrote; keys of other settings (written beside these by earlier versions) and
        missing keys (options added since) are left to their defaults, which are the paper's network."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in json.loads(text).items() if key in names})


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig(Settings):
    """The discriminator's shape; its input is an HR patch of --hr_patch_size."""

    discriminator: str = setting("vgg", "vgg: SRGAN's (8 convolutions, a 1024-wide dense layer); vgg128: "
                                        "ESRGAN's (10 convolutions, 4x4 strided ones, a 100-wide dense layer); "
                                        "unet: Real-ESRGAN's U-Net with spectral normalisation, one logit per "
                                        "pixel (--hr_patch_size a multiple of 8).",
                                 choices=DISCRIMINATORS)
    discriminator_filters: int = setting(64, "Filters in the discriminator's first layer.", lower_bound=1)

    def check_patch_size(self, patch_size: int) -> None:
        """Refuses a patch this discriminator cannot judge."""
        if self.discriminator == "unet" and patch_size % 8:
            raise ValueError(f"--hr_patch_size={patch_size} must be a multiple of 8 for --discriminator=unet: "
                             f"its features are halved three times and doubled back to add to the earlier ones.")


@dataclasses.dataclass(frozen=True)
class LossConfig(Settings):
    """What the losses compare and how they are weighed. The GAN phase trains the generator with
    `content + adversarial_weight * adversarial + pixel_weight * pixel` (ESRGAN's L = L_percep + lambda L_G +
    eta L_1)."""

    pixel_loss: str = setting("mse", "Pixel loss of pretraining, of the GAN phase with --content_loss=pixel, and "
                                     "of its --pixel_weight term.", choices=PIXEL_LOSSES)
    content_loss: str = setting("vgg", "GAN phase content loss: VGG19 features, or --pixel_loss on pixels "
                                       "(SRGAN-MSE).", choices=("vgg", "pixel"))
    content_loss_type: str = setting("mse", "How VGG features are compared: mse (SRGAN) or l1 (ESRGAN).",
                                     choices=PIXEL_LOSSES)
    vgg_layer: str = setting("vgg54", "VGG19 features for the content loss: vgg<i><j> is the j-th convolution of "
                                      "block i (SRGAN: vgg54); *_before_relu: before its ReLU (ESRGAN: "
                                      "vgg54_before_relu).", choices=sorted(VGG_LAYERS))
    vgg_layer_weights: str = setting(
        "", "Several VGG19 layers for the content loss, as comma-separated layer:weight pairs (layers named as "
            "for --vgg_layer): the content loss is the weighted sum of each layer's --content_loss_type distance. "
            "Replaces --vgg_layer (Real-ESRGAN: vgg12_before_relu:0.1,vgg22_before_relu:0.1,vgg34_before_relu:1,"
            "vgg44_before_relu:1,vgg54_before_relu:1); empty: --vgg_layer alone, weight 1.")
    vgg_weights: str = setting("imagenet", "'imagenet' (downloaded by Keras), 'none' (random, seeded) or a path "
                                           "to a weights file.")
    vgg_feature_scale: float = setting(1.0 / 12.75, "VGG features are multiplied by this before they are "
                                                    "compared (--content_loss_type).")
    adversarial: str = setting(
        "vanilla", "vanilla: D tells real from fake (SRGAN); relativistic: D tells whether real is more "
                   "realistic than the average fake and fake less than the average real (RaGAN, ESRGAN).",
        choices=ADVERSARIAL_LOSSES)
    adversarial_weight: float = setting(1e-3, "Weight of the adversarial loss in the generator's loss (SRGAN "
                                              "1e-3, ESRGAN 5e-3).", lower_bound=0.0)
    pixel_weight: float = setting(0.0, "Weight of a --pixel_loss term in the GAN phase generator's loss "
                                       "(ESRGAN: 1e-2 with --pixel_loss=l1).", lower_bound=0.0)

    def _check(self) -> None:
        if not self.vgg_layer_weights:
            return
        named = f"--vgg_layer_weights={self.vgg_layer_weights}"
        if self.vgg_layer != LossConfig.vgg_layer:  # the class attribute is the default
            raise ValueError(f"--vgg_layer={self.vgg_layer} and {named} both choose the content loss's VGG "
                             f"layers: pass --vgg_layer_weights alone (it replaces --vgg_layer).")
        if self.content_loss != "vgg":
            raise ValueError(f"{named} weighs VGG features, but --content_loss={self.content_loss} compares "
                             f"pixels.")
        _parse_vgg_layer_weights(self.vgg_layer_weights)

    @property
    def weighted_vgg_layers(self) -> Tuple[Tuple[str, float], ...]:
        """The content loss's VGG layers and their weights: --vgg_layer_weights, or --vgg_layer with weight 1."""
        if not self.vgg_layer_weights:
            return ((self.vgg_layer, 1.0),)
        return _parse_vgg_layer_weights(self.vgg_layer_weights)


@dataclasses.dataclass(frozen=True)
class OptimizationConfig(Settings):
    """Adam, the learning-rate schedule, the length of the phase and the moving average of the weights."""

    train_steps: int = setting(1_000_000, "Total steps of this phase.", lower_bound=1)
    learning_rate: float = setting(1e-4, "Adam learning rate (the peak, after any warm-up).")
    lr_schedule: str = setting("step", "step: --learning_rate, then --lr_after_decay from --lr_decay_step on; "
                                       "multistep: multiplied by --lr_decay_factor at each of --lr_milestones; "
                                       "cosine: from --learning_rate down to --lr_after_decay at --train_steps.",
                               choices=("step", "multistep", "cosine"))
    lr_decay_step: int = setting(0, "Step at which the step schedule drops to --lr_after_decay; 0: never.",
                                 lower_bound=0)
    lr_after_decay: float = setting(1e-5, "Learning rate after --lr_decay_step (step), or at the end (cosine).")
    lr_milestones: str = setting("", "multistep: comma-separated steps, increasing, at which the rate is "
                                     "multiplied by --lr_decay_factor (ESRGAN: 50000,100000,200000,300000).")
    lr_decay_factor: float = setting(0.5, "multistep: what the rate is multiplied by at each milestone.")
    warmup_steps: int = setting(0, "Steps of linear warm-up to --learning_rate (step i: (i + 1) / warmup of "
                                   "it).", lower_bound=0)
    beta1: float = setting(0.9, "Adam beta_1.")
    beta2: float = setting(0.999, "Adam beta_2 (Real-ESRGAN: 0.99).")
    ema_decay: float = setting(0.0, "Keep an exponential moving average of the generator's weights with this "
                                    "decay (e.g. 0.999), checkpointed, and evaluate and export it; 0: off.")

    def _check(self) -> None:
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"--ema_decay={self.ema_decay} must be in [0, 1) (0 turns the average off).")
        if self.warmup_steps >= self.train_steps:
            raise ValueError(f"--warmup_steps={self.warmup_steps} must be >= 0 and shorter than "
                             f"--train_steps={self.train_steps}.")
        if not (self.learning_rate > 0 and self.lr_after_decay >= 0):
            raise ValueError(f"--learning_rate={self.learning_rate} must be positive and "
                             f"--lr_after_decay={self.lr_after_decay} not negative.")
        if self.lr_decay_step and self.lr_schedule != "step":
            raise ValueError(f"--lr_decay_step={self.lr_decay_step} belongs to --lr_schedule=step; the "
                             f"{self.lr_schedule} schedule decays until --train_steps.")
        if 0 < self.lr_decay_step <= self.warmup_steps:
            raise ValueError(f"--lr_decay_step={self.lr_decay_step} must come after the "
                             f"--warmup_steps={self.warmup_steps}.")
        self._check_milestones()

    def _check_milestones(self) -> None:
        named = f"--lr_milestones={self.lr_milestones}"
        if self.lr_schedule == "multistep" and not self.lr_milestones:
            raise ValueError("--lr_schedule=multistep needs --lr_milestones.")
        if not self.lr_milestones:
            return
        if self.lr_schedule != "multistep":
            raise ValueError(f"{named} belongs to --lr_schedule=multistep, not {self.lr_schedule}.")
        try:
            steps = self.milestones
        except ValueError as error:
            raise ValueError(f"{named}: not comma-separated integers ({error}).") from error
        if any(b <= a for a, b in zip((self.warmup_steps,) + steps, steps)):
            raise ValueError(f"{named} must increase and come after the --warmup_steps={self.warmup_steps}.")
        if not 0.0 < self.lr_decay_factor <= 1.0:
            raise ValueError(f"--lr_decay_factor={self.lr_decay_factor} must be in (0, 1].")

    @property
    def milestones(self) -> Tuple[int, ...]:
        """--lr_milestones as integers."""
        return tuple(int(step) for step in self.lr_milestones.split(",") if step.strip())


@dataclasses.dataclass(frozen=True)
class RuntimeConfig(Settings):
    """The hardware a run uses and how: devices, precision, compilation, randomness."""

    strategy: str = setting("auto", "Distribution strategy.", choices=("auto", "mirrored", "multi_worker",
                                                                       "one_device"))
    cpu_replicas: int = setting(1, "Split the CPU into this many logical devices (for testing).", lower_bound=1)
    precision: str = setting(
        "auto", "Numeric policy; auto: mixed_float16 on GPU, mixed_bfloat16 on a CPU with native bfloat16 "
                "(AVX512_BF16 or AMX), else float32.",
        choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"))
    jit_compile: str = setting(
        "auto", "XLA-compile the per-replica forward/backward computation; auto: on GPU and on CPUs without "
                "AVX-512, off on CPUs with it (oneDNN's convolutions are faster there).",
        choices=("auto", "on", "off"))
    steps_per_loop: int = setting(100, "Steps run inside one tf.function call.", lower_bound=1)
    seed: Optional[int] = setting(None, "Seed for weights and data order; unset: nondeterministic.")
    deterministic: bool = setting(
        False, "Deterministic ops, and the input position saved in checkpoints: an interrupted and resumed run "
               "ends with exactly the weights of an uninterrupted one. Needs --seed; one host only.")

    def _check(self) -> None:
        if self.deterministic and self.seed is None:
            raise ValueError("--deterministic needs --seed: without one, weights and data order are random.")
        if self.deterministic and self.strategy == "multi_worker":
            raise ValueError("--deterministic runs on one host: with --strategy=multi_worker only the "
                             "chief's input position could be saved.")


@dataclasses.dataclass(frozen=True)
class BookkeepingConfig(Settings):
    """Where a run keeps its state, how often it logs, evaluates and saves, and when it rolls back
    (docs/reliability.md)."""

    model_dir: str = setting("", "Where checkpoints, summaries and model_config.json go.")
    init_checkpoint: str = setting("", "Generator weights to start from (a pretrain model dir or checkpoint).")
    export_dir: str = setting("", "If set, the chief exports a SavedModel version here at the end.")
    checkpoint_every: int = setting(1000, "Steps between checkpoints.", lower_bound=1)
    keep_checkpoints: int = setting(5, "Checkpoints kept.", lower_bound=1)
    log_every: int = setting(100, "Steps between console lines and TensorBoard scalars.", lower_bound=1)
    eval_every: int = setting(5000, "Steps between validation PSNR/SSIM and comparison pictures.", lower_bound=1)
    num_eval_images: int = setting(4, "Validation images evaluated (and shown) each time.", lower_bound=1)
    nan_patience: int = setting(
        2, "Log intervals the losses may stay non-finite (or above --max_loss) before training rolls back to "
           "the last good checkpoint. Non-finite weights roll back at once.", lower_bound=1)
    max_recoveries: int = setting(3, "Roll-backs after which a diverging run stops with an error.", lower_bound=0)
    max_loss: float = setting(math.inf, "A loss above this counts as diverged, like a non-finite one.")

    def _check(self) -> None:
        if not self.model_dir:
            raise ValueError("--model_dir is required.")
        if not self.max_loss > 0:
            raise ValueError(f"--max_loss={self.max_loss} must be positive.")


@dataclasses.dataclass(frozen=True)
class TrainingConfig(Settings):
    """One phase of training: `python -m srgan_tf.train` builds it from its flags, one group per field."""

    bookkeeping: BookkeepingConfig = dataclasses.field(default_factory=BookkeepingConfig)
    phase: str = setting("pretrain", "pretrain: the generator alone with --pixel_loss (PSNR-oriented; SRResNet, "
                                     "RRDBNet); gan: the adversarial phase, generator and discriminator (SRGAN, "
                                     "ESRGAN, Real-ESRGAN).", choices=TASKS)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    degradation: DegradationConfig = dataclasses.field(default_factory=DegradationConfig)
    generator: GeneratorConfig = dataclasses.field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = dataclasses.field(default_factory=DiscriminatorConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optimization: OptimizationConfig = dataclasses.field(default_factory=OptimizationConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)

    def _check(self) -> None:
        if self.data.hr_patch_size % self.generator.scale:
            raise ValueError(f"--hr_patch_size={self.data.hr_patch_size} must be a multiple of "
                             f"--scale={self.generator.scale}.")
        self._check_degradation_fits()
        if self.phase == "gan":
            self.discriminator.check_patch_size(self.data.hr_patch_size)
        if self.data.data_service and self.runtime.deterministic:
            raise ValueError(f"--data_service={self.data.data_service} needs an unseeded input pipeline (a seeded "
                             f"one makes the same batches on every tf.data worker), so not --deterministic.")

    def _check_degradation_fits(self) -> None:
        DEGRADATIONS[self.degradation.degradation].check_patch_size(self.degradation, self.data.hr_patch_size,
                                                                    self.generator.scale)

    @property
    def lr_patch_size(self) -> int:
        return self.data.hr_patch_size // self.generator.scale

    @property
    def pipeline_seed(self) -> Optional[int]:
        """The input pipeline's seed: --seed, except on the tf.data service (see --data_service)."""
        return None if self.data.data_service else self.runtime.seed


# The groups of a TrainingConfig by field name, e.g. "data": DataConfig.
GROUPS = {name: hint for name, hint in typing.get_type_hints(TrainingConfig).items()
          if dataclasses.is_dataclass(hint)}


def settings_of(config_class) -> list:
    """The fields of a config class that are settings (not groups of settings): one flag each. A setting may
    share its group's name (`--generator` chooses the network the `generator` group shapes)."""
    hints = typing.get_type_hints(config_class)
    return [field for field in dataclasses.fields(config_class) if not dataclasses.is_dataclass(hints[field.name])]


def training_config(**settings) -> TrainingConfig:
    """A TrainingConfig from settings named as their flags (`scale=2, learning_rate=1e-3, ...`), each put in
    its group; a name that is no setting is refused."""
    known = {field.name for cls in (TrainingConfig, *GROUPS.values()) for field in settings_of(cls)}
    unknown = set(settings) - known
    if unknown:
        raise ValueError(f"No such settings: {sorted(unknown)}.")
    groups = {name: cls(**{f.name: settings[f.name] for f in settings_of(cls) if f.name in settings})
              for name, cls in GROUPS.items()}
    top_level = {f.name: settings[f.name] for f in settings_of(TrainingConfig) if f.name in settings}
    return TrainingConfig(**top_level, **groups)
