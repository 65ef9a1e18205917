"""`python -m srgan_tf.upscale`: the latest SavedModel version, tiles equal to untiled, files and folders,
each image's channels and depth kept."""
import dataclasses
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from srgan_tf import upscale
from srgan_tf.evaluation.upscalers import load_upscaler
from tests.tiny_models import TILE_OVERLAP, TILE_SIZE, export_tiny, keras_upscale, make_model_dir


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("model"))
    generator = make_model_dir(model_dir)
    exports = str(tmp_path_factory.mktemp("exports"))
    export_tiny(generator, exports)
    return model_dir, exports, generator


def test_saved_model_path_picks_the_highest_version(model, tmp_path):
    version = os.path.join(model[1], "7")
    for name in ("3", "10"):
        shutil.copytree(version, tmp_path / name)
    os.makedirs(tmp_path / "11")  # not a SavedModel (e.g. still being copied in): ignored
    os.makedirs(tmp_path / ".tmp-12-x")
    assert upscale.resolve_saved_model(str(tmp_path)) == str(tmp_path / "10")
    assert upscale.resolve_saved_model(version) == version
    assert upscale.resolve_saved_model(model[0]) is None


def test_checkpoint_and_saved_model_give_the_untiled_result_on_a_many_tile_image(model, make_image):
    pixels = make_image(90, 70, seed=1)
    reference = keras_upscale(model[2], pixels)
    from_checkpoint = load_upscaler(model[0], tile_size=TILE_SIZE, tile_overlap=TILE_OVERLAP)
    description = from_checkpoint.description
    assert description.startswith(f"checkpoint {model[0]} (step 7, x2)")
    from_saved_model = load_upscaler(model[1])
    for upscaled in (from_checkpoint(pixels), from_saved_model(pixels)):
        assert upscaled.dtype == np.uint8 and upscaled.shape == (180, 140, 3)
        assert np.abs(upscaled / 255.0 - reference).max() <= 1 / 255


@pytest.mark.slow
def test_command_line_on_a_file_and_a_folder(model, tmp_path, make_image):
    Image.fromarray(make_image(20, 30, seed=2)).save(tmp_path / "single.jpg")
    folder = tmp_path / "folder"
    folder.mkdir()
    Image.fromarray(make_image(40, 36, seed=3)).convert("L").save(folder / "grey.png")
    Image.fromarray(make_image(16, 16, seed=4)).convert("RGBA").save(folder / "alpha.png")
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "srgan_tf.upscale", f"--model={model[1]}",
                             f"--output_dir={out}", str(tmp_path / "single.jpg"), str(folder)],
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stderr[-2000:]  # one input was broken
    assert "FAILED" in result.stderr and "broken.png: not a readable image" in result.stderr
    sizes = {name: Image.open(out / name).size for name in sorted(os.listdir(out))}
    assert sizes == {"alpha_sr.png": (32, 32), "grey_sr.png": (72, 80), "single_sr.png": (60, 40)}
    modes = {name: Image.open(out / name).mode for name in sizes}
    assert modes == {"alpha_sr.png": "RGBA", "grey_sr.png": "L", "single_sr.png": "RGB"}


@pytest.fixture(scope="module")
def saved_model_upscaler(model):
    return load_upscaler(model[1])


def upscale_one(upscaler, tmp_path, pixels: np.ndarray, **options) -> tuple:
    """Writes `pixels` as a PNG, upscales it with `upscale_files`: the output's bytes and failures."""
    source, output = str(tmp_path / "in.png"), str(tmp_path / "out" / "in_sr.png")
    with open(source, "wb") as f:
        f.write(tf.io.encode_png(pixels).numpy())
    failures = upscale.upscale_files(upscaler, {source: output}, **options)
    return (open(output, "rb").read() if os.path.exists(output) else None), failures


def decoded(png: bytes) -> np.ndarray:
    return tf.io.decode_png(png, channels=0, dtype=tf.uint16 if png[24] == 16 else tf.uint8).numpy()


def luma(rgb: np.ndarray) -> np.ndarray:
    return np.round(rgb.astype(np.float64) @ [0.299, 0.587, 0.114])[..., None]


@pytest.mark.parametrize("alpha", ["bicubic", "model"])
def test_rgba_keeps_its_alpha_upscaled_by_bicubic_or_by_the_model(saved_model_upscaler, tmp_path, alpha,
                                                                  make_image):
    rgb, transparency = make_image(12, 10, seed=5), make_image(12, 10, seed=6)[..., :1]
    png, failures = upscale_one(saved_model_upscaler, tmp_path, np.concatenate([rgb, transparency], -1),
                                alpha=alpha)
    assert failures == []
    upscaled = decoded(png)
    assert upscaled.dtype == np.uint8 and upscaled.shape == (24, 20, 4)
    np.testing.assert_array_equal(upscaled[..., :3], saved_model_upscaler(rgb))
    if alpha == "bicubic":
        resized = tf.image.resize(transparency / 255.0, (24, 20), method="bicubic").numpy()
        expected = np.round(np.clip(resized, 0, 1) * 255)
    else:
        expected = np.round(saved_model_upscaler(np.repeat(transparency, 3, -1)).mean(-1, keepdims=True))
    assert len(np.unique(expected)) > 10  # a real alpha channel, not a constant one
    np.testing.assert_array_equal(upscaled[..., 3:], expected)


def test_grey_stays_grey_and_nokeep_mode_makes_rgb(saved_model_upscaler, tmp_path, make_image):
    grey = make_image(12, 10, seed=7)[..., :1]
    png, _ = upscale_one(saved_model_upscaler, tmp_path, grey)
    expected = luma(saved_model_upscaler(np.repeat(grey, 3, -1)))
    np.testing.assert_array_equal(decoded(png), expected)
    png, _ = upscale_one(saved_model_upscaler, tmp_path, grey, keep_mode=False)
    np.testing.assert_array_equal(decoded(png), saved_model_upscaler(np.repeat(grey, 3, -1)))


@pytest.mark.parametrize("channels", [1, 3])
def test_16_bit_pngs_are_upscaled_from_all_16_bits(saved_model_upscaler, tmp_path, channels, make_image):
    eight_bit = make_image(12, 10, seed=8)[..., :channels]
    noise = np.random.default_rng(9).integers(0, 257, eight_bit.shape)
    sixteen_bit = (eight_bit.astype(np.uint16) * 257 + noise).astype(np.uint16)  # rounds to `eight_bit`
    png, failures = upscale_one(saved_model_upscaler, tmp_path, sixteen_bit)
    assert failures == [] and png[24] == 16
    upscaled = decoded(png)
    assert upscaled.dtype == np.uint16 and upscaled.shape == (24, 20, channels)
    assert np.any(upscaled % 257 != 0)  # not 8-bit levels scaled up
    rgb8 = saved_model_upscaler(np.repeat(eight_bit, 3 // channels, -1))
    eight_bit_path = rgb8 if channels == 3 else luma(rgb8)
    # The 16 bits carry sub-level detail the 8-bit input lacked: close, not equal.
    assert np.abs(np.round(upscaled / 257.0) - eight_bit_path).max() <= 3


def test_16_bit_image_without_a_16_bit_path_fails_naming_the_file(saved_model_upscaler, tmp_path):
    eight_bit_only = dataclasses.replace(saved_model_upscaler, run16=None)
    sixteen_bit = np.full((6, 5, 3), 1000, np.uint16)
    png, failures = upscale_one(eight_bit_only, tmp_path, sixteen_bit)
    assert png is None and len(failures) == 1
    assert failures[0].startswith(f"{tmp_path / 'in.png'}: a 16-bit image") and "--nokeep_mode" in failures[0]
    png, failures = upscale_one(eight_bit_only, tmp_path, sixteen_bit, keep_mode=False)
    assert failures == [] and decoded(png).dtype == np.uint8 and decoded(png).shape == (12, 10, 3)
