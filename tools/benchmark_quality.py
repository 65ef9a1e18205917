"""Quality against training time: trains a recipe from scratch and measures Set5 PSNR as it goes.

Trains the recipe of a training flagfile for `--minutes` of training time on the sample photographs (or on
`--train_records`), evaluates Set5 (and any other `--hr_dir` folder) at the start and every `--eval_minutes`,
and writes the learning curve to `<output_dir>/<label>.csv` and `<output_dir>/<label>.png`.

    python tools/benchmark_quality.py --flagfile=configs/demo.flags                      # one hour
    python tools/benchmark_quality.py --flagfile=configs/div2k_srresnet.flags --minutes=10 --label=srresnet

Every training flag can be given after the flagfile to change the recipe (e.g. `--num_residual_blocks=6`).
The flagfile's `--val_records` and `--export_dir` are not used, and its `--train_records` and `--model_dir`
are replaced by the benchmark's (records of the sample photographs in `<output_dir>/records`, made once and
then reused; `<output_dir>/model`) unless they are given on the command line. A time budget shorter than the
recipe's `--train_steps` cuts a decaying learning-rate schedule short: pass `--train_steps` to fit it.

The figures: PSNR and SSIM on the Y channel with a border of `scale` pixels removed, as papers report them,
averaged over the folder's images; bicubic's, which is the floor a trained model should clear (Set5 x4:
28.43 dB); and the gain over it. Minutes are training time only, the time spent inside the training loop:
evaluations are not counted, but the first loop call's tracing and XLA compilation, and the input pipeline's
start, are (a real run pays them too). Steps/s is over the steps since the previous evaluation. Evaluations
happen between calls of `--steps_per_loop` steps: lower it for a finer curve with a large network. Each
evaluation also saves a checkpoint in the model dir (the last `--keep_checkpoints` are kept).
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import sys
import time
from typing import Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from srgan_tf import train  # noqa: E402
from srgan_tf.common import files, imaging  # noqa: E402
from srgan_tf.data import pipeline  # noqa: E402
from srgan_tf.data.sources import SourceError, samples_source  # noqa: E402
from srgan_tf.data.writer import manifest_name, write_records  # noqa: E402
from srgan_tf.evaluation import scoring, upscalers  # noqa: E402
from srgan_tf.evaluation.image_pairs import find_benchmarks  # noqa: E402
from srgan_tf.training import distribute, job  # noqa: E402
from srgan_tf.training.acceleration import cpu_description  # noqa: E402
from srgan_tf.training.trainer import Trainer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_HR_DIR = os.path.join(ROOT, "..", "shared", "data", "Set5")
FLAGS = flags.FLAGS
CSV_COLUMNS = ("label", "minutes", "step", "benchmark", "psnr", "ssim", "bicubic_psnr", "bicubic_ssim")


def _define_flags() -> None:
    """Flags exist only when this file is the program; the training flags come from `srgan_tf.train`."""
    flags.DEFINE_float("minutes", 60.0, "Minutes of training time (evaluations excluded).")
    flags.DEFINE_float("eval_minutes", 5.0, "Minutes of training time between evaluations (there is one at "
                                            "0 and one at the end too).")
    flags.DEFINE_list("hr_dir", [DEFAULT_HR_DIR], "Folders of HR images to evaluate, comma-separated.")
    flags.DEFINE_string("output_dir", "benchmark_output/quality", "Where records, model, CSV and PNG go.")
    flags.DEFINE_string("label", "", "Name of the run in the CSV and plot; default: the flagfile's stem.")
    flags.DEFINE_bool("overwrite", False, "Delete the model dir first if it holds checkpoints (the curve must "
                                          "start from scratch).")
    flags.register_validator("minutes", lambda v: v > 0, message="--minutes must be positive.")
    flags.register_validator("eval_minutes", lambda v: v > 0, message="--eval_minutes must be positive.")
    # The training module requires these; the benchmark fills them in after parsing (see `main`).
    FLAGS.set_default("train_records", "")
    FLAGS.set_default("model_dir", "")


# --------------------------------------------------------------------------------------- the set-up

def command_line_value(name: str) -> Optional[str]:
    """The last value of --name on the command line itself, not from a flagfile (absl merges the two)."""
    args, value = sys.argv[1:], None
    for index, arg in enumerate(args):
        key, equals, rest = arg.lstrip("-").partition("=")
        if arg.startswith("-") and key == name:
            value = rest if equals else (args[index + 1] if index + 1 < len(args) else None)
    return value


def fail(message: str) -> NoReturn:
    """Stops with one line naming the flag or file at fault, before anything is written."""
    sys.exit(f"benchmark_quality: {message}")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_sample_records(records_dir: str) -> None:
    """Records of the sample photographs, written once and reused while the list of photographs keeps its
    length (a split's manifest is written last, so one that exists describes complete shards)."""
    manifest_path = os.path.join(records_dir, manifest_name("train"))
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
        if manifest["num_examples"] + manifest["num_skipped"] == len(samples_source()["train"]):
            print(f"training on the sample photographs' records in {records_dir} (delete it to rebuild)")
            return
    manifests = write_records("samples", "", records_dir, num_shards=4)
    print(f"wrote {manifests['train']['num_examples']} sample photographs to {records_dir}")


# --------------------------------------------------------------------------------------- measuring

def train_and_evaluate(trainer: Trainer, iterator, minutes: float, eval_minutes: float,
                       evaluate_now: Callable[[float, Optional[float]], None]) -> float:
    """Calls the training loop until `minutes` of training time or the recipe's last step; calls
    `evaluate_now(training seconds, steps per second)` at 0, every `eval_minutes` and at the end.

    Returns the first loop call's seconds (tracing, XLA compilation and the input pipeline's start).
    """
    limit, interval = minutes * 60, eval_minutes * 60
    train_steps, steps_per_loop = trainer.config.optimization.train_steps, trainer.config.runtime.steps_per_loop
    train_seconds, first_call = 0.0, None
    evaluate_now(0.0, None)
    step = interval_start = int(trainer.step.numpy())
    interval_seconds = 0.0
    while train_seconds < limit and step < train_steps:
        num_steps = tf.constant(min(steps_per_loop, train_steps - step), tf.int64)
        start = time.perf_counter()
        trainer.train_loop(iterator, num_steps)["g_loss"].numpy()  # .numpy() waits for the steps to finish
        elapsed = time.perf_counter() - start
        first_call = elapsed if first_call is None else first_call
        previous, train_seconds, interval_seconds = train_seconds, train_seconds + elapsed, interval_seconds + elapsed
        step = int(trainer.step.numpy())
        if train_seconds >= limit or step >= train_steps or train_seconds // interval > previous // interval:
            evaluate_now(train_seconds, (step - interval_start) / interval_seconds)
            interval_start, interval_seconds = step, 0.0
    return first_call or 0.0


# --------------------------------------------------------------------------------------- outputs

def csv_text(rows: Sequence[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()})
    return out.getvalue()


COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207))
GRID, INK = (225, 225, 225), (0, 0, 0)
PANEL_SIZE, MARGIN = (620, 440), (70, 40, 20, 50)  # a panel; its plot area's margins: left, top, right, bottom
HEADER = 70  # title and legend


def nice_ticks(low: float, high: float, count: int = 6) -> List[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    if high <= low:
        low, high = low - 1, high + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int(math.ceil((high - first) / step - 1e-9)) + 1)]


def tick_text(value: float, ticks: Sequence[float]) -> str:
    decimals = max(0, -math.floor(math.log10(ticks[1] - ticks[0])))
    return f"{value:,.{decimals}f}"


def dashed_line(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, colour, dash: int = 8) -> None:
    for x in np.arange(x0, x1, 2 * dash):
        draw.line([(x, y), (min(x + dash, x1), y)], fill=colour, width=2)


def draw_panel(draw, font, origin: Tuple[int, int], curves: Dict[str, List[Tuple[float, float]]],
               bicubic: Dict[str, float], x_title: str) -> None:
    """One panel: PSNR against `x_title`, a solid curve per benchmark and its bicubic PSNR dashed."""
    left, top = origin[0] + MARGIN[0], origin[1] + MARGIN[1]
    right, bottom = left + PANEL_SIZE[0] - MARGIN[0] - MARGIN[2], top + PANEL_SIZE[1] - MARGIN[1] - MARGIN[3]
    xs = [x for points in curves.values() for x, _ in points]
    ys = [y for points in curves.values() for _, y in points] + list(bicubic.values())
    x_ticks, y_ticks = nice_ticks(0, max(xs) or 1), nice_ticks(min(ys), max(ys))

    def to_pixel(x, y):
        return (left + (x - x_ticks[0]) / (x_ticks[-1] - x_ticks[0]) * (right - left),
                bottom - (y - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]) * (bottom - top))

    for x in x_ticks:
        px = to_pixel(x, y_ticks[0])[0]
        draw.line([(px, top), (px, bottom)], fill=GRID)
        draw.text((px, bottom + 6), tick_text(x, x_ticks), fill=INK, font=font, anchor="mt")
    for y in y_ticks:
        py = to_pixel(x_ticks[0], y)[1]
        draw.line([(left, py), (right, py)], fill=GRID)
        draw.text((left - 6, py), tick_text(y, y_ticks), fill=INK, font=font, anchor="rm")
    draw.rectangle([left, top, right, bottom], outline=INK)
    draw.text(((left + right) / 2, bottom + 28), x_title, fill=INK, font=font, anchor="mt")
    draw.text((left, top - 8), "PSNR on Y (dB)", fill=INK, font=font, anchor="lb")
    for colour, (name, points) in zip(itertools.cycle(COLOURS), curves.items()):
        dashed_line(draw, left, right, to_pixel(0, bicubic[name])[1], colour)
        pixels = [to_pixel(x, y) for x, y in points]
        if len(pixels) > 1:
            draw.line(pixels, fill=colour, width=2)
        for px, py in pixels:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)


def draw_legend(draw, font, y: int, names: Sequence[str], bicubic: Dict[str, float]) -> None:
    x = 20
    for colour, name in zip(itertools.cycle(COLOURS), names):
        for text, dashed in ((name, False), (f"{name} bicubic {bicubic[name]:.2f} dB", True)):
            if dashed:
                dashed_line(draw, x, x + 30, y, colour, dash=6)
            else:
                draw.line([(x, y), (x + 30, y)], fill=colour, width=2)
            draw.text((x + 36, y), text, fill=INK, font=font, anchor="lm")
            x += 36 + draw.textlength(text, font=font) + 24


def plot(rows: Sequence[dict], label: str, cpu: str) -> np.ndarray:
    """Two panels side by side, PSNR against training minutes and against steps, as a uint8 picture."""
    names = list(dict.fromkeys(row["benchmark"] for row in rows))
    bicubic = {name: next(r["bicubic_psnr"] for r in rows if r["benchmark"] == name) for name in names}
    picture = Image.new("RGB", (2 * PANEL_SIZE[0], PANEL_SIZE[1] + HEADER), "white")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=14)
    draw.text((picture.width / 2, 12), f"{label} on {cpu}", fill=INK, font=ImageFont.load_default(size=18),
              anchor="mt")
    draw_legend(draw, font, 50, names, bicubic)
    for index, (key, title) in enumerate((("minutes", "training minutes"), ("step", "training steps"))):
        curves = {name: [(r[key], r["psnr"]) for r in rows if r["benchmark"] == name] for name in names}
        draw_panel(draw, font, (index * PANEL_SIZE[0], HEADER), curves, bicubic, title)
    return np.asarray(picture)


# --------------------------------------------------------------------------------------- the program

class Curve:
    """The learning curve so far: printed a line per point, and rewritten to CSV and PNG after each
    evaluation, so an interrupted run keeps what it measured."""

    def __init__(self, label: str, cpu: str, output_dir: str):
        self.label, self.cpu, self.rows = label, cpu, []
        self.csv_path, self.png_path = (os.path.join(output_dir, f"{label}.{ext}") for ext in ("csv", "png"))
        print(f"{'minutes':>8} {'step':>8} {'steps/s':>8}  {'benchmark':<10} {'PSNR':>6} {'SSIM':>7} "
              f"{'bicubic':>7} {'gain':>6}")

    def evaluate(self, upscaler, benchmarks, config: scoring.EvalConfig, seconds: float, step: int,
                 steps_per_second: Optional[float]) -> None:
        for benchmark in benchmarks:
            mean = scoring.evaluate_benchmark(upscaler, benchmark, config).mean()
            if mean is None:  # every image failed; evaluate_benchmark has logged why
                continue
            row = dict(label=self.label, minutes=seconds / 60, step=step, benchmark=benchmark.name, **mean)
            rate = "" if steps_per_second is None else f"{steps_per_second:.2f}"
            print(f"{row['minutes']:>8.2f} {step:>8d} {rate:>8}  {benchmark.name:<10} {row['psnr']:>6.2f} "
                  f"{row['ssim']:>7.4f} {row['bicubic_psnr']:>7.2f} {row['psnr'] - row['bicubic_psnr']:>+6.2f}",
                  flush=True)
            self.rows.append(row)
        files.write_text_atomic(self.csv_path, csv_text(self.rows))
        if self.rows:
            imaging.save_png(self.png_path, plot(self.rows, self.label, self.cpu))

    def summary(self) -> List[str]:
        """The last point of each benchmark, in the form other tools read."""
        last = {row["benchmark"]: row for row in self.rows}
        return [f"quality {self.label} {name}: {r['psnr']:.2f} dB after {r['minutes']:.1f} min "
                f"({r['step']} steps), bicubic {r['bicubic_psnr']:.2f} dB" for name, r in last.items()]


def check_inputs():
    """Settles the benchmark's records and model dir, and refuses bad inputs before anything is written.

    Returns the benchmarks, the training configs and whether the model dir's checkpoints are to be deleted.
    """
    own_records = command_line_value("train_records") is None
    if own_records:
        FLAGS.train_records = os.path.join(FLAGS.output_dir, "records", "train-*")
    elif not pipeline.list_record_files(FLAGS.train_records):
        fail(f"--train_records={FLAGS.train_records!r} matches no files.")
    if command_line_value("model_dir") is None:
        FLAGS.model_dir = os.path.join(FLAGS.output_dir, "model")
    # The curve is measured on --hr_dir and nothing is exported: the recipe's own paths for these are unused.
    FLAGS.val_records = FLAGS.export_dir = ""
    try:
        benchmarks = find_benchmarks(FLAGS.hr_dir, [], FLAGS.scale)
    except FileNotFoundError as error:
        fail(f"--hr_dir: {error}")
    for benchmark in benchmarks:
        if not benchmark.pairs:
            fail(f"--hr_dir={benchmark.hr_dir} holds no PNG, JPEG or BMP image.")
    latest = tf.train.latest_checkpoint(FLAGS.model_dir)
    if latest and not FLAGS.overwrite:
        fail(f"--model_dir={FLAGS.model_dir} holds {latest}: the curve must start from scratch. Pass "
             f"--overwrite to delete it, or choose another --model_dir or --output_dir.")
    try:
        config = train.training_config_from_flags()
    except ValueError as error:
        fail(str(error))
    if own_records:
        try:
            samples_source()
        except SourceError as error:
            fail(str(error))
    return benchmarks, config, bool(latest)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    flagfile = command_line_value("flagfile")
    if not flagfile:
        raise app.UsageError("--flagfile is required: the training recipe to measure (e.g. configs/demo.flags).")
    distribute.split_cpu(FLAGS.cpu_replicas)  # before anything touches a device
    logging.set_verbosity(logging.WARNING)  # each evaluation's per-image lines would bury the curve
    benchmarks, config, delete_checkpoints = check_inputs()
    label = FLAGS.label or os.path.splitext(os.path.basename(flagfile))[0]
    cpu, load_at_start = cpu_description(), load_average()
    print(f"{label}: {flagfile}, {config.phase} phase, up to {FLAGS.minutes:g} min of training; "
          f"{cpu}, load average {load_at_start}", flush=True)
    if command_line_value("train_records") is None:
        make_sample_records(os.path.dirname(config.data.train_records))
    if delete_checkpoints:
        tf.io.gfile.rmtree(config.bookkeeping.model_dir)

    trainer, train_input = job.prepare_training(config)
    iterator = iter(train_input)
    upscaler = upscalers.from_generator(trainer.eval_generator, config.generator, label)
    eval_config = scoring.EvalConfig(scale=config.generator.scale)
    curve = Curve(label, cpu, FLAGS.output_dir)

    def evaluate_and_save(seconds: float, rate: Optional[float]) -> None:
        """A point of the curve, and its checkpoint: every point can be resumed, exported or shipped, and a
        long run whose last weights are not finite keeps the points before."""
        step = int(trainer.step.numpy())
        curve.evaluate(upscaler, benchmarks, eval_config, seconds, step, rate)
        saved = trainer.save_checkpoint()
        print(f"saved {saved}" if saved else f"step {step}: no checkpoint saved: the weights are not finite",
              flush=True)

    first_call = train_and_evaluate(trainer, iterator, FLAGS.minutes, FLAGS.eval_minutes, evaluate_and_save)
    print(f"the first training loop call took {first_call:.1f} s (tracing, XLA compilation, input pipeline "
          f"start), counted in the minutes")
    print(f"wrote {curve.csv_path} and {curve.png_path}")
    print(f"{cpu}; load average (1, 5, 15 min) at start {load_at_start}, "
          f"at end {load_average()}")
    print("\n".join(curve.summary()))


if __name__ == "__main__":
    _define_flags()
    app.run(main)
