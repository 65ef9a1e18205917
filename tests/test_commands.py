"""The installed commands: --help, TensorFlow's start-up chatter kept out of their output, and which of
them stay free of TensorFlow."""
import os
import subprocess
import sys

import pytest

from srgan_tf.common import commands
from tests.processes import run_together
from tests.tiny_models import make_model_dir

# Command, its module, one of its own flags.
COMMANDS = [
    ("srgan-make-records", "srgan_tf.make_records", "--source"),
    ("srgan-train", "srgan_tf.train", "--train_records"),
    ("srgan-evaluate", "srgan_tf.evaluate", "--hr_dir"),
    ("srgan-export", "srgan_tf.export", "--export_dir"),
    ("srgan-interpolate", "srgan_tf.interpolate", "--alphas"),
    ("srgan-upscale", "srgan_tf.upscale", "--tile_size"),
    ("srgan-client", "srgan_tf.client", "--protocol"),
]
START_UP_LINES = ["absl::InitializeLog", "cudart_stub", "oneDNN custom operations", "cpu_feature_guard",
                  "signature_serialization", "Writing fingerprint"]


def installed(command: str, module: str) -> list:
    """The console script next to the running python (pip install puts it there), else `python -m`."""
    script = os.path.join(os.path.dirname(sys.executable), command)
    return [script] if os.path.exists(script) else [sys.executable, "-m", module]


def quiet_env() -> dict:
    """The environment a user has: none of the test set-up's logging settings."""
    return {key: value for key, value in os.environ.items()
            if key not in ("TF_CPP_MIN_LOG_LEVEL", commands.VERBOSE_ENV)}


@pytest.mark.slow
def test_help_lists_the_commands_own_flags():
    results = run_together([[*installed(command, module), "--help"] for command, module, _ in COMMANDS],
                           timeout=120, env=quiet_env())
    for (command, _, flag), result in zip(COMMANDS, results):
        assert result.returncode == 0, (command, result.stderr[-2000:])
        assert f"  {flag}" in result.stdout, command
        assert not any(line in result.stderr for line in START_UP_LINES), (command, result.stderr[-2000:])


@pytest.mark.slow
def test_export_prints_its_own_lines_only_unless_asked_for_more(tmp_path):
    model_dir = str(tmp_path / "model")
    make_model_dir(model_dir)
    export = [sys.executable, "-m", "srgan_tf.export", f"--model_dir={model_dir}"]
    result, verbose = run_together([[*export, f"--export_dir={tmp_path / 'quiet'}"],
                                    [*export, f"--export_dir={tmp_path / 'verbose'}", "--verbosity=1"]],
                                   env=quiet_env())
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert f"Exported {model_dir} (step 7)" in output
    assert max(len(line) for line in output.splitlines()) <= 300, output[-3000:]
    assert not [line for line in START_UP_LINES if line in output], output[-3000:]

    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert "signature_serialization" in verbose.stderr and "Writing fingerprint" in verbose.stderr


@pytest.mark.parametrize("args,env,expected", [
    ([], {}, False),
    (["--verbosity=1"], {}, True),
    (["-v", "1", "--other=2"], {}, True),
    (["--verbosity=0"], {}, False),
    (["--", "--verbosity=1"], {}, False),
    ([], {commands.VERBOSE_ENV: "1"}, True),
    ([], {commands.VERBOSE_ENV: "0"}, False),
])
def test_verbosity_is_read_from_the_command_line_and_the_environment(monkeypatch, args, env, expected):
    monkeypatch.setattr(sys, "argv", ["command", *args])
    monkeypatch.delenv(commands.VERBOSE_ENV, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert commands.verbose() == expected


def test_only_tensorflows_start_up_lines_are_dropped():
    dropped = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"I0000 00:00:1796300526.220508   15668 cudart_stub.cc:31] Could not find cuda drivers\n",
        b"2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] Could not find\n",
        b"W0000 00:00:1758131437.322781 3722519 computation_placer.cc:177] computation placer already\n",
        b"E0000 00:00:1796300528.279027   15668 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n",
        b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild\n",
    ]
    kept = [
        b"E0000 00:00:1796300528.279027   15668 status.cc:52] something else went wrong\n",
        b"Traceback (most recent call last):\n",
        b"/path/to/module.py:3: UserWarning: a warning\n",
    ]
    assert all(commands._is_start_up_line(line) for line in dropped)
    assert not any(commands._is_start_up_line(line) for line in kept)


def test_record_workers_and_the_rest_client_do_not_import_tensorflow():
    """Spawned record-writing workers import the command's module and `data.images`; the REST client
    needs only the standard library."""
    code = ("import sys, srgan_tf.make_records, srgan_tf.data.images, srgan_tf.client, "
            "srgan_tf.serving.client; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
