"""Real-ESRGAN's degradation: its random choices, its stages, and LR that depends on the seed alone."""
import dataclasses
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from scipy import fft

from srgan_tf.common import imaging
from srgan_tf.config import DataConfig, DegradationConfig
from srgan_tf.data import pipeline, realesrgan
from srgan_tf.evaluation.image_pairs import find_benchmarks, load_pair
from srgan_tf.evaluation.scoring import EvalConfig, evaluate_benchmark
from srgan_tf.evaluation.upscalers import bicubic

# Every probability away from its default, so that each is seen to come from its own setting.
SKEWED = DegradationConfig(
    degradation="realesrgan", kernel_prob=(0.1, 0.2, 0.3, 0.05, 0.15, 0.2), sinc_prob=0.3, resize_prob=(0.5, 0.2, 0.3),
    gaussian_noise_prob=0.7, gray_noise_prob=0.2, second_blur_prob=0.6, kernel_prob2=(0.0, 0.0, 0.0, 0.0, 0.5, 0.5),
    sinc_prob2=0.0, resize_prob2=(0.1, 0.1, 0.8), gaussian_noise_prob2=0.25, gray_noise_prob2=0.9,
    final_sinc_prob=0.35, jpeg_range=(40, 50), blur_sigma=(0.5, 2.0), resize_range=(0.3, 1.2))
DRAWS = 4000
# A small patch needs small kernels (Real-ESRGAN's 7 to 21 need patches of at least 74 pixels at x4).
SMALL = DegradationConfig(degradation="realesrgan", blur_kernel_size=3)


@pytest.fixture(scope="module")
def drawn():
    """The parameters of DRAWS degradations, each a numpy array over the draws."""
    seeds = tf.data.Dataset.random(seed=11).batch(2, drop_remainder=True).take(DRAWS)
    parameters = seeds.map(lambda seed: realesrgan.sample_parameters(seed, SKEWED),
                           num_parallel_calls=tf.data.AUTOTUNE)
    return {name: value.numpy() for name, value in parameters.batch(DRAWS).get_single_element().items()}


def assert_frequency(values, probability):
    tolerance = 4 * math.sqrt(probability * (1 - probability) / DRAWS) + 1e-9
    assert abs(np.mean(values) - probability) <= tolerance, (np.mean(values), probability)


def test_every_probability_is_honoured_over_many_draws(drawn):
    for family, probability in enumerate(SKEWED.kernel_prob):
        assert_frequency(drawn["blur1_family"] == family, probability)
    for family, probability in enumerate(SKEWED.kernel_prob2):
        assert_frequency(drawn["blur2_family"] == family, probability)
    for direction, probability in enumerate(SKEWED.resize_prob):
        assert_frequency(drawn["stage1_resize"] == direction, probability)
    for direction, probability in enumerate(SKEWED.resize_prob2):
        assert_frequency(drawn["stage2_resize"] == direction, probability)
    for name, probability in [("blur1_sinc", 0.3), ("blur2_sinc", 0.0), ("stage1_gaussian", 0.7),
                              ("stage1_gray", 0.2), ("stage2_gaussian", 0.25), ("stage2_gray", 0.9),
                              ("second_blur", 0.6), ("final_sinc", 0.35), ("final_resize_first", 0.5)]:
        assert_frequency(drawn[name], probability)
    for size in SKEWED.kernel_sizes:
        assert_frequency(drawn["blur1_size"] == size, 1 / len(SKEWED.kernel_sizes))


def test_every_value_is_drawn_from_its_range(drawn):
    assert drawn["blur1_sigma_x"].min() >= 0.5 and drawn["blur1_sigma_x"].max() <= 2.0
    isotropic = drawn["blur1_family"] % 2 == 0
    np.testing.assert_array_equal(drawn["blur1_sigma_x"][isotropic], drawn["blur1_sigma_y"][isotropic])
    assert (drawn["blur1_theta"][isotropic] == 0).all() and drawn["blur1_theta"][~isotropic].std() > 1.0
    gaussian = drawn["blur1_family"] < 2
    assert (drawn["blur1_beta"][gaussian] == 1).all()
    generalized = (drawn["blur1_family"] // 2) == 1
    assert drawn["blur1_beta"][generalized].min() >= 0.5 and drawn["blur1_beta"][generalized].max() <= 4.0
    assert (drawn["blur1_plateau"] == (drawn["blur1_family"] >= 4)).all()
    small = drawn["blur1_size"] < 13
    assert drawn["blur1_cutoff"][small].min() >= math.pi / 3 and drawn["blur1_cutoff"][~small].min() >= math.pi / 5
    assert drawn["blur1_cutoff"][~small].min() < math.pi / 3 - 0.1  # large sinc kernels reach lower cut-offs
    up, down, keep = (drawn["stage1_resize"] == d for d in range(3))
    factor = drawn["stage1_factor"]
    assert factor[up].min() >= 1.0 and factor[up].max() <= 1.2
    assert factor[down].min() >= 0.3 and factor[down].max() <= 1.0 and (factor[keep] == 1.0).all()
    assert set(np.unique(drawn["stage1_quality"])) == set(range(40, 51))
    sigma = drawn["stage1_sigma"] * 255
    assert sigma.min() >= 1.0 and sigma.max() <= 30.0
    assert set(np.unique(drawn["stage1_method"])) == {0, 1, 2}


def test_standard_normal_samples_have_the_standard_moments():
    samples = realesrgan.standard_normal(tf.constant([999, 1001]), tf.constant([3, 4], tf.int64)).numpy()
    assert samples.shape == (999, 1001)
    assert abs(samples.mean()) < 0.005 and abs(samples.std() - 1.0) < 0.005
    assert abs(np.mean(np.abs(samples) > 1.96) - 0.05) < 0.002


def noise_parameters(gaussian, gray, sigma=0.1, poisson_scale=1.0):
    return {"gaussian": tf.constant(gaussian), "gray": tf.constant(gray), "sigma": tf.constant(sigma),
            "poisson_scale": tf.constant(poisson_scale), "noise_seed": tf.constant([5, 6], tf.int64)}


def flat_with_every_level(level):
    """A flat image of `level` whose first row holds all 256 levels, so Poisson counts are over 256 levels."""
    image = np.full((200, 256, 3), round(level * 255) / 255, np.float32)
    image[0] = np.arange(256)[:, None] / 255
    return tf.constant(image)


def test_poisson_noise_has_the_poisson_spread_and_gray_noise_is_the_same_in_every_channel():
    for level in (0.1, 0.4):
        image = flat_with_every_level(level)
        noise = (realesrgan.add_noise(image, noise_parameters(False, False, poisson_scale=2.0)) - image).numpy()
        expected = 2.0 * math.sqrt(round(level * 255) / 255 / 256)  # scale x sqrt(count) / 256 levels
        assert np.std(noise[1:]) == pytest.approx(expected, rel=0.02)
        assert abs(np.mean(noise[1:])) < 0.001
    bright = flat_with_every_level(0.4)
    for gaussian in (True, False):
        gray = realesrgan.add_noise(bright, noise_parameters(gaussian, True)).numpy()
        np.testing.assert_array_equal(gray[..., 0], gray[..., 1])
        np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
    gray = realesrgan.add_noise(bright, noise_parameters(True, True)).numpy()
    assert np.std(gray) == pytest.approx(0.1, rel=0.05)
    colour = realesrgan.add_noise(bright, noise_parameters(True, False)).numpy()
    assert not np.array_equal(colour[..., 0], colour[..., 1])


def high_frequency_energy(image):
    """Energy of the high-order DCT coefficients (u + v >= 8) of the luma's 8x8 blocks, on JPEG's block grid:
    what JPEG's quantisation removes, undisturbed by the block edges it adds."""
    luma = np.asarray(image, np.float64) @ np.array([0.299, 0.587, 0.114])
    height, width = luma.shape[0] // 8 * 8, luma.shape[1] // 8 * 8
    blocks = luma[:height, :width].reshape(height // 8, 8, width // 8, 8).transpose(0, 2, 1, 3)
    coefficients = fft.dctn(blocks, axes=(2, 3), norm="ortho")
    u, v = np.meshgrid(range(8), range(8), indexing="ij")
    return float(np.sum(coefficients[..., u + v >= 8] ** 2))


def test_lower_jpeg_quality_removes_more_high_frequency_energy(set5_dir):
    image = imaging.to_float(imaging.load_rgb(os.path.join(set5_dir, "baby.png"))[96:352, 96:352])
    energies = [high_frequency_energy(realesrgan._jpeg(image, quality)) for quality in (95, 75, 50, 30)]
    assert energies == sorted(energies, reverse=True)
    assert energies[0] <= high_frequency_energy(image) * 1.05
    assert energies[-1] < 0.5 * energies[0]


def test_unsharp_masking_sharpens_edges_and_leaves_flat_regions():
    step = np.full((64, 64, 3), 0.3, np.float32)
    step[:, 32:] = 0.7
    sharpened = realesrgan.unsharp_mask(tf.constant(step)).numpy()
    assert sharpened[:, 31].max() < 0.29 and sharpened[:, 32].min() > 0.71  # overshoot either side of the edge
    flat = np.full((40, 40, 3), 0.5, np.float32)
    np.testing.assert_allclose(realesrgan.unsharp_mask(tf.constant(flat)).numpy(), flat, atol=1e-6)


def first_batch(dataset):
    lr, hr = next(iter(dataset))
    return lr.numpy(), hr.numpy()


def small_data(records, **overrides):
    return DataConfig(train_records=records, **{**dict(hr_patch_size=32, batch_size=4, shuffle_buffer=8),
                                                **overrides})


@pytest.mark.slow
def test_degraded_patches_are_the_same_on_one_and_on_two_replicas(tiny_records):
    config = small_data(tiny_records["train"])
    dataset_fn = pipeline.train_dataset_fn(config, 2, seed=3, degradations=SMALL)
    lr, hr = first_batch(dataset_fn(tf.distribute.InputContext()))
    assert lr.shape == (4, 16, 16, 3)
    np.testing.assert_allclose(lr * 255, np.round(lr * 255), atol=1e-4)
    bicubic_lr = imaging.quantize(imaging.bicubic_downscale(hr, 2)).numpy()
    assert np.abs(lr - bicubic_lr).mean() > 0.01  # degraded, not bicubic
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    distributed = next(iter(strategy.distribute_datasets_from_function(dataset_fn)))
    per_replica = [np.concatenate([t.numpy() for t in strategy.experimental_local_results(part)])
                   for part in distributed]
    np.testing.assert_array_equal(per_replica[0], lr)
    np.testing.assert_array_equal(per_replica[1], hr)
    again = first_batch(dataset_fn(tf.distribute.InputContext()))[0]
    np.testing.assert_array_equal(again, lr)
    other_seed = pipeline.train_dataset_fn(config, 2, seed=4, degradations=SMALL)
    assert not np.array_equal(first_batch(other_seed(tf.distribute.InputContext()))[0], lr)


def test_unsharp_masked_targets_are_sharpened_crops_and_lr_is_made_from_them(tiny_records):
    config = small_data(tiny_records["train"], batch_size=2)
    plain = first_batch(pipeline.train_dataset_fn(config, 2, seed=3, degradations=SMALL)(
        tf.distribute.InputContext()))[1]
    usm = dataclasses.replace(SMALL, usm_hr=True)
    lr, sharpened = first_batch(pipeline.train_dataset_fn(config, 2, seed=3, degradations=usm)(
        tf.distribute.InputContext()))
    np.testing.assert_allclose(sharpened, [realesrgan.unsharp_mask(tf.constant(patch)) for patch in plain],
                               atol=1e-5)
    # The patch seeds follow the crops' order: the first patch's is the first of the seed stream.
    degrade_seed = pipeline._pipeline_seeds(3, 0, 0)[3]
    seed = next(iter(tf.data.Dataset.random(seed=degrade_seed).batch(2)))
    expected = imaging.quantize(realesrgan.degrade(tf.constant(sharpened[0]), seed, usm, 2)).numpy()
    np.testing.assert_allclose(lr[0], expected, atol=1e-6)


@pytest.mark.slow
def test_evaluation_lr_depends_on_the_seed_and_the_image_alone(set5_dir, tmp_path):
    (benchmark,) = find_benchmarks([set5_dir], [], 4)
    realesrgan = DegradationConfig(degradation="realesrgan")

    def scores(seed, folder=benchmark):
        result = evaluate_benchmark(bicubic(4), folder, EvalConfig(seed=seed, degradations=realesrgan))
        return {image.name: image.psnr for image in result.images}

    first = scores(1)
    assert scores(1) == first
    assert all(psnr != first[name] for name, psnr in scores(2).items())
    assert np.mean(list(first.values())) < evaluate_benchmark(bicubic(4), benchmark, EvalConfig()).mean()["psnr"] - 1
    shutil.copy(os.path.join(set5_dir, "bird.png"), tmp_path / "bird.png")  # alone in another folder
    (alone,) = find_benchmarks([str(tmp_path)], [], 4)
    assert scores(1, alone) == {"bird": first["bird"]}


@pytest.mark.slow
def test_the_degrade_tool_writes_the_lr_that_evaluation_scores(set5_dir, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    picture = tmp_path / "examples.png"
    tool = [sys.executable, os.path.join(root, "tools", "degrade.py"), "--seed=5", "--variants=2"]
    bird = os.path.join(set5_dir, "bird.png")
    subprocess.run([*tool, f"--output_dir={tmp_path}", bird], check=True, capture_output=True, cwd=root)
    (benchmark,) = find_benchmarks([set5_dir], [], 4)
    (pair,) = [pair for pair in benchmark.pairs if pair.name == "bird"]
    realesrgan = DegradationConfig(degradation="realesrgan")
    for variant in (0, 1):
        scored, _ = load_pair(pair, 4, 0, realesrgan, seed=5 + variant)
        np.testing.assert_array_equal(imaging.load_rgb(str(tmp_path / f"bird_lr{variant}.png")), scored)
    subprocess.run([*tool, f"--output_dir={tmp_path / 'crops'}", "--crop=128", f"--picture={picture}", bird],
                   check=True, capture_output=True, cwd=root)
    assert imaging.load_rgb(str(picture)).shape == (128, 3 * 128 + 2 * 4, 3)
    assert imaging.load_rgb(str(tmp_path / "crops" / "bird_lr0.png")).shape == (32, 32, 3)


def test_images_too_small_for_the_kernels_are_refused_by_size():
    with pytest.raises(ValueError, match="--blur_kernel_size=21 is too large for an image of 40x48: .* the LR image, "
                                         "of 10 pixels .* at least 44 pixels"):
        realesrgan.degrade_image(np.zeros((48, 40, 3), np.uint8), 0, "x", DegradationConfig(second_blur_prob=0), 4)
