"""The flags of the commands that build a serving graph (export, interpolate, upscale, evaluate): where
SavedModel versions go, and how the graph tiles an image. Imported by a command after
`commands.quiet_tensorflow()`, as it imports TensorFlow."""
from __future__ import annotations

from absl import flags

from srgan_tf.serving.module import DEFAULT_MAX_PIXELS
from srgan_tf.serving.tiling import DEFAULT_TILE_SIZE

# Flags defined here belong to the command that asks for them: its --help lists them.
flags.disclaim_key_flags()


def define_export_flags(version_help: str) -> None:
    """--export_dir, --version (described by `version_help`), --overwrite and the tiling flags: where and how a
    command writes SavedModel versions."""
    flags.DEFINE_string("export_dir", None, "Directory TF Serving polls; writes <export_dir>/<version>.",
                        required=True)
    flags.DEFINE_integer("version", None, version_help, lower_bound=0)
    flags.DEFINE_bool("overwrite", False, "Replace existing version directories.")
    define_tiling_flags()


def define_tiling_flags(checkpoints_only: bool = False) -> None:
    """--tile_size, --tile_overlap and --max_pixels: how the serving graph upscales a generator.

    `checkpoints_only`: for commands that also take SavedModels, which keep those they were exported with.
    """
    def text(help_text: str) -> str:
        return (f"Checkpoints, .onnx and .tflite files (not SavedModels): {help_text}" if checkpoints_only
                else help_text[0].upper() + help_text[1:])

    flags.DEFINE_integer("tile_size", DEFAULT_TILE_SIZE, text("input pixels per tile side (bounds memory)."),
                         lower_bound=1)
    flags.DEFINE_integer("tile_overlap", None,
                         text("input pixels shared by neighbouring tiles (default: twice the generator's "
                              "receptive radius, at most 32)."),
                         lower_bound=0)
    flags.DEFINE_integer("max_pixels", DEFAULT_MAX_PIXELS,
                         text("largest accepted input, in pixels per image."), lower_bound=1)
