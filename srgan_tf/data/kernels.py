"""Real-ESRGAN's blur kernels, built in TensorFlow from their parameters.

Every kernel is square, of odd side, sums to 1 and is point-symmetric (k[i, j] = k[-i, -j] about the centre),
so filtering with it is the same as convolving. The Gaussian family shares one formula: with
Q = [x y] Sigma^-1 [x y]^T over the kernel's offsets and Sigma the covariance of widths (sigma_x, sigma_y)
turned by theta, a generalised Gaussian is exp(-Q^beta / 2) (beta = 1: the Gaussian) and a plateau kernel
1 / (1 + Q^beta). The sinc kernel is the circular low-pass filter of cut-off omega (radians per pixel), whose
ringing mimics over-sharpened or ringing camera output.
"""
from __future__ import annotations

import math

import tensorflow as tf


def _offsets(size: tf.Tensor) -> tf.Tensor:
    """The offsets -(size // 2) .. size // 2 of an odd `size`, as float32."""
    radius = size // 2
    return tf.cast(tf.range(-radius, radius + 1), tf.float32)


def _grid(size: tf.Tensor):
    """(x, y) offsets of every tap of a size x size kernel: x along rows of the kernel (columns of the
    image), y down its columns, as Real-ESRGAN's `mesh_grid`."""
    axis = _offsets(size)
    return tf.meshgrid(axis, axis)


def gaussian_family(size, sigma_x, sigma_y, theta, beta, plateau) -> tf.Tensor:
    """A `size` x `size` kernel of the Gaussian family: widths `sigma_x`, `sigma_y` turned by `theta`, shape
    `beta`; a plateau (1 / (1 + Q^beta)) if `plateau`, else a generalised Gaussian (exp(-Q^beta / 2))."""
    x, y = _grid(size)
    cos, sin = tf.cos(theta), tf.sin(theta)
    # Sigma = R diag(sx^2, sy^2) R^T, so Sigma^-1 = R diag(1/sx^2, 1/sy^2) R^T: the offsets rotated by -theta.
    along = x * cos + y * sin
    across = -x * sin + y * cos
    q = tf.square(along / sigma_x) + tf.square(across / sigma_y)
    q_beta = tf.pow(q, beta)
    kernel = tf.where(plateau, 1.0 / (1.0 + q_beta), tf.exp(-0.5 * q_beta))
    return kernel / tf.reduce_sum(kernel)


def sinc(size, cutoff) -> tf.Tensor:
    """The circular low-pass (2-D sinc) kernel of `cutoff` radians per pixel, normalised to sum 1:
    cutoff * J1(cutoff * r) / (2 pi r), and its limit cutoff^2 / (4 pi) at the centre."""
    x, y = _grid(size)
    r = tf.sqrt(tf.square(x) + tf.square(y))
    centre = tf.equal(r, 0.0)
    safe_r = tf.where(centre, tf.ones_like(r), r)
    kernel = tf.where(centre, tf.square(cutoff) / (4.0 * math.pi),
                      cutoff * tf.math.special.bessel_j1(cutoff * safe_r) / (2.0 * math.pi * safe_r))
    return kernel / tf.reduce_sum(kernel)


def _smooth_sizes(limit: int = 1 << 15) -> list:
    """The sizes up to `limit` with no prime factor above 5, which FFTs transform fastest (a prime size took
    twice as long as a 5-smooth one a little larger)."""
    sizes = {1}
    for factor in (2, 3, 5):
        sizes |= {size * factor ** power for size in sizes for power in range(1, 16) if size * factor ** power <= limit}
    return sorted(sizes)


_FFT_SIZES = _smooth_sizes()


def _fft_size(length: tf.Tensor) -> tf.Tensor:
    return tf.gather(tf.constant(_FFT_SIZES), tf.searchsorted(tf.constant(_FFT_SIZES), length[tf.newaxis])[0])


def filter_image(image: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """`image` [H, W, C] filtered by the odd square `kernel` in every channel, edges reflected (as
    Real-ESRGAN's filter2D); H and W must exceed the kernel's radius.

    Computed by FFT, whose cost does not grow with the kernel: on a 256x256 patch, a 21x21 kernel took
    about 12 ms as a depthwise convolution on one CPU core and about 2.3 ms as FFT. The padded image is
    transformed at the next 5-smooth size; padded by the kernel's radius, it leaves the pixels kept
    untouched by the circular convolution's wrap-around. (The kernels are point-symmetric, so convolving
    is filtering.)
    """
    radius = tf.shape(kernel)[0] // 2
    padded = tf.pad(image, [[radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    planes = tf.transpose(padded, [2, 0, 1])
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    fft_size = tf.stack([_fft_size(height + 2 * radius), _fft_size(width + 2 * radius)])
    # Both are zero-padded to the transform's size; with the kernel's centre at (radius, radius) instead of
    # the origin, the result is shifted by the radius: the pixels kept start at 2 x radius.
    spectrum = tf.signal.rfft2d(planes, fft_length=fft_size) * tf.signal.rfft2d(kernel, fft_length=fft_size)
    filtered = tf.signal.irfft2d(spectrum, fft_length=fft_size)
    start = 2 * radius
    return tf.transpose(filtered[:, start:start + height, start:start + width], [1, 2, 0])
