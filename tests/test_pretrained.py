"""The models shipped with the package (srgan_tf.pretrained): their catalog figures, hash checks, the names
every command accepts, and the Python API."""
import dataclasses
import os
import sys

import numpy as np
import pytest

import srgan_tf
from srgan_tf import pretrained
from srgan_tf.evaluation import scoring
from srgan_tf.evaluation.image_pairs import find_benchmarks
from srgan_tf.evaluation.upscalers import load_upscaler
from tests.conftest import shared_data
from tests.evaluation.benchmarks import write_folder
from tests.processes import run_together

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = pretrained.names()
MAX_FILE_BYTES = 4 * 1024 * 1024


def test_models_are_shipped_within_the_size_limit():
    assert SHIPPED, "the package ships no model"
    for model in pretrained.catalog().values():
        assert os.path.getsize(model.path) <= MAX_FILE_BYTES, model.path
        assert model.recipe["command"] and model.recipe["cpu"] and model.recipe["training_minutes"] > 0


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_scores_its_catalog_figure_on_set5(name):
    (set5,) = find_benchmarks([shared_data("Set5")], [], 4)
    model = pretrained.get(name)
    result = scoring.evaluate_benchmark(load_upscaler(name, model.generator.scale), set5,
                                        scoring.EvalConfig(scale=model.generator.scale))
    assert abs(result.mean()["psnr"] - model.scores["Set5"]["psnr"]) <= 0.01


def test_a_damaged_or_unknown_model_is_refused_by_name(tmp_path, monkeypatch):
    model = pretrained.get(SHIPPED[0])
    with open(model.path, "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0x01
    damaged_path = tmp_path / model.file
    damaged_path.write_bytes(bytes(data))
    damaged = dataclasses.replace(model, file=str(damaged_path))  # an absolute file name stays as it is
    monkeypatch.setattr(pretrained, "catalog", lambda: {model.name: damaged})
    with pytest.raises(pretrained.DamagedModelError, match=f"{damaged_path}: the weights of shipped model "
                                                           f"'{model.name}' are damaged"):
        pretrained.load_generator(model.name)
    with pytest.raises(ValueError, match=f"'nope' is no shipped model; the shipped models are {model.name}"):
        pretrained.load_generator("nope")
    with pytest.raises(FileNotFoundError, match=f"nor a shipped model: {model.name}"):
        load_upscaler("nope")


def test_the_python_api_upscales_arrays_and_files_and_builds_the_network(tmp_path, make_image):
    name = SHIPPED[0]
    image = make_image(30, 41, seed=5)
    path = write_folder(tmp_path, {"photo.png": image}) + "/photo.png"
    upscaler = srgan_tf.load_upscaler(name)
    sr = upscaler.upscale(image)
    scale = pretrained.get(name).generator.scale
    assert sr.dtype == np.uint8 and sr.shape == (30 * scale, 41 * scale, 3)
    np.testing.assert_array_equal(upscaler.upscale(path), sr)
    with pytest.raises(ValueError, match=r"upscales uint8 RGB images \[height, width, 3\], not float32"):
        upscaler.upscale(image.astype(np.float32))

    generator = srgan_tf.pretrained_generator(name)
    direct = np.clip(np.round(generator(image[None] / 255.0).numpy()[0] * 255), 0, 255)
    assert np.abs(direct - sr).max() <= 1  # the same network, untiled


@pytest.mark.slow
def test_commands_take_a_shipped_models_name(tmp_path, make_image):
    name = SHIPPED[0]
    photo = write_folder(tmp_path / "in", {"photo.png": make_image(24, 20, seed=2)}) + "/photo.png"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    listed, upscaled, exported, unknown = run_together([
        [sys.executable, "-m", "srgan_tf.upscale", "--list_models"],
        [sys.executable, "-m", "srgan_tf.upscale", f"--model={name}", f"--output_dir={tmp_path / 'out'}", photo],
        [sys.executable, "-m", "srgan_tf.export", f"--model={name}", f"--export_dir={tmp_path / 'exports'}"],
        [sys.executable, "-m", "srgan_tf.export", "--model=nope", f"--export_dir={tmp_path / 'none'}"],
    ], cwd=str(tmp_path), env=env)
    assert [line.split()[0] for line in listed.stdout.splitlines()] == SHIPPED
    assert upscaled.returncode == 0, upscaled.stderr
    assert (tmp_path / "out" / "photo_sr.png").exists()
    assert exported.returncode == 0, exported.stderr
    assert f"Exported {name} (step 1) to {tmp_path / 'exports' / '1'}" in exported.stdout
    assert unknown.returncode != 0 and f"shipped models are {', '.join(SHIPPED)}" in unknown.stderr


def test_the_readme_table_shows_each_shipped_models_catalog_figures():
    with open(os.path.join(PROJECT_ROOT, "README.md")) as f:
        readme = f.read()
    for model in pretrained.catalog().values():
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{model.name}` |")]
        for benchmark in ("Set5", "Set14", "BSD100"):
            scores = model.scores[benchmark]
            assert f"| {scores['psnr']:.2f} / {scores['ssim']:.4f} |" in row, (model.name, benchmark)
        assert f"| {model.scores['BSD100']['niqe']:.2f} |" in row
