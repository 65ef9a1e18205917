"""Benchmark folders as LR/HR pairs: LR matched by name, bad inputs named, arguments checked first."""
import numpy as np
import pytest

from srgan_tf.evaluation.image_pairs import find_benchmarks
from srgan_tf.evaluation.scoring import EvalConfig, evaluate_benchmark
from srgan_tf.evaluation.upscalers import bicubic
from tests.evaluation.benchmarks import CONFIG, measure, synthesized_lr, write_folder


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
    with pytest.raises(ValueError, match=f"--hr_dir: {tmp_path} holds no"):
        find_benchmarks([str(tmp_path)], [], 4)
    write_folder(tmp_path / "HR", {"a.png": np.zeros((8, 8, 3), np.uint8)})
    with pytest.raises(ValueError, match=f"--hr_dir: {tmp_path}/HR/ is the benchmark {tmp_path}/HR again"):
        find_benchmarks([str(tmp_path / "HR"), f"{tmp_path}/HR/"], [], 4)
    with pytest.raises(ValueError, match="--scale=3 is not supported"):
        EvalConfig(scale=3)
