"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE SPL 2013): a no-reference
score of how far an image's local statistics lie from those of pristine photographs. Lower is more natural.

Computed as the authors' MATLAB release computes it, so that figures can be set beside published ones: the Y
channel of MATLAB's `rgb2ycbcr` rounded to integers, the image cropped to whole 96x96 blocks, mean-subtracted
contrast-normalised coefficients under a 7x7 Gaussian window (replicated borders), 18 features per block (a
generalised Gaussian fit to the coefficients and asymmetric ones to the products of neighbours in four
directions), again at half size after MATLAB's antialiased bicubic `imresize`, and the Mahalanobis-like
distance of the fitted multivariate Gaussian to the published pristine model (`niqe_pris_params.npz`, see
NOTICE). In NumPy (no SciPy needed): the fits are table look-ups, as in MATLAB.
"""
from __future__ import annotations

import functools
import math
import os
from typing import Optional, Tuple

import numpy as np

from srgan_tf.evaluation.metrics import PIXEL_MAX, Y_OFFSET, Y_WEIGHTS

BLOCK = 96  # pixels per block side at full size, as the pristine model was fitted
MIN_BLOCKS = 2  # a covariance needs at least two blocks
PARAMS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "niqe_pris_params.npz")
# Neighbour directions of the pairwise products, as (row, column) shifts of MATLAB's circshift.
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))
# The shape parameters searched by the fits: MATLAB's 0.2:0.001:10.
_SHAPES = 0.2 + 0.001 * np.arange(9801)


class ImageTooSmall(ValueError):
    """The image holds fewer than MIN_BLOCKS whole blocks: NIQE is undefined for it."""


@functools.lru_cache(maxsize=1)
def pristine_model() -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean [36], covariance [36, 36], Gaussian window [7, 7]) of the published pristine-image model."""
    with np.load(PARAMS_PATH) as params:
        return (params["mu_pris_param"].reshape(-1), params["cov_pris_param"], params["gaussian_window"])


def luminance(image: np.ndarray) -> np.ndarray:
    """float64 Y in [16, 235] of a uint8 RGB (or grey) image, rounded half away from zero as MATLAB's
    uint8 `rgb2ycbcr` output is."""
    if image.ndim == 2 or image.shape[-1] == 1:
        return image.reshape(image.shape[:2]).astype(np.float64)
    y = Y_OFFSET + image[..., :3].astype(np.float64) @ (np.array(Y_WEIGHTS) / PIXEL_MAX)
    return np.floor(y + 0.5)


def _cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB imresize's bicubic kernel (a = -0.5)."""
    ax = np.abs(x)
    return np.where(ax <= 1, 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1,
                    np.where(ax <= 2, -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2, 0.0))


def _half_size_matrix(length: int) -> np.ndarray:
    """[length // 2, length] weights of MATLAB's `imresize(x, 0.5)` along one axis: the bicubic kernel
    stretched by 2 (antialiasing), symmetric padding at the ends, each row normalised to sum to 1."""
    scale, width = 0.5, 4.0 / 0.5
    out = np.arange(1, length // 2 + 1, dtype=np.float64)
    centre = out / scale + 0.5 * (1 - 1 / scale)
    taps = np.floor(centre - width / 2)[:, None] + np.arange(int(math.ceil(width)) + 2)[None, :]
    weights = scale * _cubic(scale * (centre[:, None] - taps))
    weights /= weights.sum(axis=1, keepdims=True)
    mirrored = np.concatenate([np.arange(length), np.arange(length)[::-1]])
    columns = mirrored[np.mod(taps.astype(np.int64) - 1, 2 * length)]
    matrix = np.zeros((len(out), length))
    np.add.at(matrix, (np.repeat(np.arange(len(out)), taps.shape[1]), columns.reshape(-1)), weights.reshape(-1))
    return matrix


def half_size(image: np.ndarray) -> np.ndarray:
    """MATLAB's `imresize(image, 0.5)` (bicubic, antialiased) of a float image with even sides."""
    return _half_size_matrix(image.shape[0]) @ image @ _half_size_matrix(image.shape[1]).T


def _filter_replicate(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """MATLAB `imfilter(image, window, 'replicate')` for a small odd window."""
    radius = window.shape[0] // 2
    padded = np.pad(image, radius, mode="edge")
    height, width = image.shape
    out = np.zeros_like(image)
    for dy in range(window.shape[0]):
        for dx in range(window.shape[1]):
            out += window[dy, dx] * padded[dy:dy + height, dx:dx + width]
    return out


def normalised_coefficients(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """The MSCN coefficients: (I - mu) / (sigma + 1) under the Gaussian window."""
    mu = _filter_replicate(image, window)
    sigma = np.sqrt(np.abs(_filter_replicate(image * image, window) - mu * mu))
    return (image - mu) / (sigma + 1)


@functools.lru_cache(maxsize=1)
def _shape_ratios() -> np.ndarray:
    """Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)) over `_SHAPES`: the moment ratio the shape fit matches."""
    gamma = np.vectorize(math.gamma)
    return gamma(2 / _SHAPES) ** 2 / (gamma(1 / _SHAPES) * gamma(3 / _SHAPES))


def fit_aggd(samples: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shape, left scale and right scale of an asymmetric generalised Gaussian fitted to each row of
    `samples` ([B, N]) by moment matching, as the MATLAB release's estimateaggdparam. A row with no negative
    (or no positive) value gets NaN scales, which the pooling leaves out as MATLAB's nanmean and nancov do;
    its undefined ratio selects the first shape, as MATLAB's min over NaNs does."""
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt(np.sum(np.minimum(samples, 0) ** 2, axis=1) / np.sum(samples < 0, axis=1))
        right = np.sqrt(np.sum(np.maximum(samples, 0) ** 2, axis=1) / np.sum(samples > 0, axis=1))
        gamma_hat = left / right
        r_hat = np.mean(np.abs(samples), axis=1) ** 2 / np.mean(samples ** 2, axis=1)
        r_norm = r_hat * (gamma_hat ** 3 + 1) * (gamma_hat + 1) / (gamma_hat ** 2 + 1) ** 2
        shape = _SHAPES[np.argmin((_shape_ratios()[None, :] - r_norm[:, None]) ** 2, axis=1)]
    gamma = np.vectorize(math.gamma)
    to_scale = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    return shape, left * to_scale, right * to_scale


def block_features(coefficients: np.ndarray, block: int) -> np.ndarray:
    """[blocks, 18] features of each `block` x `block` tile (row-major) of the MSCN coefficients: the
    shape and mean scale of the coefficients' fit, then per neighbour direction the shape, mean and two
    scales of the fit to the products of each coefficient with its neighbour (wrapping inside the tile, as
    MATLAB's blkproc and circshift do)."""
    rows, cols = coefficients.shape[0] // block, coefficients.shape[1] // block
    tiles = (coefficients[:rows * block, :cols * block].reshape(rows, block, cols, block)
             .transpose(0, 2, 1, 3).reshape(rows * cols, block, block))
    shape, left, right = fit_aggd(tiles.reshape(len(tiles), -1))
    features = [shape, (left + right) / 2]
    gamma = np.vectorize(math.gamma)
    for shift in _SHIFTS:
        products = (tiles * np.roll(tiles, shift, axis=(1, 2))).reshape(len(tiles), -1)
        shape, left, right = fit_aggd(products)
        mean = (right - left) * gamma(2 / shape) / gamma(1 / shape)
        features += [shape, mean, left, right]
    return np.stack(features, axis=1)


def _pinv(matrix: np.ndarray) -> np.ndarray:
    """MATLAB's pinv: singular values below max(size) * eps(largest) count as zero."""
    u, s, vt = np.linalg.svd(matrix)
    keep = s > max(matrix.shape) * np.spacing(s[0])
    return (vt[keep].T / s[keep]) @ u[:, keep].T


def size_problem(height: int, width: int, where: str = "") -> Optional[str]:
    """Why NIQE cannot score an image of this size (fewer than MIN_BLOCKS whole blocks), or None; `where`
    follows the size in the message (e.g. which border was removed)."""
    blocks = max(height // BLOCK, 0) * max(width // BLOCK, 0)
    if blocks >= MIN_BLOCKS:
        return None
    return (f"{width}x{height}{where} holds {blocks} whole {BLOCK}x{BLOCK} block(s); NIQE needs at least "
            f"{MIN_BLOCKS}")


def niqe_of_luminance(y: np.ndarray) -> float:
    """NIQE of a float64 luminance image in [0, 255], border already removed. Raises ImageTooSmall if it
    holds fewer than MIN_BLOCKS whole blocks."""
    problem = size_problem(*y.shape[:2])
    if problem:
        raise ImageTooSmall(problem + ".")
    rows, cols = y.shape[0] // BLOCK, y.shape[1] // BLOCK
    mean_pristine, cov_pristine, window = pristine_model()
    image = y[:rows * BLOCK, :cols * BLOCK]
    features = []
    for level in range(2):
        features.append(block_features(normalised_coefficients(image, window), BLOCK >> level))
        if level == 0:
            image = half_size(image)
    features = np.concatenate(features, axis=1)
    mean = np.nanmean(features, axis=0)
    complete = features[~np.isnan(features).any(axis=1)]
    covariance = np.cov(complete, rowvar=False)
    difference = mean_pristine - mean
    return float(np.sqrt(difference @ _pinv((cov_pristine + covariance) / 2) @ difference))


def niqe(image: np.ndarray, border: int = 0) -> float:
    """NIQE of a uint8 RGB or grey image after removing `border` pixels on each side. Lower is more
    natural. Raises ImageTooSmall where fewer than two 96x96 blocks remain."""
    y = luminance(image)
    if border:
        y = y[border:-border, border:-border]
    return niqe_of_luminance(y)
