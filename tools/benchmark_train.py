"""Training-step throughput on this machine: HR patches/s and GFLOP/s of the pretrain and GAN steps.

Runs every combination of phase, precision, XLA and replica count asked for, each in a fresh process (logical
devices can only be set up once per process), on in-memory batches so that the step is measured, not the input
pipeline. Prints, next to them, the GFLOP/s of a plain float32 matmul measured in the same run and the samples/s
of the tutorial's `train_on_batch` loop (same networks, batch and patch size), with the ratios the targets use.

    python tools/benchmark_train.py                       # the full matrix, about half an hour on 2 cores
    python tools/benchmark_train.py --phases=pretrain --precisions=float32 --replicas=1 --jit=on
"""
from __future__ import annotations

import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TUTORIAL = os.path.join(ROOT, "..", "shared", "baselines", "tutorial_loop.py")

flags.DEFINE_list("phases", ["pretrain", "gan"], "Training phases to measure.")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Precision policies to measure.")
flags.DEFINE_list("jit", ["on", "off"], "XLA settings to measure: on, off.")
flags.DEFINE_list("replicas", ["1", "2"], "Replica counts (logical CPU devices) to measure.")
flags.DEFINE_integer("batch_size", 16, "Global batch size.")
flags.DEFINE_integer("hr_patch_size", 96, "HR patch side.")
flags.DEFINE_integer("steps", 3, "Timed steps per repeat (one tf.function call).")
flags.DEFINE_integer("repeats", 2, "Timed repeats; the median is reported.")
flags.DEFINE_string("tutorial_loop", DEFAULT_TUTORIAL, "The tutorial's loop to compare with; empty: skip it.")
flags.DEFINE_string("worker", "", "Internal: measure one JSON-encoded case in this process and print it.")
FLAGS = flags.FLAGS


# ------------------------------------------------------------------------------------------------ FLOPs

def forward_gflop(model, input_shape) -> float:
    """Forward-pass GFLOP of a Keras model for one input of `input_shape`, counted by TensorFlow's profiler."""
    import tensorflow as tf

    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(tf.TensorSpec(input_shape, tf.float32)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops / 1e9


def step_gflop(trainer, batch: int, hr: int, scale: int) -> float:
    """Model GFLOP of one training step over the global batch (convolutions and dense layers).

    Backward passes cost about twice the forward: the generator runs forward and backward (3x); in the GAN step
    VGG sees HR forward only and SR forward plus the gradient to its input (3x in all), the discriminator sees
    real forward plus weight gradients (2x) and fake forward plus weight and input gradients (3x).
    """
    lr = hr // scale
    g = forward_gflop(trainer.generator, [1, lr, lr, 3])
    total = 3 * g
    if trainer.config.phase == "gan":
        total += 5 * forward_gflop(trainer.task.discriminator, [1, hr, hr, 3])
        if trainer.task.vgg is not None:
            total += 3 * forward_gflop(trainer.task.vgg, [1, hr, hr, 3])
    return total * batch


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """What this machine's TensorFlow reaches on a plain float32 matmul: the yardstick for the steps."""
    import tensorflow as tf

    a = tf.random.uniform([n, n])
    b = tf.random.uniform([n, n])
    matmul = tf.function(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)))
    matmul().numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul().numpy()
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / statistics.median(times) / 1e9


# ---------------------------------------------------------------------------------------------- one case

def measure_case(case: dict) -> dict:
    """Builds a trainer for one case and times `steps`-step calls of its training loop."""
    from srgan_tf.training import distribute
    distribute.split_cpu(case["replicas"])
    import tensorflow as tf

    from srgan_tf.config import (BookkeepingConfig, DataConfig, GeneratorConfig, LossConfig, RuntimeConfig,
                                 TrainingConfig)
    from srgan_tf.training.trainer import Trainer

    precision = distribute.set_precision(case["precision"])
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = (tf.distribute.MirroredStrategy(devices) if case["replicas"] > 1
                else tf.distribute.OneDeviceStrategy(devices[0]))
    batch, hr, scale = case["batch_size"], case["hr_patch_size"], 4
    config = TrainingConfig(
        phase=case["phase"], data=DataConfig(train_records="(synthetic)", hr_patch_size=hr, batch_size=batch),
        generator=GeneratorConfig(scale=scale), loss=LossConfig(vgg_weights="none"),
        runtime=RuntimeConfig(jit_compile=case["jit"], precision=precision, seed=0),
        bookkeeping=BookkeepingConfig(model_dir=tempfile.mkdtemp(prefix="benchmark_train_")))
    trainer = Trainer(strategy, config, precision=precision)

    high = tf.random.stateless_uniform([batch, hr, hr, 3], seed=[0, 1])
    low = tf.image.resize(high, [hr // scale, hr // scale], "bicubic", antialias=True)

    def dataset_fn(context):
        per_replica = context.get_per_replica_batch_size(batch)
        return tf.data.Dataset.from_tensors((low[:per_replica], high[:per_replica])).repeat()

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    steps = tf.constant(case["steps"], tf.int64)
    start = time.perf_counter()
    trainer.train_loop(iterator, tf.constant(1, tf.int64))["g_loss"].numpy()  # traces and compiles
    first_call = time.perf_counter() - start
    times = []
    for _ in range(case["repeats"]):
        start = time.perf_counter()
        trainer.train_loop(iterator, steps)["g_loss"].numpy()
        times.append((time.perf_counter() - start) / case["steps"])
    step_s = statistics.median(times)
    gflop = step_gflop(trainer, batch, hr, scale)
    return {**case, "step_s": step_s, "patches_per_s": batch / step_s, "gflop_per_step": gflop,
            "gflops": gflop / step_s, "first_call_s": first_call}


def run_case(case: dict) -> dict:
    """Measures a case in a fresh process and returns its JSON result (or the error it died with)."""
    result = subprocess.run([sys.executable, os.path.abspath(__file__), f"--worker={json.dumps(case)}"],
                            capture_output=True, text=True)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {**case, "error": (result.stderr.strip().splitlines() or ["no output"])[-1]}


def run_tutorial_loop(path: str, batch: int, hr: int):
    if not path:
        return None
    if not os.path.isfile(path):
        print(f"tutorial loop not found at {path}; pass --tutorial_loop=PATH or --tutorial_loop=''")
        return None
    result = subprocess.run([sys.executable, path, "--batch", str(batch), "--hr", str(hr), "--steps", "4"],
                            capture_output=True, text=True)
    match = re.search(r"samples_per_s=([0-9.]+)", result.stdout)
    if not match:
        print(f"tutorial loop failed: {(result.stderr.strip().splitlines() or ['no output'])[-1]}")
        return None
    return float(match.group(1))


# ------------------------------------------------------------------------------------------------ report

def _label(r: dict) -> str:
    return f"{r['phase']:<8} {r['precision']:<14} xla={'on ' if r['jit'] else 'off'} replicas={r['replicas']}"


def report(results, matmul: float, tutorial) -> None:
    print(f"\nmatmul float32 2048x2048: {matmul:.1f} GFLOP/s")
    if tutorial is not None:
        print(f"tutorial train_on_batch loop (GAN step): {tutorial:.3f} samples/s")
    print(f"\n{'case':<48} {'patches/s':>9} {'step s':>8} {'GFLOP/s':>8} {'of matmul':>9} {'1st call s':>10}")
    for r in results:
        if "error" in r:
            print(f"{_label(r):<48} failed: {r['error']}")
            continue
        print(f"{_label(r):<48} {r['patches_per_s']:>9.2f} {r['step_s']:>8.3f} {r['gflops']:>8.1f} "
              f"{r['gflops'] / matmul:>9.2f} {r['first_call_s']:>10.1f}")
    ok = {(_label(r)): r for r in results if "error" not in r}
    print("\ntargets (float32):")
    for r in ok.values():
        if r["precision"] != "float32":
            continue
        if r["phase"] == "gan" and tutorial:
            print(f"  {_label(r)}: GAN step / tutorial loop = {r['patches_per_s'] / tutorial:.2f} (target >= 1.4)")
        if r["phase"] == "pretrain":
            print(f"  {_label(r)}: GFLOP/s / matmul = {r['gflops'] / matmul:.2f} (target >= 0.85)")
        if r["replicas"] == 2:
            single = ok.get(_label({**r, "replicas": 1}))
            if single:
                print(f"  {_label(r)}: 2 replicas / 1 replica = "
                      f"{r['patches_per_s'] / single['patches_per_s']:.2f} (target >= 0.95)")


def main(argv):
    del argv
    if FLAGS.worker:
        print(json.dumps(measure_case(json.loads(FLAGS.worker))))
        return
    import tensorflow as tf
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, batch {FLAGS.batch_size}, "
          f"HR {FLAGS.hr_patch_size}x{FLAGS.hr_patch_size}, x4, load average {os.getloadavg()[0]:.2f}")
    matmul = matmul_gflops()
    cases = [dict(phase=phase, precision=precision, jit=jit == "on", replicas=int(replicas),
                  batch_size=FLAGS.batch_size, hr_patch_size=FLAGS.hr_patch_size, steps=FLAGS.steps,
                  repeats=FLAGS.repeats)
             for phase, precision, jit, replicas in itertools.product(FLAGS.phases, FLAGS.precisions, FLAGS.jit,
                                                                      FLAGS.replicas)]
    results = []
    for i, case in enumerate(cases, start=1):
        print(f"[{i}/{len(cases)}] {_label(case)} ...", flush=True)
        results.append(run_case(case))
    tutorial = run_tutorial_loop(FLAGS.tutorial_loop, FLAGS.batch_size, FLAGS.hr_patch_size)
    report(results, matmul, tutorial)


if __name__ == "__main__":
    app.run(main)
