r"""Ships a trained generator inside the package: float16 weights, their hash, recipe and scores in the catalog.

    python tools/ship_model.py --model_dir=runs/cpu_291 --name=srresnet-x4 \
        --summary="PSNR-oriented: the 291 images, 2 h on a 2-core CPU" --flagfile_used=configs/cpu_291.flags \
        --command="python tools/benchmark_quality.py --flagfile=configs/cpu_291.flags --minutes=120 ..." \
        --training_minutes=120

Writes `srgan_tf/pretrained/<name>.npz` (the moving average of the weights where the run kept one, as
float16) and its entry in `srgan_tf/pretrained/catalog.json`, both atomically. The shipped weights are scored
on every `--hr_dir` (PSNR/SSIM on Y with a border of `scale` pixels, and NIQE), beside the checkpoint's
float32 weights; the model is refused if rounding to float16 moves any benchmark's PSNR by more than
`--max_psnr_change` dB. The scores recorded are the shipped weights'.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from srgan_tf import pretrained  # noqa: E402
from srgan_tf.common.files import write_bytes_atomic, write_text_atomic  # noqa: E402
from srgan_tf.evaluation import scoring  # noqa: E402
from srgan_tf.evaluation.image_pairs import find_benchmarks  # noqa: E402
from srgan_tf.evaluation.upscalers import from_generator  # noqa: E402
from srgan_tf.modeling.checkpointing import load_generator  # noqa: E402
from srgan_tf.modeling.generator import build_generator  # noqa: E402
from srgan_tf.training.acceleration import cpu_description  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
FLAGS = flags.FLAGS

flags.DEFINE_string("model_dir", None, "Model directory or checkpoint prefix to ship.", required=True)
flags.DEFINE_string("name", None, "The name commands accept in place of a path (letters, digits, '-').",
                    required=True)
flags.DEFINE_string("summary", None, "One line for --list_models: what the model is for.", required=True)
flags.DEFINE_string("flagfile_used", None, "The training flagfile (recorded).", required=True)
flags.DEFINE_string("command", None, "The command that trained it (recorded).", required=True)
flags.DEFINE_float("training_minutes", None, "Training time in minutes (recorded).", required=True)
flags.DEFINE_string("starts_from", "", "The shipped model this one was trained on from (a GAN phase's PSNR "
                    "model), whose training time and steps come on top (recorded).")
flags.DEFINE_list("hr_dir", [os.path.join(SHARED, name) for name in ("Set5", "Set14", "BSD100")],
                  "Benchmark folders scored and recorded.")
flags.DEFINE_float("max_psnr_change", 0.01, "Largest PSNR change (dB) float16 weights may cause.")


def _checked_name(name: str) -> str:
    if not name or not all(c.isalnum() or c == "-" for c in name) or os.path.exists(name):
        raise app.UsageError(f"--name={name!r}: use letters, digits and '-', and no name of a file here.")
    return name


def main(argv):
    del argv
    name = _checked_name(FLAGS.name)
    if FLAGS.starts_from and FLAGS.starts_from not in pretrained.names():
        raise app.UsageError(f"--starts_from={FLAGS.starts_from!r} is no shipped model: "
                             f"{', '.join(pretrained.names()) or 'none is shipped'}.")
    trained, config, step = load_generator(FLAGS.model_dir)
    data = pretrained.weights_bytes(trained.get_weights())
    entry = pretrained.ShippedModel(
        name=name, summary=FLAGS.summary, file=f"{name}.npz", sha256=hashlib.sha256(data).hexdigest(),
        generator=config, parameters=int(trained.count_params()),
        recipe={"flagfile": FLAGS.flagfile_used, "command": FLAGS.command, "cpu": cpu_description(),
                "training_minutes": FLAGS.training_minutes, "steps": step,
                **({"starts_from": FLAGS.starts_from} if FLAGS.starts_from else {})},
        scores={})
    shipped = build_generator(config)
    shipped.set_weights([w.astype("float16").astype("float32") for w in trained.get_weights()])

    eval_config = scoring.EvalConfig(scale=config.scale, niqe=True)
    upscalers = [from_generator(trained, config, "float32"), from_generator(shipped, config, "float16")]
    scores = {}
    for benchmark in find_benchmarks(FLAGS.hr_dir, [], config.scale):
        full, half = (result.mean() for result in scoring.evaluate_models(upscalers, benchmark, eval_config))
        change = half["psnr"] - full["psnr"]
        print(f"{benchmark.name}: float32 {full['psnr']:.4f} dB, float16 {half['psnr']:.4f} dB ({change:+.4f}), "
              f"SSIM {half['ssim']:.4f}, NIQE {half.get('niqe', float('nan')):.4f} (lower is more natural)")
        if abs(change) > FLAGS.max_psnr_change:
            sys.exit(f"ship_model: float16 weights change {benchmark.name}'s PSNR by {change:+.4f} dB, over "
                     f"--max_psnr_change={FLAGS.max_psnr_change}; nothing written.")
        scores[benchmark.name] = {key: round(half[key], 4) for key in ("psnr", "ssim", "niqe") if key in half}
    entry = dataclasses.replace(entry, scores=scores)

    write_bytes_atomic(entry.path, data)
    models = {**pretrained.read_catalog(), name: entry}
    catalog_path = os.path.join(pretrained.DIRECTORY, pretrained.CATALOG_FILE)
    write_text_atomic(catalog_path, json.dumps({"models": [m.to_json() for m in models.values()]}, indent=2) + "\n")
    print(f"wrote {entry.path} ({len(data) / 1e6:.2f} MB, {entry.parameters} parameters, step {step}) and "
          f"its entry in {catalog_path}")
    print("\nThe README's model table:\n" + model_table(models.values()))


def model_table(models) -> str:
    """The README's table of the shipped models, as markdown: what a reader compares them by."""
    benchmarks = ("Set5", "Set14", "BSD100")
    rows = ["| model | parameters | file | " + " | ".join(f"{b} PSNR / SSIM" for b in benchmarks)
            + " | BSD100 NIQE | training |",
            "|---|---:|---:|" + "---|" * len(benchmarks) + "---:|---|"]
    for model in models:
        cells = [f"{model.scores[b]['psnr']:.2f} / {model.scores[b]['ssim']:.4f}" for b in benchmarks]
        recipe = model.recipe
        start = f" from `{recipe['starts_from']}`" if recipe.get("starts_from") else ""
        rows.append(f"| `{model.name}` | {model.parameters / 1e6:.2f} M | "
                    f"{os.path.getsize(model.path) / 1e6:.1f} MB | " + " | ".join(cells)
                    + f" | {model.scores['BSD100']['niqe']:.2f} | {recipe['training_minutes']:g} min, "
                    f"{recipe['steps']:,} steps{start}, `{recipe['flagfile']}` |")
    return "\n".join(rows)


if __name__ == "__main__":
    app.run(main)
