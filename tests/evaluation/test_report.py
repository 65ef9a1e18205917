"""An evaluation's table and JSON report when the PSNR is infinite (evaluation/report.py)."""
import json

import numpy as np
import pytest

from srgan_tf.evaluation.image_pairs import find_benchmarks
from srgan_tf.evaluation.report import format_table, write_reports
from srgan_tf.evaluation.scoring import evaluate_benchmark
from srgan_tf.evaluation.upscalers import Upscaler
from tests.evaluation.benchmarks import CONFIG, write_folder


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
