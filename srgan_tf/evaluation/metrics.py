"""PSNR and SSIM measured the way super-resolution papers report them.

Papers measure the luma (Y) of MATLAB's `rgb2ycbcr`, in float64 on [0, 255], after removing a border of
`scale` pixels (an upscaler cannot know what lies beyond the image edge); SSIM uses the 11x11 Gaussian
window (sigma 1.5) of Wang et al. (2004) over the valid region only. `tf.image.psnr` and `tf.image.ssim`
differ on each of these points, so their figures are not comparable with published tables.

Both metrics take batches `[N, H, W, 3]`, floats in [0, 1] or uint8 in [0, 255], and return one float64
value per image, so a training loop can call them inside a `tf.function`.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

# MATLAB rgb2ycbcr: Y = 16 + 65.481 R + 128.553 G + 24.966 B, with R, G, B in [0, 1].
Y_OFFSET = 16.0
Y_WEIGHTS = (65.481, 128.553, 24.966)

PIXEL_MAX = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def to_255(images) -> tf.Tensor:
    """float64 on [0, 255]: uint8 images are taken as they are, floats as [0, 1]."""
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float64)
    return tf.cast(images, tf.float64) * PIXEL_MAX


def rgb_to_y(images) -> tf.Tensor:
    """Luma `[..., 1]` in [16, 235] (float64) of RGB images `[..., 3]`, as MATLAB's `rgb2ycbcr`."""
    weights = tf.constant(Y_WEIGHTS, tf.float64) / PIXEL_MAX
    return Y_OFFSET + tf.reduce_sum(to_255(images) * weights, axis=-1, keepdims=True)


def _measured_region(hr, sr, shave: int, y_only: bool, min_size: int):
    """Both batches as float64 on [0, 255] (Y or RGB) without their `shave`-pixel border."""
    if shave < 0:
        raise ValueError(f"shave={shave} must be >= 0.")
    convert = rgb_to_y if y_only else to_255
    hr, sr = convert(hr), convert(sr)
    if not hr.shape.is_compatible_with(sr.shape):
        raise ValueError(f"HR batch {hr.shape} and SR batch {sr.shape} differ in shape.")
    if shave:
        hr = hr[:, shave:-shave, shave:-shave, :]
        sr = sr[:, shave:-shave, shave:-shave, :]
    tf.debugging.assert_greater_equal(
        tf.reduce_min(tf.shape(hr)[1:3]), min_size,
        message=f"images minus a {shave}-pixel border are smaller than {min_size}x{min_size}")
    return hr, sr


def psnr(hr, sr, shave: int, y_only: bool = True) -> tf.Tensor:
    """Peak signal-to-noise ratio in dB, `[N]` float64, with peak 255.

    Identical images give +inf (the exact value; the mean squared error is 0), so a mean over a set that
    contains one is +inf too rather than a made-up finite figure.
    """
    hr, sr = _measured_region(hr, sr, shave, y_only, min_size=1)
    mse = tf.reduce_mean(tf.math.squared_difference(hr, sr), axis=[1, 2, 3])
    return 10.0 * tf.math.log(PIXEL_MAX ** 2 / mse) / tf.math.log(tf.constant(10.0, tf.float64))


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """The normalised 1-D Gaussian whose outer product is MATLAB's `fspecial('gaussian', size, sigma)`."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    weights = np.exp(-0.5 * (x / sigma) ** 2)
    return weights / weights.sum()


def _gaussian_filter_valid(images: tf.Tensor) -> tf.Tensor:
    """Separable Gaussian filtering of each channel of `[N, H, W, C]` float64, keeping only fully covered
    pixels. (Depthwise over channels runs about three times faster on CPU than a one-channel conv2d.)"""
    channels = images.shape[-1]
    window = tf.constant(gaussian_window(), tf.float64)
    column = tf.tile(tf.reshape(window, [-1, 1, 1, 1]), [1, 1, channels, 1])
    row = tf.reshape(column, [1, -1, channels, 1])
    images = tf.nn.depthwise_conv2d(images, column, strides=[1, 1, 1, 1], padding="VALID")
    return tf.nn.depthwise_conv2d(images, row, strides=[1, 1, 1, 1], padding="VALID")


def ssim(hr, sr, shave: int, y_only: bool = True) -> tf.Tensor:
    """Structural similarity, `[N]` float64: mean of the SSIM map over the valid region (and channels).

    Population (not sample) statistics under the Gaussian window, as the reference MATLAB code and
    scikit-image's `structural_similarity(gaussian_weights=True, use_sample_covariance=False)`.
    """
    x, y = _measured_region(hr, sr, shave, y_only, min_size=SSIM_WINDOW)
    # One filtering pass over the five maps the statistics need.
    mu_x, mu_y, xx, yy, xy = tf.split(_gaussian_filter_valid(tf.concat([x, y, x * x, y * y, x * y], -1)), 5, -1)
    var_x, var_y, cov_xy = xx - mu_x ** 2, yy - mu_y ** 2, xy - mu_x * mu_y
    c1, c2 = (SSIM_K1 * PIXEL_MAX) ** 2, (SSIM_K2 * PIXEL_MAX) ** 2
    ssim_map = ((2.0 * mu_x * mu_y + c1) * (2.0 * cov_xy + c2)) / (
        (mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return tf.reduce_mean(ssim_map, axis=[1, 2, 3])
