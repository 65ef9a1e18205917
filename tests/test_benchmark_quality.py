"""tools/benchmark_quality.py's outputs, the learning curve's CSV and plot, from evaluation points made here:
measuring a real curve trains for minutes."""
import csv
import importlib.util
import io
import math
import os
import sys

import numpy as np
import pytest
from PIL import Image

TOOL = os.path.join(os.path.dirname(__file__), "..", "tools", "benchmark_quality.py")
CPU = "Intel(R) Xeon(R) Test CPU @ 2.10GHz (2 cores; avx2 avx512f)"
BICUBIC = {"Set5": 28.43, "Set14": 26.0}
LABELS = ("cpu", "srresnet")


@pytest.fixture(scope="module")
def tool():
    """The tool as a module (tools/ is not a package); its flags are defined only when it is the program."""
    spec = importlib.util.spec_from_file_location("benchmark_quality", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def curve_rows() -> list:
    """Two runs on two benchmarks, evaluated at 0, 5 and 10 minutes, in the order the tool appends them."""
    rows = []
    for label, steps_per_second, gain in zip(LABELS, (40, 15), (1.0, 1.4)):
        for minutes in (0.0, 5.0, 10.0):
            for benchmark, bicubic in BICUBIC.items():
                rows.append(dict(label=label, minutes=minutes, step=int(minutes * 60 * steps_per_second),
                                 benchmark=benchmark, psnr=bicubic - 2 + gain * math.log1p(minutes), ssim=0.8,
                                 bicubic_psnr=bicubic, bicubic_ssim=0.75))
    return rows


def lines_by_label(axes) -> dict:
    return {line.get_label(): line for line in axes.get_lines()}


def test_plot_draws_each_benchmark_against_minutes_and_steps(tool):
    rows = curve_rows()
    figure = tool.plot(rows, CPU)
    assert CPU in figure.get_suptitle() and all(label in figure.get_suptitle() for label in LABELS)
    assert len(figure.axes) == 4  # a row per benchmark: minutes, then steps
    assert [axes.get_title() for axes in figure.axes] == ["Set5", "Set5", "Set14", "Set14"]
    assert [axes.get_xlabel() for axes in figure.axes] == ["training minutes", "training steps"] * 2
    assert figure.axes[0].get_ylabel() == "PSNR on Y (dB)"
    for index, axes in enumerate(figure.axes):
        benchmark = axes.get_title()
        lines = lines_by_label(axes)
        assert set(lines) == {*LABELS, f"bicubic {BICUBIC[benchmark]:.2f} dB"}
        bicubic = lines[f"bicubic {BICUBIC[benchmark]:.2f} dB"]
        assert bicubic.get_linestyle() == "--" and set(bicubic.get_ydata()) == {BICUBIC[benchmark]}
        for label in LABELS:
            expected = [row for row in rows if row["label"] == label and row["benchmark"] == benchmark]
            key = ("minutes", "step")[index % 2]
            assert lines[label].get_marker() == "o"
            np.testing.assert_allclose(lines[label].get_xdata(), [row[key] for row in expected])
            np.testing.assert_allclose(lines[label].get_ydata(), [row["psnr"] for row in expected])
            assert lines[label].get_color() == lines_by_label(figure.axes[0])[label].get_color()
    # A legend a benchmark, with each run's latest PSNR and gain over bicubic.
    legends = [axes.get_legend() for axes in figure.axes]
    assert [legend is not None for legend in legends] == [True, False, True, False]
    set14 = [row for row in rows if row["benchmark"] == "Set14" and row["minutes"] == 10.0]
    assert [text.get_text() for text in legends[2].get_texts()] == [
        f"cpu: {set14[0]['psnr']:.2f} dB, {set14[0]['psnr'] - 26:+.2f} over bicubic",
        f"srresnet: {set14[1]['psnr']:.2f} dB, {set14[1]['psnr'] - 26:+.2f} over bicubic",
        "bicubic 26.00 dB"]


def test_plot_reads_the_csv_back(tool):
    """The CSV's rows as read back (strings) draw the same curves as the rows the run holds (numbers)."""
    read_back = list(csv.DictReader(io.StringIO(tool.csv_text(curve_rows()))))
    figure = tool.plot(read_back, CPU)
    for axes, original in zip(figure.axes, tool.plot(curve_rows(), CPU).axes):
        for label, line in lines_by_label(original).items():
            np.testing.assert_allclose(lines_by_label(axes)[label].get_xydata(), line.get_xydata(), atol=1e-4)


def test_curve_writes_its_csv_and_a_png_of_the_expected_size(tool, tmp_path):
    rows = [row for row in curve_rows() if row["label"] == "cpu"]
    curve = tool.Curve("cpu", CPU, str(tmp_path))
    curve.rows = rows
    curve.save()
    assert sorted(os.listdir(tmp_path)) == ["cpu.csv", "cpu.png"]  # no temporary file left behind
    with open(tmp_path / "cpu.csv") as f:
        assert [row["psnr"] for row in csv.DictReader(f)] == [f"{row['psnr']:.4f}" for row in rows]
    with Image.open(tmp_path / "cpu.png") as picture:
        assert picture.format == "PNG"
        assert picture.size == (1100, 800)  # two 5.5 x 3.5 inch panels a row, two rows, 1 inch of title
        pixels = np.asarray(picture.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # drawn, not blank


def test_plot_without_points_or_matplotlib_says_why(tool, monkeypatch):
    with pytest.raises(ValueError, match="no evaluation points"):
        tool.plot([], CPU)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r'pip install "srgan_tf\[bench\]"'):
        tool.plot(curve_rows(), CPU)
