r"""Measures super-resolution models on benchmark folders as the papers do (PSNR/SSIM on Y, border removed),
and NIQE, the no-reference score of naturalness that GAN models are for (lower is more natural).

  srgan-evaluate --model=bicubic --hr_dir=data/Set5 --scale=4
  srgan-evaluate --model=bicubic,runs/psnr,runs/gan --hr_dir=data/Set5,data/Set14,data/BSD100 --niqe \
      --output_dir=eval
  srgan-evaluate --model=runs/srgan --hr_dir=data/Set5,data/DIV2K_valid_HR \
      --lr_dir=,data/DIV2K_valid_LR_bicubic/X4 --output_dir=eval/srgan
  srgan-evaluate --model=exports/srresnet,exports/srgan --hr_dir=data/Set5 --output_dir=eval
  srgan-evaluate --model=exports/realesrgan --hr_dir=data/Set5 --degradation=realesrgan --seed=0

--model is `bicubic`, an exported SavedModel (its `predict_pixels` signature; given a TF Serving base
directory, its latest version) or a training model directory / checkpoint prefix. Without --lr_dir, LR
images are made from HR by antialiased bicubic downscaling, or with --degradation=realesrgan by
Real-ESRGAN's random degradation, drawn from --seed and each image's name (the same LR in every run).
Prints a table per folder and model, then the table papers print: a row per model (HR with --niqe, bicubic,
then each --model), a PSNR/SSIM (and NIQE) column group per folder. With --output_dir it also writes that
table as table.md, table.csv and table.json, <folder>.csv, <folder>.json and a comparison picture per image
(LR | bicubic | SR | HR) under <folder>/. Several models (comma-separated, or --model repeated) are compared:
a summary line per folder, one picture per image with every model's output (labelled with the last part of
its path and its PSNR), and the CSV/JSON of each model under <output_dir>/<label>/. Exits non-zero only if no
image at all could be evaluated.
"""
from __future__ import annotations

import os
import sys

from absl import app, flags

from srgan_tf.common import commands
from srgan_tf.common.image_files import BENCHMARK_FORMATS, format_names

commands.quiet_tensorflow()  # before anything imports TensorFlow

from srgan_tf import config_flags  # noqa: E402
from srgan_tf.config import DegradationConfig  # noqa: E402
from srgan_tf.evaluation import report, scoring, table  # noqa: E402
from srgan_tf.evaluation.image_pairs import find_benchmarks  # noqa: E402
from srgan_tf.evaluation.upscalers import BICUBIC, load_upscaler, self_ensemble  # noqa: E402
from srgan_tf.serving import tiling_flags  # noqa: E402

FLAGS = flags.FLAGS


def _define_flags() -> None:
    """Called by `run()`: importing this module defines no flags."""
    flags.DEFINE_multi_string("model", None, "'bicubic', a SavedModel (or TF Serving base directory), or a "
                                             "model directory / checkpoint; several, comma-separated or the "
                                             "flag repeated, are compared.")
    flags.DEFINE_list("hr_dir", None,
                      f"Comma-separated folders of HR images ({format_names(BENCHMARK_FORMATS)}).")
    flags.DEFINE_list("lr_dir", [], "Folders of given LR images paired by position with --hr_dir, matched "
                                    "by name (0801x4.png or 0801.png for 0801.png); an empty entry makes LR "
                                    "from HR.")
    config_flags.define_flags([scoring.EvalConfig, DegradationConfig])
    flags.adopt_module_key_flags(config_flags)  # so that --help lists them
    flags.DEFINE_string("output_dir", None, "Where to write CSV, JSON and comparison pictures.")
    flags.DEFINE_bool("self_ensemble", False, "Also score each model (not bicubic) on the 8 flips and rotations "
                                              "of its input, averaged (EDSR's '+'), as a row of its own named "
                                              "<label>+: papers report it apart from the model.")
    tiling_flags.define_tiling_flags(checkpoints_only=True)
    flags.mark_flags_as_required(["model", "hr_dir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        degradations = DegradationConfig(**config_flags.settings_from_flags([DegradationConfig]))
        config = scoring.EvalConfig(**config_flags.settings_from_flags([scoring.EvalConfig]),
                                    degradations=degradations)
        benchmarks = find_benchmarks(FLAGS.hr_dir, FLAGS.lr_dir, config.scale)
        tiling = dict(tile_size=FLAGS.tile_size, tile_overlap=FLAGS.tile_overlap, max_pixels=FLAGS.max_pixels)
        upscalers = [load_upscaler(model, config.scale, **tiling) for model in model_list(FLAGS.model)]
        if FLAGS.self_ensemble:
            upscalers = with_self_ensembles(upscalers)
    except (FileNotFoundError, ValueError) as error:
        raise app.UsageError(str(error)) from error
    labels = [upscaler.label for upscaler in upscalers]
    if len(set(labels)) < len(labels):
        raise app.UsageError(f"--model: the models' labels (last parts of their paths) must differ: {labels}.")
    evaluated, all_results = 0, []
    for benchmark in benchmarks:
        comparison_dir = FLAGS.output_dir and os.path.join(FLAGS.output_dir, benchmark.name)
        results = scoring.evaluate_models(upscalers, benchmark, config, comparison_dir)
        all_results.append(results)
        for upscaler, result in zip(upscalers, results):
            print(report.format_table(result, upscaler.name, config) + "\n", flush=True)
            if FLAGS.output_dir:
                report_dir = FLAGS.output_dir if len(upscalers) == 1 else os.path.join(FLAGS.output_dir,
                                                                                       upscaler.label)
                report.write_reports(report_dir, result, upscaler.name, config)
        if len(upscalers) > 1:
            print(report.format_summary(results, labels, config) + "\n", flush=True)
        evaluated += len(results[0].images)
    cells = table.table_cells(all_results, labels, config)
    print(table.format_text(cells, config), flush=True)
    if FLAGS.output_dir:
        print("wrote " + ", ".join(table.write_table(FLAGS.output_dir, cells, config)))
    if not evaluated:
        print("No image could be evaluated.", file=sys.stderr)
        return 1
    return 0


def with_self_ensembles(upscalers: list) -> list:
    """Each model followed by its self-ensemble; bicubic has none."""
    return [each for upscaler in upscalers
            for each in ([upscaler] if upscaler.name == BICUBIC else [upscaler, self_ensemble(upscaler)])]


def model_list(values) -> list:
    """--model's entries, whether comma-separated, repeated or both, in order."""
    return [model.strip() for value in values for model in value.split(",") if model.strip()]


def run() -> None:
    """The `srgan-evaluate` command (`python -m srgan_tf.evaluate`)."""
    _define_flags()
    commands.run(main)


if __name__ == "__main__":
    run()
