"""Real-ESRGAN's blur kernels built in TensorFlow, against NumPy/SciPy written from the paper's formulas."""
import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage, special

from srgan_tf.data import kernels


def reference_gaussian_family(size, sigma_x, sigma_y, theta, beta, plateau):
    """Sigma = R diag(sx^2, sy^2) R^T; Q = v^T Sigma^-1 v; exp(-Q^beta / 2) or 1 / (1 + Q^beta), normalised."""
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    inverse = np.linalg.inv(rotation @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ rotation.T)
    axis = np.arange(size) - size // 2
    x, y = np.meshgrid(axis, axis)
    v = np.stack([x, y], -1).astype(np.float64)
    q = np.einsum("...i,ij,...j->...", v, inverse, v)
    kernel = 1 / (1 + q ** beta) if plateau else np.exp(-0.5 * q ** beta)
    return kernel / kernel.sum()


def reference_sinc(size, cutoff):
    axis = np.arange(size) - size // 2
    x, y = np.meshgrid(axis, axis)
    r = np.hypot(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    kernel[size // 2, size // 2] = cutoff ** 2 / (4 * np.pi)
    return kernel / kernel.sum()


FAMILY = [  # size, sigma_x, sigma_y, theta, beta, plateau
    (7, 1.0, 1.0, 0.0, 1.0, False),  # isotropic Gaussian
    (21, 3.0, 0.4, 0.7, 1.0, False),  # anisotropic, turned
    (13, 2.0, 2.0, 0.0, 0.6, False),  # generalised, heavy tails
    (15, 1.5, 0.8, -2.0, 3.5, False),  # generalised, flat top
    (9, 1.2, 1.2, 0.0, 1.5, True),  # plateau
    (17, 2.5, 1.0, 2.5, 1.0, True),
]


@pytest.mark.parametrize("size,sigma_x,sigma_y,theta,beta,plateau", FAMILY)
def test_gaussian_family_kernels_match_their_formula_sum_to_one_and_are_point_symmetric(size, sigma_x, sigma_y,
                                                                                       theta, beta, plateau):
    kernel = kernels.gaussian_family(tf.constant(size), sigma_x, sigma_y, theta, beta, plateau).numpy()
    assert kernel.shape == (size, size)
    np.testing.assert_allclose(kernel, reference_gaussian_family(size, sigma_x, sigma_y, theta, beta, plateau),
                               rtol=1e-4, atol=1e-7)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-7)
    if sigma_x == sigma_y:  # isotropic: every flip and the transposition
        np.testing.assert_allclose(kernel, kernel[::-1], atol=1e-7)
        np.testing.assert_allclose(kernel, kernel.T, atol=1e-7)
    else:
        assert not np.allclose(kernel, kernel.T, atol=1e-4)


def test_an_anisotropic_kernel_is_longest_along_its_angle():
    kernel = kernels.gaussian_family(tf.constant(21), 4.0, 0.5, math.pi / 2, 1.0, False).numpy()
    assert kernel[:, 10].sum() > 5 * kernel[10, :].sum()  # turned a quarter: long down the columns


@pytest.mark.parametrize("size,cutoff", [(7, math.pi / 3), (13, 2.0), (21, math.pi / 5), (21, math.pi)])
def test_sinc_kernels_are_the_circular_low_pass_filter(size, cutoff):
    kernel = kernels.sinc(tf.constant(size), cutoff).numpy()
    assert kernel.shape == (size, size)
    np.testing.assert_allclose(kernel, reference_sinc(size, cutoff), rtol=1e-4, atol=1e-6)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    for symmetric in (kernel[::-1], kernel[:, ::-1], kernel.T):
        np.testing.assert_allclose(kernel, symmetric, atol=1e-7)
    if cutoff < 1.0:
        assert kernel.min() < 0  # it rings


@pytest.mark.parametrize("shape,size", [((64, 64, 3), 21), ((37, 50, 3), 7), ((11, 12, 1), 21), ((5, 5, 3), 3)])
def test_filtering_by_fft_equals_direct_filtering_with_reflected_edges(shape, size):
    image = np.random.default_rng(0).random(shape, np.float32)
    kernel = reference_gaussian_family(size, 2.0, 0.7, 0.5, 1.0, False)
    expected = np.stack([ndimage.correlate(image[..., c].astype(np.float64), kernel, mode="mirror")
                         for c in range(shape[-1])], axis=-1)
    filtered = kernels.filter_image(tf.constant(image), tf.constant(kernel, tf.float32)).numpy()
    assert filtered.shape == shape
    np.testing.assert_allclose(filtered, expected, atol=2e-6)

