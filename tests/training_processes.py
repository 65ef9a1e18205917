"""`python -m srgan_tf.train` as a child process with tiny networks, and those networks as its flags."""
import os
import re
import subprocess
import sys
import time

import tensorflow as tf

TINY_FLAGS = ["--num_residual_blocks=1", "--num_filters=8", "--hr_patch_size=16", "--batch_size=4",
              "--discriminator_filters=4", "--vgg_layer=vgg22", "--vgg_weights=none", "--jit_compile=off"]
# The same networks for the tests of the train command: at x4, seeded.
TRAIN_FLAGS = ["--scale=4", *TINY_FLAGS, "--seed=3"]
TIMEOUT_S = 300


class Training:
    """One training process; its log (absl writes to stderr) goes to `log_path`."""

    def __init__(self, train_records, model_dir, log_path, *flags, env=None):
        self.model_dir = str(model_dir)
        self.log_path = str(log_path)
        command = [sys.executable, "-m", "srgan_tf.train", f"--train_records={train_records}",
                   f"--model_dir={model_dir}", *TINY_FLAGS, *flags]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, **(env or {})})

    def wait(self) -> int:
        try:
            return self.process.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"training did not finish in {TIMEOUT_S} s; log:\n{self.log()}")

    def log(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def wait_until(self, condition, what: str):
        """Polls `condition()` every millisecond until it is true; fails if the process ends first."""
        deadline = time.monotonic() + TIMEOUT_S
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"training ended (code {self.process.returncode}) before {what}; log:\n"
                                     f"{self.log()}")
            assert time.monotonic() < deadline, f"no {what} after {TIMEOUT_S} s"
            time.sleep(0.001)


def latest_step(model_dir) -> int:
    """The step of the checkpoint the `checkpoint` state file points at; -1 if there is none."""
    latest = tf.train.latest_checkpoint(str(model_dir))
    return int(latest.rsplit("-", 1)[1]) if latest else -1


def logged(pattern: str, log: str):
    """All matches of `pattern` in a log, as group tuples (or strings, for one group)."""
    return re.findall(pattern, log)
