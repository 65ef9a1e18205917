"""Does training in bfloat16 reach the PSNR of float32? Trains one recipe, seed and number of steps in each
precision and compares the Set5 PSNR of the results.

    python tools/benchmark_precision.py                                   # demo recipe, 3000 pretrain steps
    python tools/benchmark_precision.py --recipe=configs/cpu.flags --train_steps=2000 --seeds=1,2

Each run is the training command itself (`python -m srgan_tf.train`) in its own process, on the sample
photographs' records (made once in `<output_dir>/records`), with `--precision=<each>` and `--seed=<each>`,
so the runs differ only in precision. Each result is then evaluated on Set5 (Y channel, border removed, as
papers do, in float32 whatever it was trained in). Prints training seconds, PSNR and SSIM per run and the
line the target reads: `mixed_bfloat16 - float32 = D dB` (mean over seeds; target |D| <= 0.05), with the
spread between seeds for scale.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

from absl import app, flags, logging

from srgan_tf.common.commands import quiet_tensorflow

quiet_tensorflow()  # before TensorFlow is imported: no start-up lines

from srgan_tf.evaluation import scoring, upscalers  # noqa: E402
from srgan_tf.evaluation.image_pairs import find_benchmarks  # noqa: E402
from srgan_tf.training.acceleration import cpu_description  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SET5 = os.path.join(ROOT, "..", "shared", "data", "Set5")

flags.DEFINE_string("recipe", os.path.join(ROOT, "configs", "demo.flags"), "Training flagfile to compare in.")
flags.DEFINE_string("phase", "pretrain", "Training phase (pretrain trains from scratch).")
flags.DEFINE_integer("train_steps", 3000, "Steps of every run.", lower_bound=1)
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Precisions to compare; the first is the "
                  "reference.")
flags.DEFINE_list("seeds", ["42"], "Seeds; every precision trains once per seed.")
flags.DEFINE_string("hr_dir", SET5, "HR images to evaluate on.")
flags.DEFINE_string("output_dir", "benchmark_output/precision", "Where the records and the runs go.")
flags.DEFINE_bool("overwrite", False, "Replace runs left in --output_dir by an earlier benchmark.")
FLAGS = flags.FLAGS


def run(command) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"benchmark_precision: {' '.join(command[:3])} failed:\n{result.stderr[-2000:]}")


def sample_records(output_dir: str) -> str:
    records_dir = os.path.join(output_dir, "records")
    if not os.path.isdir(records_dir):
        print(f"writing the sample photographs' records to {records_dir}", flush=True)
        run([sys.executable, "-m", "srgan_tf.make_records", "--source=samples", f"--output_dir={records_dir}",
             "--num_shards=4", "--min_size=64"])
    return os.path.join(records_dir, "train-*")


def train(records: str, model_dir: str, precision: str, seed: str) -> float:
    """Trains one run from scratch; returns its wall-clock seconds."""
    if os.path.exists(model_dir):
        if not FLAGS.overwrite:
            sys.exit(f"benchmark_precision: {model_dir} exists; pass --overwrite to train it again.")
        shutil.rmtree(model_dir)
    start = time.perf_counter()
    run([sys.executable, "-m", "srgan_tf.train", f"--flagfile={FLAGS.recipe}", f"--phase={FLAGS.phase}",
         f"--train_records={records}", "--val_records=", "--export_dir=", "--init_checkpoint=",
         f"--model_dir={model_dir}", f"--train_steps={FLAGS.train_steps}", f"--precision={precision}",
         f"--seed={seed}"])
    return time.perf_counter() - start


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    (benchmark,) = find_benchmarks([FLAGS.hr_dir], [], scale=4)
    print(f"{cpu_description()}; load average {os.getloadavg()[0]:.2f}")
    print(f"{FLAGS.recipe}, {FLAGS.phase} phase, {FLAGS.train_steps} steps, seeds {','.join(FLAGS.seeds)}; "
          f"PSNR/SSIM on {benchmark.name} ({len(benchmark.pairs)} images)", flush=True)
    records = sample_records(FLAGS.output_dir)
    psnr = {}
    print(f"{'precision':<16} {'seed':>5} {'seconds':>8} {'PSNR':>7} {'SSIM':>7}")
    for seed in FLAGS.seeds:
        for precision in FLAGS.precisions:
            model_dir = os.path.join(FLAGS.output_dir, f"{precision}-seed{seed}")
            seconds = train(records, model_dir, precision, seed)
            mean = scoring.evaluate_benchmark(upscalers.from_checkpoint(model_dir), benchmark,
                                              scoring.EvalConfig(scale=4)).mean()
            psnr[precision, seed] = mean["psnr"]
            print(f"{precision:<16} {seed:>5} {seconds:>8.0f} {mean['psnr']:>7.3f} {mean['ssim']:>7.4f}",
                  flush=True)
    reference = FLAGS.precisions[0]
    if len(FLAGS.seeds) > 1:
        spread = [psnr[reference, seed] for seed in FLAGS.seeds]
        print(f"{reference} between seeds: {max(spread) - min(spread):.3f} dB")
    for precision in FLAGS.precisions[1:]:
        difference = statistics.mean(psnr[precision, seed] - psnr[reference, seed] for seed in FLAGS.seeds)
        print(f"{precision} - {reference} = {difference:+.3f} dB (target |D| <= 0.05)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    app.run(main)
