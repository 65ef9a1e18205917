"""ESRGAN's network interpolation: the blended weights, and `python -m srgan_tf.interpolate` exporting them."""
import dataclasses
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.modeling.generator import build_generator
from srgan_tf.modeling.interpolation import interpolate_weights
from tests.processes import run_together
from tests.tiny_models import MAX_PIXELS, TILE_OVERLAP, TILE_SIZE, TINY, export_tiny, make_model_dir


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Model directories of a "PSNR" and a "GAN" tiny generator (seeds differ), with the generators."""
    root = tmp_path_factory.mktemp("models")
    return {name: (str(root / name), make_model_dir(str(root / name), seed=seed))
            for name, seed in (("psnr", 0), ("gan", 1))}


def interpolate(models, *args: str) -> list:
    return [sys.executable, "-m", "srgan_tf.interpolate", f"--psnr_model={models['psnr'][0]}",
            f"--gan_model={models['gan'][0]}", *args]


def upscale(saved_model_dir: str, pixels: np.ndarray) -> np.ndarray:
    predict = tf.saved_model.load(saved_model_dir).signatures["predict_pixels"]
    return predict(pixels=tf.constant(pixels[None]))["pixels"].numpy()[0]


def test_alpha_moves_every_weight_from_the_psnr_generator_to_the_gan_generator():
    keras.utils.set_random_seed(0)
    psnr, gan = build_generator(TINY), build_generator(TINY)
    rng = np.random.default_rng(0)
    for generator in (psnr, gan):  # BatchNorm's moving statistics too, which start equal in both
        generator.set_weights([rng.normal(size=weight.shape).astype(np.float32)
                               for weight in generator.get_weights()])
    assert psnr.non_trainable_weights
    psnr_weights, gan_weights = psnr.get_weights(), gan.get_weights()

    for alpha, expected in ((0, psnr_weights), (1, gan_weights)):
        blended = interpolate_weights(psnr, gan, alpha)
        assert len(blended) == len(expected)
        for weight, wanted in zip(blended, expected):
            assert weight.dtype == np.float32
            np.testing.assert_array_equal(weight, wanted)
    for weight, psnr_weight, gan_weight in zip(interpolate_weights(psnr, gan, 0.5), psnr_weights, gan_weights):
        np.testing.assert_allclose(weight, (psnr_weight + gan_weight) / 2, rtol=1e-6)

    wider = build_generator(dataclasses.replace(TINY, num_filters=16))
    with pytest.raises(ValueError, match=r"head_conv/kernel has shape \(9, 9, 3, 8\), .* \(9, 9, 3, 16\)"):
        interpolate_weights(psnr, wider, 0.5)


@pytest.mark.slow
def test_alphas_0_and_1_export_the_two_generators(models, tmp_path):
    exports = str(tmp_path / "blend")
    result = subprocess.run(interpolate(models, "--alphas=0,1", f"--export_dir={exports}",
                                        f"--tile_size={TILE_SIZE}", f"--tile_overlap={TILE_OVERLAP}",
                                        f"--max_pixels={MAX_PIXELS}"), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(os.listdir(exports)) == ["0", "100"]
    versions = [os.path.join(exports, "0"), os.path.join(exports, "100")]
    assert f"alpha 0.00 -> {versions[0]}\nalpha 1.00 -> {versions[1]}\n" in result.stdout
    assert f"python -m srgan_tf.evaluate --model={','.join(versions)} --hr_dir=" in result.stdout

    pixels = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    outputs = []
    for version, name in zip(versions, ("psnr", "gan")):
        alone = export_tiny(models[name][1], str(tmp_path / name))
        outputs.append(upscale(alone, pixels))
        np.testing.assert_array_equal(upscale(version, pixels), outputs[-1])
    assert not np.array_equal(*outputs)


@pytest.mark.slow
def test_bad_requests_stop_before_anything_is_written(models, tmp_path):
    narrow = str(tmp_path / "narrow")
    make_model_dir(narrow, dataclasses.replace(TINY, num_filters=4))
    existing = tmp_path / "existing"
    (existing / "100").mkdir(parents=True)
    cases = {
        "mismatch": ([f"--gan_model={narrow}", "--alpha=0.5"],
                     f"--psnr_model={models['psnr'][0]} has num_filters=8, --gan_model={narrow} has "
                     f"num_filters=4: the generators must have the same shape"),
        "range": (["--alpha=1.5"], "--alpha: 1.5 is outside [0, 1]"),
        "collision": (["--alphas=0.201,0.2"], "--alphas: 0.201 and 0.2 would both be version 20"),
        "existing": (["--alphas=0,1"], f"{existing / '100'} already exists; pass --overwrite"),
    }
    results = run_together([interpolate(models, *args, f"--export_dir={tmp_path / name}")
                            for name, (args, _) in cases.items()])
    for (name, (_, message)), result in zip(cases.items(), results):
        assert result.returncode == 1, (name, result.stderr[-2000:])
        assert f"error: {message}" in result.stderr, (name, result.stderr[-2000:])
    assert os.listdir(existing) == ["100"]
    assert not any(os.path.exists(tmp_path / name) for name in ("mismatch", "range", "collision"))
