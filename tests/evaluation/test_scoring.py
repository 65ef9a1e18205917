"""A checkpoint scored on a folder: each image beside bicubic, pictures, table, CSV and JSON (scoring.py)."""
import csv
import json
import os

import numpy as np
import pytest

from srgan_tf.common import imaging
from srgan_tf.evaluation import pictures
from srgan_tf.evaluation.image_pairs import find_benchmarks
from srgan_tf.evaluation.report import format_table, write_reports
from srgan_tf.evaluation.scoring import evaluate_benchmark
from srgan_tf.evaluation.upscalers import bicubic, load_upscaler
from tests.evaluation.benchmarks import CONFIG, measure, synthesized_lr, write_folder


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
