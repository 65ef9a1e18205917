"""`python -m srgan_tf.evaluate`: Set5's published bicubic figures, nothing to evaluate, several models, the
table of several benchmarks with NIQE."""
import csv
import json
import os
import sys

import pytest

from srgan_tf.common import imaging
from srgan_tf.evaluation import pictures
from tests.evaluation.benchmarks import write_folder
from tests.processes import run_together

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow  # every test runs the command in child processes


def run_cli(*runs):
    """The evaluate command once per argument list in `runs`, all at once; a result each."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    results = run_together([[sys.executable, "-m", "srgan_tf.evaluate", *args] for args in runs], cwd=PROJECT_ROOT,
                           env=env)
    return results[0] if len(results) == 1 else results


def mean_row(stdout: str, count: int):
    """PSNR and SSIM of a table's mean row."""
    (line,) = [line for line in stdout.splitlines() if line.startswith(f"mean ({count})")]
    psnr, ssim = line.split()[2:4]
    return float(psnr), float(ssim)


def test_cli_reproduces_published_set5_bicubic_and_skips_bad_files(set5_dir, tmp_path, make_image):
    bad_dir = write_folder(tmp_path / "mixed", {"good.png": make_image(40, 44), "tiny.png": make_image(3, 3)})
    result = run_cli(["--model=bicubic", f"--hr_dir={set5_dir},{bad_dir}", "--scale=4"])
    assert result.returncode == 0, result.stderr
    psnr, ssim = mean_row(result.stdout, 5)
    assert abs(psnr - 28.43) <= 0.05  # SRGAN paper, bicubic x4, Y, 4-pixel border
    assert abs(ssim - 0.8104) <= 0.002  # ESRGAN supplement: 0.8104; measured here 0.8113
    assert "Set5 [5/5] woman: PSNR" in result.stderr  # progress, a line per image
    mean_row(result.stdout, 1)  # the other folder still got its table
    assert f"skipped: {os.path.join(bad_dir, 'tiny.png')}: 3x3 is too small" in result.stdout


def test_cli_fails_when_nothing_could_be_evaluated(tmp_path):
    missing = str(tmp_path / "no_such_dir")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "garbage.png").write_bytes(b"not a png")
    result, broken_result = run_cli(["--model=bicubic", f"--hr_dir={missing}"],
                                    ["--model=bicubic", f"--hr_dir={broken}"])
    assert result.returncode != 0
    assert f"{missing}: no such directory" in result.stderr

    result = broken_result
    assert result.returncode == 1
    assert "No image could be evaluated" in result.stderr
    assert f"{broken / 'garbage.png'}: not a readable image" in result.stdout


def test_several_models_are_compared_in_one_picture_a_summary_and_a_report_each_and_self_ensembled(
        tmp_path, tiny_model, make_image):
    model_dir, _ = tiny_model
    hr_dir = write_folder(tmp_path / "HR", {"photo.png": make_image(40, 44, seed=3)})
    output_dir = tmp_path / "out"
    result, twice, ensembled = run_cli(
        [f"--model={model_dir},bicubic", f"--hr_dir={hr_dir}", f"--output_dir={output_dir}"],
        ["--model=bicubic,bicubic", f"--hr_dir={hr_dir}"],
        [f"--model=bicubic,{model_dir}", f"--hr_dir={hr_dir}", "--self_ensemble", f"--output_dir={tmp_path / 'x8'}"])
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

    assert twice.returncode != 0 and "labels (last parts of their paths) must differ" in twice.stderr
    assert ensembled.returncode == 0, ensembled.stderr
    assert [row["model"] for row in read_table(tmp_path / "x8")] == ["bicubic", label, f"{label}+"]


def read_table(output_dir):
    with open(os.path.join(output_dir, "table.csv")) as f:
        return list(csv.DictReader(f))


def test_one_table_of_several_benchmarks_and_models_equals_each_folder_scored_alone(tmp_path, tiny_model,
                                                                                      make_image):
    model_dir, _ = tiny_model
    label = os.path.basename(model_dir)
    first = write_folder(tmp_path / "First", {"a.png": make_image(104, 200, seed=1),
                                              "b.png": make_image(112, 208, seed=2),
                                              "small.png": make_image(60, 64, seed=3)})
    second = write_folder(tmp_path / "Second", {"c.png": make_image(120, 200, seed=4)})
    empty = tmp_path / "Empty"
    empty.mkdir()
    out = {name: tmp_path / name for name in ("both", "first", "second")}
    both, alone_first, alone_second, twice, nothing = run_cli(
        [f"--model={model_dir}", "--model=bicubic", f"--hr_dir={first},{second}", "--niqe",
         f"--output_dir={out['both']}"],
        [f"--model={model_dir},bicubic", f"--hr_dir={first}", "--niqe", f"--output_dir={out['first']}"],
        [f"--model={model_dir},bicubic", f"--hr_dir={second}", "--niqe", f"--output_dir={out['second']}"],
        ["--model=bicubic", f"--hr_dir={first},{first}/"],
        ["--model=bicubic", f"--hr_dir={second},{empty}"])
    for result in (both, alone_first, alone_second):
        assert result.returncode == 0, result.stderr

    rows = read_table(out["both"])
    assert rows == read_table(out["first"]) + read_table(out["second"])  # every figure as scored alone
    assert [(r["model"], r["benchmark"]) for r in rows] == [
        (model, benchmark) for benchmark in ("First", "Second") for model in ("HR", "bicubic", label)]
    first_rows = {r["model"]: r for r in rows if r["benchmark"] == "First"}
    assert first_rows["bicubic"]["images"] == "3" and first_rows["HR"]["images"] == "2"  # small.png: no NIQE
    assert first_rows["HR"]["psnr"] == "" and all(float(r["niqe"]) > 0 for r in rows)
    with open(out["both"] / label / "First.json") as f:  # each model's own report is kept
        report = json.load(f)
    assert report["mean"]["niqe"] == pytest.approx(float(first_rows[label]["niqe"]), rel=1e-12)
    assert f"{os.path.join(first, 'small.png')}: no NIQE: 56x52 after the 4-pixel border" in both.stderr
    assert "ETA" in both.stderr and "NIQE: lower is more natural" in both.stdout
    with open(out["both"] / "table.md") as f:
        markdown = f.read()
    assert "| model | First PSNR | First SSIM | First NIQE | Second PSNR" in markdown
    assert f"| {label} | {float(first_rows[label]['psnr']):.2f} |" in markdown
    with open(out["both"] / "table.json") as f:
        assert len(json.load(f)["rows"]) == len(rows)

    assert twice.returncode != 0 and f"{first}/ is the benchmark {first} again" in twice.stderr
    assert nothing.returncode != 0 and f"--hr_dir: {empty} holds no" in nothing.stderr
