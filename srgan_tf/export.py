"""Exports a training checkpoint as a versioned SavedModel for TF Serving (see `srgan_tf.serving.saved_model`).

    srgan-export --model_dir=runs/srgan --export_dir=exports [--version=N] [--overwrite]
"""
from __future__ import annotations

import sys

from absl import flags

from srgan_tf.common import commands

commands.quiet_tensorflow()  # before anything imports TensorFlow

from srgan_tf.serving.saved_model import export_saved_model  # noqa: E402
from srgan_tf.training.checkpointing import load_generator  # noqa: E402


def main(argv):
    del argv
    f = flags.FLAGS
    try:
        generator, model_config, step = load_generator(f.model_dir)
        version = step if f.version is None else f.version
        path = export_saved_model(generator, model_config, f.export_dir, version, tile_size=f.tile_size,
                                  tile_overlap=f.tile_overlap, max_pixels=f.max_pixels, overwrite=f.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Exported {f.model_dir} (step {step}) to {path}")
    return 0


def _define_flags() -> None:
    """Called by `run()`: importing this module defines no flags."""
    flags.DEFINE_string("model_dir", None, "Model directory or checkpoint prefix to export.", required=True)
    commands.define_export_flags("Version directory name; default: the checkpoint's global step.")


def run() -> None:
    """The `srgan-export` command (`python -m srgan_tf.export`)."""
    _define_flags()
    commands.run(main)


if __name__ == "__main__":
    run()
