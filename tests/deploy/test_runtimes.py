"""ONNX and LiteRT exports run by `load_upscaler` and `srgan_tf.upscale --runtime`: tiled from Python exactly
as the SavedModel tiles in its graph."""
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from srgan_tf.evaluation.upscalers import load_upscaler
from srgan_tf.serving.tiling import TilingConfig, upscale_in_tiles, upscale_in_tiles_eagerly
from tests.tiny_models import TILE_SIZE


def test_eager_tiling_cuts_the_windows_of_the_graph_tiling(make_image):
    image = make_image(53, 71, seed=5)
    tiling = TilingConfig(20, 6)
    seen = []

    def marked(window):  # each output pixel tells which window it came from
        seen.append(window.shape)
        return np.full((window.shape[0] * 2, window.shape[1] * 2, 1), len(seen), np.int32)

    in_graph = upscale_in_tiles(lambda window: tf.repeat(tf.repeat(window, 2, 0), 2, 1), tf.constant(image), 2,
                                tiling, tf.uint8).numpy()
    eager = upscale_in_tiles_eagerly(lambda window: np.repeat(np.repeat(window, 2, 0), 2, 1), image, 2, tiling)
    np.testing.assert_array_equal(eager, in_graph)
    windows = upscale_in_tiles_eagerly(marked, image[..., :1], 2, tiling)
    assert len(seen) == len(np.unique(windows)) > 4 and all(shape == seen[0] for shape in seen)


@pytest.mark.parametrize("export", [("onnx", "none"), ("litert", "none")])
def test_portable_upscalers_give_the_saved_models_tiled_result_on_a_many_tile_image(exported, export, make_image):
    pixels = make_image(70, 50, seed=6)
    upscaler = load_upscaler(exported.files[export], tile_size=TILE_SIZE)
    reference = exported.saved_model.signatures["predict_pixels"](pixels=tf.constant(pixels[None]))["pixels"]
    upscaled = upscaler(pixels)
    assert upscaled.shape == (140, 100, 3) and upscaled.dtype == np.uint8
    assert np.abs(upscaled.astype(int) - reference.numpy()[0]).max() <= 1
    with pytest.raises(ValueError, match="--max_pixels"):
        load_upscaler(exported.files[export], max_pixels=100)(pixels)
    with pytest.raises(ValueError, match="x2 model, but the evaluation is at x4"):
        load_upscaler(exported.files[export], scale=4)


def test_upscale_command_runs_each_runtime_and_refuses_a_mismatched_one(exported, tmp_path, make_image):
    if exported.config.generator != "srresnet":
        pytest.skip("one network is enough for the command line")
    Image.fromarray(make_image(40, 36, seed=7)).convert("RGBA").save(tmp_path / "photo.png")
    deep = (make_image(10, 12, seed=8)[..., 0].astype(np.uint16) * 257 + 3)
    Image.fromarray(deep).save(tmp_path / "deep.png")  # 16-bit grey
    for model_format in ("onnx", "litert"):
        out = tmp_path / model_format
        model = exported.files[(model_format, "none")]
        result = subprocess.run([sys.executable, "tools/upscale.py", f"--model={model}", f"--runtime={model_format}",
                                 f"--output_dir={out}", str(tmp_path / "photo.png"), str(tmp_path / "deep.png")],
                                capture_output=True, text=True)
        assert result.returncode == 1  # the 16-bit image is refused, not truncated to 8 bits
        assert "deep.png: a 16-bit image" in result.stderr and "--nokeep_mode" in result.stderr
        assert f"{model_format} export" in result.stdout and not (out / "deep_sr.png").exists()
        with Image.open(out / "photo_sr.png") as image:
            assert image.size == (72, 80) and image.mode == "RGBA"
    result = subprocess.run([sys.executable, "-m", "srgan_tf.upscale", f"--model={exported.files[('onnx', 'none')]}",
                             "--runtime=litert", f"--output_dir={tmp_path / 'x'}", str(tmp_path / "photo.png")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "--runtime=litert cannot run" in result.stderr and "needs --runtime=onnx" in result.stderr
