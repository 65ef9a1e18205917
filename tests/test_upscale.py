"""`python -m srgan_tf.upscale`: the latest SavedModel version, tiles equal to untiled, files and folders."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
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
    assert all(Image.open(out / name).mode == "RGB" for name in sizes)
