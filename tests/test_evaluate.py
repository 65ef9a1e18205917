"""Benchmark evaluation: the published bicubic baseline, checkpoints and SavedModels, reports, bad input."""
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.common import imaging
from srgan_tf.evaluation import metrics, pictures
from srgan_tf.modeling.generator import build_generator
from srgan_tf.training import checkpointing
from srgan_tf.evaluation.image_pairs import find_benchmarks
from srgan_tf.config import ModelConfig
from srgan_tf.evaluation.scoring import EvalConfig, evaluate_benchmark
from srgan_tf.evaluation.report import format_table, write_reports
from srgan_tf.evaluation.upscalers import Upscaler, bicubic, load_upscaler

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = EvalConfig(scale=4)


def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "srgan_tf.evaluate", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def mean_row(stdout: str, count: int):
    """PSNR and SSIM of a table's mean row."""
    (line,) = [line for line in stdout.splitlines() if line.startswith(f"mean ({count})")]
    psnr, ssim = line.split()[2:4]
    return float(psnr), float(ssim)


def write_folder(directory, images: dict) -> str:
    for name, pixels in images.items():
        imaging.save_png(os.path.join(directory, name), pixels)
    return str(directory)


def synthesized_lr(hr: np.ndarray) -> np.ndarray:
    return imaging.to_uint8(imaging.bicubic_downscale(imaging.to_float(hr), 4)).numpy()


def measure(hr: np.ndarray, sr: np.ndarray):
    psnr = metrics.psnr(hr[None], sr[None], 4).numpy()[0]
    return psnr, metrics.ssim(hr[None], sr[None], 4).numpy()[0]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A model directory holding a 1-block, 8-filter x4 generator at step 5, and that generator."""
    model_dir = str(tmp_path_factory.mktemp("model"))
    config = ModelConfig(num_residual_blocks=1, num_filters=8, scale=4)
    generator = build_generator(config)
    checkpointing.write_model_config(model_dir, config)
    ckpt = tf.train.Checkpoint(generator=generator, step=tf.Variable(5, dtype=tf.int64))
    tf.train.CheckpointManager(ckpt, model_dir, max_to_keep=1, checkpoint_name="ckpt").save()
    return model_dir, generator


def test_cli_reproduces_published_set5_bicubic_and_skips_bad_files(set5_dir, tmp_path, make_image):
    bad_dir = write_folder(tmp_path / "mixed", {"good.png": make_image(40, 44), "tiny.png": make_image(3, 3)})
    result = run_cli("--model=bicubic", f"--hr_dir={set5_dir},{bad_dir}", "--scale=4")
    assert result.returncode == 0, result.stderr
    psnr, ssim = mean_row(result.stdout, 5)
    assert abs(psnr - 28.43) <= 0.05  # SRGAN paper, bicubic x4, Y, 4-pixel border
    assert abs(ssim - 0.8104) <= 0.002  # ESRGAN supplement: 0.8104; measured here 0.8113
    assert "Set5 [5/5] woman: PSNR" in result.stderr  # progress, a line per image
    mean_row(result.stdout, 1)  # the other folder still got its table
    assert f"skipped: {os.path.join(bad_dir, 'tiny.png')}: 3x3 is too small" in result.stdout


def test_cli_fails_when_nothing_could_be_evaluated(tmp_path):
    missing = str(tmp_path / "no_such_dir")
    result = run_cli("--model=bicubic", f"--hr_dir={missing}")
    assert result.returncode != 0
    assert f"{missing}: no such directory" in result.stderr

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "garbage.png").write_bytes(b"not a png")
    result = run_cli("--model=bicubic", f"--hr_dir={broken}")
    assert result.returncode == 1
    assert "No image could be evaluated" in result.stderr
    assert f"{broken / 'garbage.png'}: not a readable image" in result.stdout


def test_checkpoint_evaluation_writes_table_csv_json_and_pictures(tmp_path, tiny_model, make_image):
    model_dir, generator = tiny_model
    hr_images = {"wide.png": make_image(40, 300, seed=1), "small.png": make_image(38, 31, seed=2)}
    (benchmark,) = find_benchmarks([write_folder(tmp_path / "HR", hr_images)], [], 4)
    upscaler = load_upscaler(model_dir, 4)
    assert upscaler.name == f"{model_dir} (step 5)"
    output_dir = str(tmp_path / "out")
    result = evaluate_benchmark(upscaler, benchmark, CONFIG, os.path.join(output_dir, "HR"))
    assert [r.name for r in result.images] == ["small", "wide"] and not result.failures

    for r in result.images:
        hr = np.asarray(imaging.mod_crop(hr_images[f"{r.name}.png"], 4))
        lr = synthesized_lr(hr)
        sr = imaging.to_uint8(generator(imaging.to_float(lr[None]), training=False)).numpy()[0]
        bicubic_sr = bicubic(4)(lr)
        assert (r.width, r.height) == (hr.shape[1], hr.shape[0])
        np.testing.assert_allclose((r.psnr, r.ssim), measure(hr, sr), rtol=1e-12)
        np.testing.assert_allclose((r.bicubic_psnr, r.bicubic_ssim), measure(hr, bicubic_sr), rtol=1e-12)
        assert abs(r.psnr - r.bicubic_psnr) > 0.1  # the generator ran, not bicubic

        picture = imaging.load_rgb(os.path.join(output_dir, "HR", f"{r.name}.png"))
        crop_w = min(hr.shape[1], pictures.CROP_SIZE)
        assert picture.shape == (pictures.LABEL_HEIGHT + hr.shape[0], 4 * crop_w + 3 * pictures.GAP, 3)
        left = (hr.shape[1] - crop_w) // 2 // 4 * 4
        np.testing.assert_array_equal(picture[pictures.LABEL_HEIGHT:, -crop_w:], hr[:, left:left + crop_w])
        second_panel = slice(crop_w + pictures.GAP, 2 * crop_w + pictures.GAP)
        np.testing.assert_array_equal(picture[pictures.LABEL_HEIGHT:, second_panel],
                                      bicubic_sr[:, left:left + crop_w])

    table = format_table(result, upscaler.name, CONFIG)
    assert f"{np.mean([r.psnr for r in result.images]):.2f}" in table.splitlines()[-1]
    csv_path, json_path = write_reports(output_dir, result, upscaler.name, CONFIG)
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert [row["name"] for row in rows] == ["small", "wide"]
    assert float(rows[1]["ssim"]) == result.images[1].ssim
    with open(json_path) as f:
        report = json.load(f)
    assert report["model"] == upscaler.name and report["channel"] == "Y" and report["shave"] == 4
    assert report["mean"]["psnr"] == pytest.approx(np.mean([r.psnr for r in result.images]), rel=1e-12)
    assert [image["psnr"] for image in report["images"]] == [r.psnr for r in result.images]
    assert sorted(os.listdir(output_dir)) == ["HR", "HR.csv", "HR.json"]  # no temporary files left


def test_several_models_are_compared_in_one_picture_a_summary_and_a_report_each(tmp_path, tiny_model,
                                                                                 make_image):
    model_dir, _ = tiny_model
    hr_dir = write_folder(tmp_path / "HR", {"photo.png": make_image(40, 44, seed=3)})
    output_dir = tmp_path / "out"
    result = run_cli(f"--model={model_dir},bicubic", f"--hr_dir={hr_dir}", f"--output_dir={output_dir}")
    assert result.returncode == 0, result.stderr
    label = os.path.basename(model_dir)
    (summary,) = [line for line in result.stdout.splitlines() if line.startswith("HR x4 mean PSNR / SSIM")]
    model_mean, bicubic_mean = [line.split()[2] for line in result.stdout.splitlines()
                                if line.startswith("mean (1)")]  # a table per model, in order
    assert f", {label} {model_mean} dB" in summary and f", bicubic {bicubic_mean} dB" in summary
    for report in (label, "bicubic"):
        with open(output_dir / report / "HR.json") as f:
            assert json.load(f)["num_images"] == 1
    picture = imaging.load_rgb(str(output_dir / "HR" / "photo.png"))
    assert picture.shape[1] == 5 * 44 + 4 * pictures.GAP  # LR | bicubic | model | bicubic | HR

    twice = run_cli("--model=bicubic,bicubic", f"--hr_dir={hr_dir}")
    assert twice.returncode != 0 and "labels (last parts of their paths) must differ" in twice.stderr


class PixelModule(tf.Module):
    """A SavedModel with a `predict_pixels` signature whose keys are not the serving module's."""

    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="lr_pixels")])
    def predict_pixels(self, lr_pixels):
        sr = imaging.to_uint8(self.generator(imaging.to_float(lr_pixels), training=False))
        return {"upscaled": sr, "height": tf.shape(sr)[1]}


def test_saved_model_matches_checkpoint(tmp_path, tiny_model, make_image):
    model_dir, generator = tiny_model
    export_dir = str(tmp_path / "export" / "7")
    module = PixelModule(generator)
    tf.saved_model.save(module, export_dir, signatures={"predict_pixels": module.predict_pixels})
    lr = make_image(9, 13)
    assert load_upscaler(export_dir, 4).name == export_dir
    shutil.copytree(export_dir, tmp_path / "export" / "10")
    from_export = load_upscaler(str(tmp_path / "export"), 4)  # a TF Serving base directory: latest version
    assert from_export.name == str(tmp_path / "export" / "10")
    np.testing.assert_array_equal(from_export(lr), load_upscaler(model_dir, 4)(lr))

    other_dir = str(tmp_path / "other")
    tf.saved_model.save(module, other_dir, signatures={"serving_default": module.predict_pixels})
    with pytest.raises(ValueError, match=f"{other_dir}: the SavedModel has no 'predict_pixels'"):
        load_upscaler(other_dir, 4)


def test_model_argument_errors_are_named(tiny_model, make_image):
    model_dir, _ = tiny_model
    with pytest.raises(ValueError, match="x4 generator, but the evaluation is at x2"):
        load_upscaler(model_dir, 2)
    with pytest.raises(FileNotFoundError, match="/no/such/model: no such SavedModel"):
        load_upscaler("/no/such/model", 4)
    same_size = Upscaler("identity", 4, lambda lr: lr)
    with pytest.raises(RuntimeError, match="identity turned a"):
        same_size(make_image(8, 8))


def test_given_lr_images_are_matched_by_name(tmp_path, make_image):
    hr = {name: make_image(48, 40, seed=i) for i, name in enumerate(["0801.png", "0802.png", "0803.png"])}
    # Given LR images differ from the synthesized ones (box filter), so using them shows in the numbers.
    box = {name: (image.reshape(12, 4, 10, 4, 3).mean(axis=(1, 3)) + 0.5).astype(np.uint8)
           for name, image in hr.items()}
    hr_dir = write_folder(tmp_path / "HR", hr)
    lr_dir = write_folder(tmp_path / "X4", {"0801x4.png": box["0801.png"], "0802.png": box["0802.png"]})
    (benchmark,) = find_benchmarks([hr_dir], [lr_dir], 4)
    result = evaluate_benchmark(bicubic(4), benchmark, CONFIG)
    assert [r.name for r in result.images] == ["0801", "0802"]
    for r in result.images:
        given = measure(hr[f"{r.name}.png"], bicubic(4)(box[f"{r.name}.png"]))
        np.testing.assert_allclose((r.psnr, r.ssim), given, rtol=1e-12)
        assert r.psnr != measure(hr[f"{r.name}.png"], bicubic(4)(synthesized_lr(hr[f"{r.name}.png"])))[0]
    (failure,) = result.failures
    assert failure.reason == f"{hr_dir}/0803.png: no LR image named 0803x4.* or 0803.* in {lr_dir}"


def test_bad_inputs_are_named_and_the_rest_evaluated(tmp_path, make_image):
    hr_dir = write_folder(tmp_path / "HR", {
        "good.png": make_image(32, 32), "tiny.png": make_image(3, 5), "small.png": make_image(16, 40),
        "mismatch.png": make_image(32, 32)})
    (tmp_path / "HR" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (tmp_path / "HR" / "notes.txt").write_text("not an image, not listed")
    lr_dir = write_folder(tmp_path / "LR", {"goodx4.png": make_image(8, 8),
                                            "mismatchx4.png": make_image(9, 8)})
    synthesized, given = find_benchmarks([hr_dir, hr_dir], ["", lr_dir], 4)
    assert (synthesized.name, given.name) == ("HR", "HR_2")

    result = evaluate_benchmark(bicubic(4), synthesized, CONFIG)
    assert sorted(r.name for r in result.images) == ["good", "mismatch"]
    reasons = sorted(f.reason for f in result.failures)
    assert reasons[0].startswith(f"{hr_dir}/broken.jpg: not a readable image")
    assert reasons[1] == (f"{hr_dir}/small.png: 40x16 is too small to evaluate at x4: at least 19x19 pixels "
                          "are needed after cropping to a multiple of 4.")
    assert reasons[2].startswith(f"{hr_dir}/tiny.png: 5x3 is too small")

    result = evaluate_benchmark(bicubic(4), given, CONFIG)
    assert [r.name for r in result.images] == ["good"]
    mismatch = [f.reason for f in result.failures if "mismatch" in f.path]
    assert mismatch == [
        f"{lr_dir}/mismatchx4.png: LR 8x9 times 4 does not match HR {hr_dir}/mismatch.png (32x32)."]


def test_benchmark_arguments_are_checked_up_front(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}/missing: no such directory"):
        find_benchmarks([str(tmp_path / "missing")], [], 4)
    with pytest.raises(ValueError, match="2 LR folders for 1 HR folders"):
        find_benchmarks([str(tmp_path)], ["a", "b"], 4)
    with pytest.raises(ValueError, match="--scale=3 is not supported"):
        EvalConfig(scale=3)


def test_perfect_reconstruction_is_reported_as_infinite_psnr(tmp_path, make_image):
    lr = make_image(6, 7)
    nearest = Upscaler("nearest", 4, lambda image: np.repeat(np.repeat(image, 4, axis=0), 4, axis=1))
    hr_dir = write_folder(tmp_path / "HR", {"blocks.png": nearest(lr)})
    (benchmark,) = find_benchmarks([hr_dir], [write_folder(tmp_path / "LR", {"blocks.png": lr})], 4)
    result = evaluate_benchmark(nearest, benchmark, CONFIG)
    (r,) = result.images
    assert np.isposinf(r.psnr) and r.ssim == pytest.approx(1.0, abs=1e-12)
    assert format_table(result, "nearest", CONFIG).splitlines()[-1].split()[2:4] == ["inf", "1.0000"]
    _, json_path = write_reports(str(tmp_path / "out"), result, "nearest", CONFIG)
    with open(json_path) as f:
        report = json.loads(f.read(), parse_constant=lambda name: pytest.fail(f"non-standard JSON {name}"))
    assert report["images"][0]["psnr"] == report["mean"]["psnr"] == "inf"
