"""The upscale command: files and folders in, PNGs out, from a SavedModel or a checkpoint, tile by tile."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from srgan_tf.common.image_files import find_images, plan_outputs
from tests.tiny_models import TILE_OVERLAP, TILE_SIZE, export_tiny, keras_upscale, make_model_dir

from srgan_tf import upscale


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
    from_checkpoint, description = upscale.load_upscaler(model[0], TILE_SIZE, TILE_OVERLAP)
    assert description.startswith(f"checkpoint {model[0]} (step 7, x2)")
    from_saved_model, _ = upscale.load_upscaler(model[1])
    for upscaled in (from_checkpoint(pixels), from_saved_model(pixels)):
        assert upscaled.dtype == np.uint8 and upscaled.shape == (180, 140, 3)
        assert np.abs(upscaled / 255.0 - reference).max() <= 1 / 255


def test_outputs_are_planned_before_any_work(tmp_path):
    for folder in ("a", "b"):
        os.makedirs(tmp_path / folder)
        Image.new("RGB", (4, 4)).save(tmp_path / folder / "x.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    images = find_images([str(tmp_path / "a"), str(tmp_path / "b" / "x.png")])
    assert images == [str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png")]
    with pytest.raises(ValueError, match="would both be written to .*x_sr.png"):
        plan_outputs(images, str(tmp_path / "out"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x_sr.png").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="x_sr.png already exists; pass --overwrite"):
        plan_outputs(images[:1], str(tmp_path / "out"))
    assert plan_outputs(images[:1], str(tmp_path / "out"), overwrite=True) == {
        images[0]: str(tmp_path / "out" / "x_sr.png")}
    with pytest.raises(FileNotFoundError, match="missing.png: no such file or folder"):
        find_images([str(tmp_path / "missing.png")])


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
