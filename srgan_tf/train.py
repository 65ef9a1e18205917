"""Trains a PSNR-oriented generator (`--phase=pretrain`: SRResNet, RRDBNet) or a GAN (`--phase=gan`: SRGAN,
ESRGAN): `python -m srgan_tf.train --flagfile=...`.

Its flags are generated from the fields of `srgan_tf.config.TrainingConfig` (`srgan_tf.config_flags`):
one flag per setting, named as the field; `--flagfile` reads them from a file.
"""
from __future__ import annotations

import sys

from srgan_tf.common import commands

commands.quiet_tensorflow()  # before anything imports TensorFlow

from absl import app, flags, logging  # noqa: E402

from srgan_tf import config_flags  # noqa: E402
from srgan_tf.config_flags import define_training_flags, training_config_from_flags  # noqa: E402

define_training_flags()
flags.adopt_module_key_flags(config_flags)  # so that --help lists them
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        config = training_config_from_flags()
    except ValueError as error:  # a setting that cannot work: the message names its flags
        sys.exit(f"error: {error}")
    from srgan_tf.training import distribute
    distribute.split_cpu(config.runtime.cpu_replicas)
    from srgan_tf.training import job, preemption
    try:
        job.run_training(config)
    except preemption.TrainingInterrupted as stop:
        logging.warning("%s", stop)
        sys.exit(stop.exit_code)


def run() -> None:
    """The `srgan-train` command (`python -m srgan_tf.train`)."""
    commands.run(main)


if __name__ == "__main__":
    run()
