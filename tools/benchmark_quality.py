"""Quality against training time: trains a recipe from scratch and measures Set5 PSNR as it goes.

Trains the recipe of a training flagfile for `--minutes` of training time on the sample photographs (or on
`--train_records`), evaluates Set5 (and any other `--hr_dir` folder) at the start and every `--eval_minutes`,
and writes the learning curve to `<output_dir>/<label>.csv` and `<output_dir>/<label>.png`. The plot is drawn
with matplotlib, an optional extra: `pip install "srgan_tf[bench]"`.

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
import json
import os
import sys
import time
from typing import Callable, List, Mapping, NoReturn, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from srgan_tf import train  # noqa: E402
from srgan_tf.common import files  # noqa: E402
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


PANEL_INCHES = (5.5, 3.5)  # one panel's width and height
TITLE_INCHES = 1.0
DPI = 100
X_AXES = (("minutes", "training minutes"), ("step", "training steps"))


def require_matplotlib() -> None:
    """Raises ImportError naming the extra to install when matplotlib is missing. It is imported only where a
    plot is drawn: it is this benchmark's alone, and training, evaluation and serving must not need it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(f"the quality plot is drawn with matplotlib ({error}): "
                          f'pip install "srgan_tf[bench]"') from error


def legend_text(name: str, last: Mapping[str, Mapping[str, object]]) -> str:
    """A run's legend entry, with the PSNR of its latest point in `last` and the gain over bicubic; any other
    entry (a bicubic line) as it is."""
    if name not in last:
        return name
    psnr, bicubic = float(last[name]["psnr"]), float(last[name]["bicubic_psnr"])
    return f"{name}: {psnr:.2f} dB, {psnr - bicubic:+.2f} over bicubic"


def plot(rows: Sequence[Mapping[str, object]], cpu: str):
    """The learning curves as a matplotlib Figure: a row per benchmark, PSNR against training minutes on the
    left and against training steps on the right (minutes compare recipes on one machine; steps compare them
    across machines, and show a recipe that is cheap per step but slow per minute).

    Each run (`label`) is a line with a marker per evaluation, in one colour in every panel; the benchmark's
    bicubic PSNR, the floor a trained model should clear, is a dashed grey line; each row's legend gives every
    run's latest PSNR and its gain over bicubic, the figures the summary prints. The title names the runs and
    `cpu`, since minutes mean nothing without the machine. `rows` are the CSV's, as the benchmark makes them
    (numbers) or as read back from the file (strings). The figure has its own Agg canvas and no pyplot state:
    nothing is shown, and nothing leaks between calls.
    """
    if not rows:
        raise ValueError("no evaluation points to plot")
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import StrMethodFormatter

    benchmarks = list(dict.fromkeys(row["benchmark"] for row in rows))
    labels = list(dict.fromkeys(row["label"] for row in rows))
    colours = {label: f"C{index % 10}" for index, label in enumerate(labels)}
    figure = Figure(figsize=(len(X_AXES) * PANEL_INCHES[0], len(benchmarks) * PANEL_INCHES[1] + TITLE_INCHES),
                    dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(f"{', '.join(labels)} on {cpu}")
    panels = figure.subplots(len(benchmarks), len(X_AXES), squeeze=False, sharey="row")
    for benchmark, row_panels in zip(benchmarks, panels):
        points = [row for row in rows if row["benchmark"] == benchmark]
        for axes, (key, x_title) in zip(row_panels, X_AXES):
            for label in labels:
                own = [row for row in points if row["label"] == label]
                if own:
                    axes.plot([float(row[key]) for row in own], [float(row["psnr"]) for row in own],
                              marker="o", markersize=4, color=colours[label], label=label)
            for bicubic in sorted({round(float(row["bicubic_psnr"]), 2) for row in points}):
                axes.axhline(bicubic, color="0.45", linestyle="--", linewidth=1.2,
                             label=f"bicubic {bicubic:.2f} dB")
            axes.set_title(benchmark)
            axes.set_xlabel(x_title)
            axes.set_xlim(left=0)
            axes.grid(True, color="0.9")
            if key == "step":
                axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))  # 52,000
        row_panels[0].set_ylabel("PSNR on Y (dB)")
        last = {row["label"]: row for row in points}  # each run's latest point on this benchmark
        handles = row_panels[0].get_lines()
        row_panels[0].legend(handles, [legend_text(line.get_label(), last) for line in handles], loc="best",
                             fontsize="small")
    return figure


def save_plot(figure, path: str) -> None:
    """Writes the figure as a PNG at its own size and resolution, atomically: it is rewritten after every
    evaluation, and whoever looks at it meanwhile, or after an interrupted run, finds a whole picture."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    files.write_bytes_atomic(path, buffer.getvalue())


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
        self.save()

    def save(self) -> None:
        """Rewrites the CSV, and the plot once there is a point to draw."""
        files.write_text_atomic(self.csv_path, csv_text(self.rows))
        if self.rows:
            save_plot(plot(self.rows, self.cpu), self.png_path)

    def summary(self) -> List[str]:
        """The last point of each benchmark, in the form other tools read."""
        last = {row["benchmark"]: row for row in self.rows}
        return [f"quality {self.label} {name}: {r['psnr']:.2f} dB after {r['minutes']:.1f} min "
                f"({r['step']} steps), bicubic {r['bicubic_psnr']:.2f} dB" for name, r in last.items()]


def check_inputs():
    """Settles the benchmark's records and model dir, and refuses bad inputs before anything is written.

    Returns the benchmarks, the training configs and whether the model dir's checkpoints are to be deleted.
    """
    try:
        require_matplotlib()  # now, rather than after the first evaluation
    except ImportError as error:
        fail(str(error))
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
