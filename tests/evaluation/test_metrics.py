"""PSNR and SSIM against a NumPy computation of the papers' definitions and scikit-image (metrics.py)."""
import numpy as np
import pytest
import tensorflow as tf
from skimage.metrics import structural_similarity

from srgan_tf.evaluation import metrics


def reference_planes(images_uint8: np.ndarray, shave: int, y_only: bool) -> np.ndarray:
    """`[N, C, H, W]` float64 on [0, 255]: MATLAB rgb2ycbcr luma (or RGB), border removed."""
    x = images_uint8.astype(np.float64)
    if y_only:
        x = 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0
        x = x[..., None]
    if shave:
        x = x[:, shave:-shave, shave:-shave, :]
    return np.moveaxis(x, -1, 1)


def reference_psnr(hr, sr, shave, y_only):
    a, b = reference_planes(hr, shave, y_only), reference_planes(sr, shave, y_only)
    mse = ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)
    return 10.0 * np.log10(255.0 ** 2 / mse)


def filter_valid(plane: np.ndarray) -> np.ndarray:
    """Correlation with the 11x11 Gaussian (sigma 1.5) over fully covered pixels (MATLAB filter2 'valid')."""
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    patches = np.lib.stride_tricks.sliding_window_view(plane, (11, 11))
    return np.einsum("ijkl,kl->ij", patches, window)


def reference_ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = filter_valid(a), filter_valid(b)
    var_a = filter_valid(a * a) - mu_a ** 2
    var_b = filter_valid(b * b) - mu_b ** 2
    cov = filter_valid(a * b) - mu_a * mu_b
    numerator = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    ssim_map = numerator / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def reference_ssim(hr, sr, shave, y_only):
    a, b = reference_planes(hr, shave, y_only), reference_planes(sr, shave, y_only)
    return np.array([np.mean([reference_ssim_plane(pa, pb) for pa, pb in zip(image_a, image_b)])
                     for image_a, image_b in zip(a, b)])


@pytest.fixture(scope="module")
def image_pairs():
    """Two random HR images and degraded versions of them (noise, so SSIM is neither 0 nor 1)."""
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (2, 37, 42, 3)).astype(np.uint8)
    sr = np.clip(hr + rng.normal(0, 25, hr.shape), 0, 255).round().astype(np.uint8)
    return hr, sr


@pytest.mark.parametrize("y_only", [True, False])
@pytest.mark.parametrize("shave", [0, 4])
def test_psnr_and_ssim_match_numpy_reference(image_pairs, shave, y_only):
    hr, sr = image_pairs
    # Float inputs in [0, 1], as the training loop passes them.
    hr_float, sr_float = hr.astype(np.float32) / 255.0, sr.astype(np.float32) / 255.0
    psnr = metrics.psnr(hr_float, sr_float, shave, y_only=y_only).numpy()
    ssim = metrics.ssim(hr_float, sr_float, shave, y_only=y_only).numpy()
    assert psnr.shape == ssim.shape == (2,)
    np.testing.assert_allclose(psnr, reference_psnr(hr, sr, shave, y_only), rtol=1e-6)
    np.testing.assert_allclose(ssim, reference_ssim(hr, sr, shave, y_only), rtol=1e-6)
    # uint8 inputs are taken as [0, 255] and measured exactly.
    np.testing.assert_allclose(metrics.psnr(hr, sr, shave, y_only).numpy(),
                               reference_psnr(hr, sr, shave, y_only), rtol=1e-12)
    np.testing.assert_allclose(metrics.ssim(hr, sr, shave, y_only).numpy(),
                               reference_ssim(hr, sr, shave, y_only), rtol=1e-10)


@pytest.mark.parametrize("y_only", [True, False])
def test_ssim_matches_scikit_image(image_pairs, y_only):
    hr, sr = image_pairs
    a, b = reference_planes(hr, 4, y_only), reference_planes(sr, 4, y_only)
    expected = [structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=255, channel_axis=0) for x, y in zip(a, b)]
    np.testing.assert_allclose(metrics.ssim(hr, sr, 4, y_only).numpy(), expected, rtol=1e-10)


def test_luma_is_matlab_rgb2ycbcr():
    colours = np.array([[[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]]], np.uint8)
    np.testing.assert_allclose(metrics.rgb_to_y(colours).numpy()[0, 0, :, 0],
                               [16.0, 235.0, 16.0 + 65.481, 16.0 + 24.966], rtol=1e-12)


def test_identical_images_give_infinite_psnr_and_unit_ssim(image_pairs):
    hr, _ = image_pairs
    psnr = metrics.psnr(hr, hr, 4).numpy()
    assert np.all(np.isposinf(psnr))
    np.testing.assert_allclose(metrics.ssim(hr, hr, 4).numpy(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_metrics_run_in_graph_with_unknown_shapes(image_pairs, jit_compile):
    hr, sr = (tf.constant(x, tf.float32) / 255.0 for x in image_pairs)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)] * 2,
                 jit_compile=jit_compile)
    def both(a, b):
        return metrics.psnr(a, b, 4), metrics.ssim(a, b, 4)

    psnr, ssim = both(hr, sr)
    np.testing.assert_allclose(psnr.numpy(), metrics.psnr(hr, sr, 4).numpy(), rtol=1e-12)
    np.testing.assert_allclose(ssim.numpy(), metrics.ssim(hr, sr, 4).numpy(), rtol=1e-12)


def test_bad_arguments_are_named(image_pairs):
    hr, sr = image_pairs
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(hr, sr[:, :-1], 4)
    with pytest.raises(ValueError, match="shave=-1"):
        metrics.ssim(hr, sr, -1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="smaller than 11x11"):
        metrics.ssim(hr[:, :20], sr[:, :20], 5)
