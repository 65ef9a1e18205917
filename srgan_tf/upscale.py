"""Upscales image files with a shipped model, an exported model or a training checkpoint, tile by tile.

    srgan-upscale --list_models                                          # the models shipped with the package
    srgan-upscale --model=srresnet-x4 photo.jpg                           # a shipped model, by name
    srgan-upscale --model=exports/srgan --output_dir=upscaled photo.jpg holiday/
    srgan-upscale --model=exports/7.onnx --runtime=onnx photo.jpg        # ONNX Runtime
    srgan-upscale --model=exports/7.tflite --runtime=litert photo.jpg    # LiteRT interpreter

--model is a shipped model's name, a SavedModel version directory, an export base directory (its highest
version is used), a training model directory / checkpoint prefix (all run by TensorFlow: --runtime=tf), or an
`.onnx` or
`.tflite` export (--runtime=onnx, --runtime=litert), loaded as `srgan_tf.evaluate` loads it. Checkpoints
and SavedModels run the serving graph of `srgan_tf.serving`; ONNX and LiteRT exports are tiled from Python
with the same windows, so large images (e.g. 4000x3000) are upscaled with bounded memory by every runtime.
Each input gives `<output_dir>/<name>_sr.png`, keeping its channels and depth
(`srgan_tf.common.image_modes`): grey stays grey, alpha is kept (upscaled by --alpha), and a 16-bit image
comes out 16-bit, upscaled from all 16 bits by models that have a 16-bit path (checkpoints and SavedModels;
a model without one refuses 16-bit images rather than round them to 8 bits). --nokeep_mode writes 8-bit
RGB instead, alpha dropped.
"""
from __future__ import annotations

import sys
from typing import Dict, List

import numpy as np
from absl import app, flags

from srgan_tf import pretrained
from srgan_tf.common import commands
from srgan_tf.common.image_files import (READABLE_EXTENSIONS, find_images, plan_outputs,
                                         refuse_decompression_bombs)

commands.quiet_tensorflow()  # before anything imports TensorFlow

from srgan_tf.common.console import ProgressBar  # noqa: E402
from srgan_tf.common.image_modes import ALPHA_METHODS, BICUBIC, upscale_keeping_mode  # noqa: E402
from srgan_tf.common.imaging import load_image, load_rgb, save_png  # noqa: E402
from srgan_tf.evaluation.upscalers import (RUNTIMES, Upscaler, load_upscaler,  # noqa: E402
                                           resolve_saved_model, runtime_of)
from srgan_tf.serving import tiling_flags  # noqa: E402


def _upscale_keeping_mode(upscaler: Upscaler, image: np.ndarray, alpha: str) -> np.ndarray:
    """`image` (`load_image`'s) upscaled to the same channels and depth."""
    if image.dtype == np.uint16 and upscaler.run16 is None:
        raise ValueError(f"a 16-bit image, and {upscaler.description or upscaler.name} has no 16-bit "
                         "path (ONNX and LiteRT exports, and SavedModels exported before 'predict_pixels16', "
                         "take 8-bit pixels); use a checkpoint or a SavedModel exported now, or pass "
                         "--nokeep_mode to upscale it as 8-bit RGB.")
    upscale_rgb = upscaler.upscale16 if image.dtype == np.uint16 else upscaler
    return upscale_keeping_mode(image, lambda rgb: upscale_rgb(np.asarray(rgb)), alpha).numpy()


def upscale_files(upscaler: Upscaler, outputs: Dict[str, str], keep_mode: bool = True,
                  alpha: str = BICUBIC) -> List[str]:
    """Upscales each input to its planned output; returns one message per image that failed.

    With `keep_mode`, each output keeps its input's channels and depth (`alpha` says how alpha is upscaled);
    without, it is 8-bit RGB.
    """
    failures = []
    progress = ProgressBar(len(outputs), label="upscaling")
    for image_path, output_path in outputs.items():
        try:
            # Both loaders' errors name the file.
            refuse_decompression_bombs(image_path)
            image = load_image(image_path) if keep_mode else load_rgb(image_path)
        except ValueError as error:
            failures.append(str(error))
        else:
            try:
                upscaled = _upscale_keeping_mode(upscaler, image, alpha) if keep_mode else upscaler(image)
                save_png(output_path, upscaled)
            except ValueError as error:  # refused by the model, e.g. over its pixel limit or 16-bit
                failures.append(f"{image_path}: {error}")
        progress.advance()
    progress.break_line()
    return failures


def model_list() -> str:
    """A line per shipped model, starting with the name --model takes."""
    lines = []
    for model in pretrained.catalog().values():
        scores = ", ".join(f"{benchmark} {score['psnr']:.2f} dB" for benchmark, score in model.scores.items())
        lines.append(f"{model.name}  x{model.generator.scale}, {model.parameters / 1e6:.2f} M parameters: "
                     f"{model.summary}" + (f" ({scores})" if scores else ""))
    return "\n".join(lines)


def main(argv):
    f = flags.FLAGS
    if f.list_models:
        print(model_list() or "No model is shipped with this installation.")
        return 0
    if f.model is None:
        raise app.UsageError("--model is required (a shipped model's name, see --list_models, or a path).")
    if len(argv) < 2:
        raise app.UsageError("Name the image files or folders to upscale.")
    try:
        needed = runtime_of(f.model)
        if f.runtime is not None and f.runtime != needed:
            raise ValueError(f"--runtime={f.runtime} cannot run --model={f.model}, which needs --runtime={needed} "
                             "(tf: SavedModels and checkpoints, onnx: .onnx files, litert: .tflite files).")
        images = find_images(argv[1:], READABLE_EXTENSIONS)
        outputs = plan_outputs(images, f.output_dir, overwrite=f.overwrite)
        upscaler = load_upscaler(f.model, tile_size=f.tile_size, tile_overlap=f.tile_overlap,
                                 max_pixels=f.max_pixels)
    except (FileNotFoundError, FileExistsError, ValueError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Upscaling {len(outputs)} image(s) with {upscaler.description} into {f.output_dir}")
    tiling_flags = ("tile_size", "tile_overlap", "max_pixels")
    if resolve_saved_model(f.model) and any(f[name].present for name in tiling_flags):
        print("Note: a SavedModel keeps the tiling and pixel limit it was exported with; flags ignored.")
    failures = upscale_files(upscaler, outputs, keep_mode=f.keep_mode, alpha=f.alpha)
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


def _define_flags() -> None:
    flags.DEFINE_string("model", None, "A shipped model's name (--list_models), a SavedModel (a version or the "
                        "export base), model dir / checkpoint, or .onnx / .tflite export.")
    flags.DEFINE_bool("list_models", False, "Print the models shipped with the package, one per line, and exit.")
    flags.DEFINE_enum("runtime", None, list(RUNTIMES), "What runs --model: tf (SavedModels, checkpoints), onnx "
                      "(ONNX Runtime, .onnx) or litert (LiteRT, .tflite); default: the one --model needs.")
    flags.DEFINE_string("output_dir", "upscaled", "Where to write <name>_sr.png for each input.")
    flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
    flags.DEFINE_bool("keep_mode", True, "Keep each image's channels and depth: grey stays grey, alpha is "
                      "kept, 16-bit stays 16-bit. --nokeep_mode: 8-bit RGB, alpha dropped.")
    flags.DEFINE_enum("alpha", BICUBIC, ALPHA_METHODS, "How alpha is upscaled (with --keep_mode): by bicubic "
                      "interpolation, or by the model (alpha as a grey image).")
    tiling_flags.define_tiling_flags(checkpoints_only=True)


def run() -> None:
    """The `srgan-upscale` command (`python -m srgan_tf.upscale`)."""
    _define_flags()
    commands.run(main)


if __name__ == "__main__":
    run()
