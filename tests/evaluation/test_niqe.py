"""NIQE as the authors' MATLAB release computes it (niqe.py): its published value on BasicSR's test image,
MATLAB's half-size resize, and images NIQE cannot score."""
import numpy as np
import pytest

from srgan_tf.common import imaging
from srgan_tf.evaluation import metrics, niqe
from tests.conftest import shared_data

MATLAB_BABOON = 5.72957338  # MATLAB R2021a, the authors' release, whole image


def test_baboon_scores_the_matlab_release_value():
    baboon = imaging.load_rgb(f"{shared_data('niqe')}/baboon.png")
    assert abs(niqe.niqe(baboon) - MATLAB_BABOON) <= 0.001


def test_half_size_resize_averages_a_ramp_and_keeps_a_constant():
    # MATLAB's antialiased bicubic kernel reproduces linear functions away from the ends: output i sits halfway
    # between inputs 2i and 2i + 1.
    ramp = np.tile(np.arange(40, dtype=np.float64), (40, 1))
    half = niqe.half_size(ramp)
    assert half.shape == (20, 20)
    np.testing.assert_allclose(half[:, 3:-3], np.tile(np.arange(3, 17) * 2 + 0.5, (20, 1)), atol=1e-12)
    np.testing.assert_allclose(niqe.half_size(np.full((12, 8), 7.0)), 7.0, atol=1e-12)


def test_luminance_is_the_evaluation_y_rounded(make_image):
    image = make_image(20, 30, seed=4)
    y = metrics.rgb_to_y(image[None]).numpy()[0, ..., 0]
    np.testing.assert_array_equal(niqe.luminance(image), np.floor(y + 0.5))
    grey = image[..., 0]
    np.testing.assert_array_equal(niqe.luminance(grey), grey)


def test_flat_blocks_are_left_out_rather_than_making_nan(make_image):
    image = make_image(192, 288, seed=1)
    image[:96, :96] = 128  # a block with no contrast: its fits are undefined
    score = niqe.niqe(image)
    assert np.isfinite(score) and score > 0


def test_images_under_two_blocks_are_refused(make_image):
    assert np.isfinite(niqe.niqe(make_image(96, 192)))
    with pytest.raises(niqe.ImageTooSmall, match="holds 1 whole 96x96 block"):
        niqe.niqe(make_image(104, 196), border=4)  # 188x96 inside the border
