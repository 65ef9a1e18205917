"""Real-ESRGAN's second-order degradation (Wang et al. 2021), one HR patch at a time, in the tf.data graph.

LR = final(second(first(HR))): the first order blurs, resizes, adds noise and JPEG-compresses, the second
blurs (by chance), resizes and adds noise, each with random parameters of its own, and `final` resizes to
HR / scale, applies a sinc filter (by chance) and JPEG, in random order. All
randomness comes from one stateless seed per patch, so a seeded pipeline makes the same LR wherever the
patch is processed (on any number of replicas), and no Python runs in the graph (`tf.py_function` would
break the tf.data service and iterator checkpoints).

Sampling (`sample_parameters`) and applying (`apply`) are separate: the parameters are scalars that can be
drawn by the thousand to check their distribution, and `degrade` is the two together.

Where this differs from the authors' PyTorch code, on purpose:
- every choice is drawn per patch (theirs draws the resizes, the noise types, whether the second blur and the
  sinc filter apply and the final order once per GPU batch);
- Poisson noise is drawn as Gaussian noise with the Poisson variance (the count over `levels` has mean and
  variance image * levels): exact Poisson sampling cost more than the rest of the degradation together;
- bicubic resizing uses TensorFlow's Keys kernel (a = -0.5; PyTorch's uses a = -0.75), and JPEG is libjpeg's
  encode/decode at an integer quality (theirs: a JPEG simulation in PyTorch at a real-valued quality).
"""
from __future__ import annotations

import functools
import math
import zlib
from typing import Dict

import numpy as np
import tensorflow as tf

from srgan_tf.common import imaging
from srgan_tf.config import DegradationConfig
from srgan_tf.data import kernels
from srgan_tf.data.degradations import Degradation

RESIZE_METHODS = ("area", "bilinear", "bicubic")
USM_RADIUS = 25  # of the Gaussian that --usm_hr sharpens with (51 pixels)
USM_SIGMA = 8.0  # OpenCV's sigma for a 51-tap Gaussian, as Real-ESRGAN's USMSharp uses
USM_WEIGHT, USM_THRESHOLD = 0.5, 10.0 / 255.0
LUMA = (0.299, 0.587, 0.114)


class _Draws:
    """The random numbers of one degradation, drawn from its stateless seed in one op (drawing them one by one
    cost more than a 64x64 blur): each call takes the next, counted while the graph is traced, so every
    parameter always takes the same one."""

    CAPACITY = 64

    def __init__(self, seed: tf.Tensor):
        self._seed = seed
        self._uniforms = tf.unstack(tf.random.stateless_uniform([self.CAPACITY], seed))
        self._count = 0

    def _uniform(self) -> tf.Tensor:
        if self._count == self.CAPACITY:
            raise RuntimeError(f"a degradation draws more than {self.CAPACITY} random numbers")
        self._count += 1
        return self._uniforms[self._count - 1]

    def seed(self) -> tf.Tensor:
        """A stateless seed of its own, for drawing a tensor of numbers."""
        return tf.random.experimental.stateless_fold_in(self._seed, self.CAPACITY + self._count)

    def uniform(self, low, high) -> tf.Tensor:
        return low + (high - low) * self._uniform()

    def chance(self, probability: float) -> tf.Tensor:
        return self._uniform() < probability

    def choice(self, probabilities) -> tf.Tensor:
        """An index drawn with these probabilities (int32)."""
        bounds = tf.math.cumsum(tf.constant(probabilities, tf.float32))[:-1]
        drawn = tf.reduce_sum(tf.cast(bounds <= self._uniform(), tf.int32))
        return tf.minimum(drawn, len(probabilities) - 1)

    def pick(self, values) -> tf.Tensor:
        """One of `values`, uniformly."""
        values = list(values)
        index = tf.minimum(tf.cast(self._uniform() * len(values), tf.int32), len(values) - 1)
        return tf.gather(tf.constant(values), index)


def _either_side_of_one(draws: _Draws, low: float, high: float) -> tf.Tensor:
    """Real-ESRGAN's shape parameter: half the time from [low, 1], else from [1, high]."""
    return tf.where(draws.chance(0.5), draws.uniform(low, 1.0), draws.uniform(1.0, high))


def _blur_parameters(draws: _Draws, config: DegradationConfig, order: str) -> Dict[str, tf.Tensor]:
    """A random kernel: its size, whether it is a sinc, and the Gaussian family's or the sinc's parameters."""
    option = functools.partial(config.of_order, order=order)
    size = draws.pick(config.kernel_sizes)
    family = draws.choice(option("kernel_prob"))
    isotropic = tf.equal(family % 2, 0)  # KERNEL_FAMILIES alternate isotropic and anisotropic
    kind = family // 2  # Gaussian, generalised Gaussian, plateau
    sigma_x = draws.uniform(*option("blur_sigma"))
    sigma_y = tf.where(isotropic, sigma_x, draws.uniform(*option("blur_sigma")))
    theta = tf.where(isotropic, 0.0, draws.uniform(-math.pi, math.pi))
    beta = tf.gather(tf.stack([1.0, _either_side_of_one(draws, *option("betag_range")),
                               _either_side_of_one(draws, *option("betap_range"))]), kind)
    lowest_cutoff = tf.where(size < 13, math.pi / 3, math.pi / 5)
    return {"size": size, "sinc": draws.chance(option("sinc_prob")), "family": family, "sigma_x": sigma_x,
            "sigma_y": sigma_y, "theta": theta, "beta": beta, "plateau": tf.equal(kind, 2),
            "cutoff": draws.uniform(lowest_cutoff, math.pi)}


def _quality(draws: _Draws, quality_range) -> tf.Tensor:
    return tf.cast(tf.round(draws.uniform(*quality_range)), tf.int32)


def _stage_parameters(draws: _Draws, config: DegradationConfig, order: str) -> Dict[str, tf.Tensor]:
    """The resize and noise of one order."""
    option = functools.partial(config.of_order, order=order)
    direction = draws.choice(option("resize_prob"))
    low, high = option("resize_range")
    factor = tf.gather(tf.stack([draws.uniform(1.0, high), draws.uniform(low, 1.0), 1.0]), direction)
    return {"resize": direction, "factor": factor, "method": draws.pick(range(len(RESIZE_METHODS))),
            "gaussian": draws.chance(option("gaussian_noise_prob")),
            "sigma": draws.uniform(*option("noise_range")) / 255.0,
            "poisson_scale": draws.uniform(*option("poisson_scale_range")),
            "gray": draws.chance(option("gray_noise_prob")), "noise_seed": draws.seed()}


def sample_parameters(seed: tf.Tensor, config: DegradationConfig) -> Dict[str, tf.Tensor]:
    """Every random choice of one degradation, as a flat dict of tensors, from a stateless `seed` [2]."""
    draws = _Draws(seed)
    parameters = {}
    for prefix, group in [("blur1_", _blur_parameters(draws, config, "")),
                          ("stage1_", _stage_parameters(draws, config, "")),
                          ("blur2_", _blur_parameters(draws, config, "2")),
                          ("stage2_", _stage_parameters(draws, config, "2"))]:
        parameters.update({prefix + name: value for name, value in group.items()})
    final_size = draws.pick(config.kernel_sizes)
    parameters.update({
        "stage1_quality": _quality(draws, config.jpeg_range),  # the second order's JPEG is the final one
        "second_blur": draws.chance(config.second_blur_prob),
        "final_sinc": draws.chance(config.final_sinc_prob), "final_sinc_size": final_size,
        "final_sinc_cutoff": draws.uniform(math.pi / 3, math.pi),
        "final_method": draws.pick(range(len(RESIZE_METHODS))),
        "final_resize_first": draws.chance(0.5),
        "final_quality": _quality(draws, config.jpeg_range2),
    })
    return parameters


def _group(parameters: Dict[str, tf.Tensor], prefix: str) -> Dict[str, tf.Tensor]:
    """The parameters named `prefix`..., without the prefix."""
    return {name[len(prefix):]: value for name, value in parameters.items() if name.startswith(prefix)}


def blur_kernel(parameters: Dict[str, tf.Tensor], prefix: str) -> tf.Tensor:
    """The kernel that `_blur_parameters` describes (under `prefix`)."""
    p = _group(parameters, prefix)
    return tf.cond(p["sinc"], lambda: kernels.sinc(p["size"], p["cutoff"]),
                   lambda: kernels.gaussian_family(p["size"], p["sigma_x"], p["sigma_y"], p["theta"], p["beta"],
                                                   p["plateau"]))


def _resize(image: tf.Tensor, size: tf.Tensor, method: tf.Tensor) -> tf.Tensor:
    size = tf.maximum(size, 1)
    return tf.switch_case(method, [lambda m=m: tf.image.resize(image, size, method=m) for m in RESIZE_METHODS])


def _levels(image: tf.Tensor) -> tf.Tensor:
    """Real-ESRGAN's Poisson count scale: the distinct 8-bit values in `image`, rounded up to a power of 2."""
    values = tf.cast(tf.round(image * 255.0), tf.int32)
    distinct = tf.math.count_nonzero(tf.math.bincount(tf.reshape(values, [-1]), minlength=256, maxlength=256))
    return tf.pow(2.0, tf.math.ceil(tf.math.log(tf.cast(distinct, tf.float32)) / math.log(2.0)))


def standard_normal(shape: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Standard normal samples by the Box-Muller transform of uniform pairs: on one CPU core it took 1.1 ms
    for a 256x256x3 patch where `tf.random.stateless_normal` took 2.5."""
    count = tf.reduce_prod(shape)
    half = (count + 1) // 2
    uniform = tf.random.stateless_uniform([2, half], seed, minval=1e-7, maxval=1.0)
    radius = tf.sqrt(-2.0 * tf.math.log(uniform[0]))
    angle = 2.0 * math.pi * uniform[1]
    return tf.reshape(tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], 0)[:count], shape)


def add_noise(image: tf.Tensor, p: Dict[str, tf.Tensor]) -> tf.Tensor:
    """Gaussian noise of sigma `p["sigma"]`, or Poisson noise (its Gaussian approximation, see the module) times
    `p["poisson_scale"]`; the same in every channel when `p["gray"]`. Clipped to [0, 1]."""
    shape = tf.shape(image)
    gray_shape = tf.concat([shape[:-1], [1]], 0)
    noise_shape = tf.where(p["gray"], gray_shape, shape)
    unit = standard_normal(noise_shape, p["noise_seed"])

    def gaussian():
        return tf.clip_by_value(image + unit * p["sigma"], 0.0, 1.0)

    def poisson():  # the counts are of the image (or its grey) rounded to 8 bits, the noise added to the image
        gray = tf.reduce_sum(image * tf.constant(LUMA), axis=-1, keepdims=True)
        counted = imaging.quantize(tf.where(p["gray"], gray, image))
        deviation = tf.sqrt(counted / _levels(counted))
        return tf.clip_by_value(image + unit * deviation * p["poisson_scale"], 0.0, 1.0)

    return tf.cond(p["gaussian"], gaussian, poisson)


def _jpeg(image: tf.Tensor, quality: tf.Tensor) -> tf.Tensor:
    return tf.image.adjust_jpeg_quality(tf.clip_by_value(image, 0.0, 1.0), quality)


def _stage(image: tf.Tensor, parameters: Dict[str, tf.Tensor], order: str, size: tf.Tensor) -> tf.Tensor:
    """Blur (the second only by chance), resize to `size` times the drawn factor, noise; JPEG in the first
    order (the second order's is the final one)."""
    blur = lambda: kernels.filter_image(image, blur_kernel(parameters, f"blur{order}_"))  # noqa: E731
    image = tf.cond(parameters["second_blur"], blur, lambda: image) if order == "2" else blur()
    p = _group(parameters, f"stage{order}_")
    resized = tf.cast(tf.floor(tf.cast(size, tf.float32) * p["factor"]), tf.int32)
    image = _resize(image, resized, p["method"])
    noisy = add_noise(image, p)
    return _jpeg(noisy, p["quality"]) if order == "1" else noisy


def apply(hr: tf.Tensor, parameters: Dict[str, tf.Tensor], scale: int) -> tf.Tensor:
    """The LR image [H/s, W/s, 3] that `parameters` make of `hr` [H, W, 3] (float in [0, 1], H and W
    multiples of `scale`), unrounded."""
    shape = tf.shape(hr)[:2]
    lr_size = shape // scale
    image = _stage(hr, parameters, "1", shape)
    image = _stage(image, parameters, "2", lr_size)

    def resize_and_sinc(image):
        image = _resize(image, lr_size, parameters["final_method"])
        sinc = lambda: kernels.filter_image(  # noqa: E731
            image, kernels.sinc(parameters["final_sinc_size"], parameters["final_sinc_cutoff"]))
        return tf.cond(parameters["final_sinc"], sinc, lambda: image)

    quality = parameters["final_quality"]
    image = tf.cond(parameters["final_resize_first"], lambda: _jpeg(resize_and_sinc(image), quality),
                    lambda: resize_and_sinc(_jpeg(image, quality)))
    return tf.clip_by_value(image, 0.0, 1.0)


def unsharp_mask(image: tf.Tensor) -> tf.Tensor:
    """Real-ESRGAN's USM sharpening of an HR image [H, W, 3] (H, W > 25): the detail a 51-pixel Gaussian
    removes is added back at half strength where it exceeds 10 grey levels, blended in through a blurred
    mask so no edge of the mask shows."""
    gaussian = kernels.gaussian_family(2 * USM_RADIUS + 1, USM_SIGMA, USM_SIGMA, 0.0, 1.0, False)

    def blur(x):
        return kernels.filter_image(x, gaussian)

    residual = image - blur(image)
    mask = tf.cast(tf.abs(residual) > USM_THRESHOLD, tf.float32)
    soft_mask = blur(mask)
    sharp = tf.clip_by_value(image + USM_WEIGHT * residual, 0.0, 1.0)
    return soft_mask * sharp + (1.0 - soft_mask) * image


def degrade(hr: tf.Tensor, seed: tf.Tensor, config: DegradationConfig, scale: int) -> tf.Tensor:
    """The LR image Real-ESRGAN's process makes of `hr` (float [H, W, 3] in [0, 1]) with stateless `seed` [2]."""
    return apply(hr, sample_parameters(seed, config), scale)


def image_seed(seed: int, name: str) -> tf.Tensor:
    """The stateless seed of a whole image's degradation, from a run's seed and the image's name: each image
    of a folder gets an LR of its own, the same in every run and in every command."""
    return tf.constant([seed, zlib.crc32(name.encode("utf-8"))], tf.int64)


@tf.function(reduce_retracing=True)
def _degrade_pixels(hr: tf.Tensor, seed: tf.Tensor, config: DegradationConfig, scale: int) -> tf.Tensor:
    return imaging.to_uint8(degrade(imaging.to_float(hr), seed, config, scale))


def degrade_image(hr: np.ndarray, seed: int, name: str, config: DegradationConfig, scale: int) -> np.ndarray:
    """The uint8 LR [H/s, W/s, 3] that the degradation seeded by (`seed`, `name`) makes of uint8 `hr`
    [H, W, 3] (H and W multiples of `scale`); ValueError if `hr` is smaller than the kernels need."""
    height, width = hr.shape[:2]
    check_fits(config, min(height, width), scale, f"an image of {width}x{height}")
    return _degrade_pixels(tf.constant(hr), image_seed(seed, name), config, scale).numpy()


def _filtered_sizes(config: DegradationConfig, side: int, scale: int) -> Dict[str, int]:
    """The smallest image each kernel may filter, by what it is, for HR images of `side` pixels."""
    sizes = {"the HR image": side}
    if config.second_blur_prob:
        shrink = config.resize_range[0] if config.resize_prob[1] else 1.0
        sizes[f"the first resize's smallest result (x{shrink:g}, --resize_range)"] = math.floor(side * shrink)
    if config.final_sinc_prob:
        sizes["the LR image"] = side // scale
    return sizes


def smallest_image(config: DegradationConfig, scale: int) -> int:
    """The smallest HR side, a multiple of `scale`, that the degradation can process: every kernel must fit
    (reflection padding) the smallest image it filters."""
    side = scale
    while min(_filtered_sizes(config, side, scale).values()) <= config.blur_kernel_size // 2:
        side += scale
    return side


def check_fits(config: DegradationConfig, side: int, scale: int, named: str) -> None:
    """Raises ValueError, naming `named` (the flag or image at fault), if HR images of `side` pixels are too
    small for the kernels."""
    smallest = smallest_image(config, scale)
    if side >= smallest:
        return
    what, size = min(_filtered_sizes(config, side, scale).items(), key=lambda item: item[1])
    raise ValueError(
        f"--blur_kernel_size={config.blur_kernel_size} is too large for {named}: kernels of up to "
        f"{config.blur_kernel_size} pixels filter {what}, of {size} pixels here, which must exceed their radius "
        f"{config.blur_kernel_size // 2}; --degradation=realesrgan at --scale={scale} needs at least {smallest} "
        f"pixels a side. Use larger images or a smaller --blur_kernel_size.")


class RealESRGAN(Degradation):
    """Real-ESRGAN's random second-order degradation (`degrade`), drawn for each patch or image from a seed of
    its own; with --usm_hr the target is the sharpened HR patch, which is also what is degraded."""

    seeded = True

    def check_patch_size(self, config, patch, scale):
        check_fits(config, patch, scale, f"--hr_patch_size={patch}")
        if config.usm_hr and patch <= USM_RADIUS:
            raise ValueError(f"--usm_hr sharpens with a {2 * USM_RADIUS + 1}-pixel kernel: --hr_patch_size={patch} "
                             f"must be above {USM_RADIUS}.")

    def training_pair(self, hr, seed, config, scale):
        if config.usm_hr:
            hr = unsharp_mask(hr)
        return degrade(hr, seed, config, scale), hr

    def benchmark_lr(self, hr, seed, name, config, scale):
        return degrade_image(hr, seed, name, config, scale)

    def describe(self, seed):
        return f"realesrgan degradation, seed {seed}"


REALESRGAN = RealESRGAN()
