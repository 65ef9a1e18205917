"""`python -m srgan_tf.export`: a training checkpoint exported with its step as the version."""
import os
import subprocess
import sys

import pytest

from tests.tiny_models import MAX_PIXELS, STEP, TILE_SIZE, make_model_dir

pytestmark = pytest.mark.slow  # every test runs the command in a child process


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model"))
    return path, make_model_dir(path)


def test_command_line_exports_the_checkpoint_step_as_version(model_dir, tmp_path):
    exports = str(tmp_path / "exports")
    command = [sys.executable, "-m", "srgan_tf.export", f"--model_dir={model_dir[0]}",
               f"--export_dir={exports}", f"--tile_size={TILE_SIZE}", f"--max_pixels={MAX_PIXELS}"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.listdir(exports) == [str(STEP)]
    assert f"to {os.path.join(exports, str(STEP))}" in result.stdout


def test_command_line_exports_litert_checked_against_tensorflow(model_dir, tmp_path):
    exports = str(tmp_path / "exports")
    command = [sys.executable, "-m", "srgan_tf.export", f"--model_dir={model_dir[0]}", f"--export_dir={exports}"]
    result = subprocess.run(command + ["--format=litert", "--quantize=float16"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.listdir(exports) == [f"{STEP}_float16.tflite"]
    assert "Checked against TensorFlow on a probe picture: max difference" in result.stdout
    result = subprocess.run(command + ["--quantize=float16"], capture_output=True, text=True)
    assert result.returncode == 1 and "--quantize applies to --format=litert only" in result.stderr
    assert os.listdir(exports) == [f"{STEP}_float16.tflite"]
