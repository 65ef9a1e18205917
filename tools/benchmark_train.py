"""Training-step throughput on this machine: HR patches/s and GFLOP/s of the pretrain and GAN steps.

Measures, for each phase, the library's defaults (`--precision=auto --jit_compile=auto`, labelled `defaults`) on
each replica count, and every combination of precision, XLA and replica count asked for, each in a fresh
process (logical devices can only be set up once per process), on in-memory batches so that the step is
measured, not the input pipeline. In the same run it measures the yardsticks:
- a plain matmul, float32 and bfloat16, 2048x2048 (the `of matmul` column: of the matmul in the case's
  compute dtype; float32's for float16);
- in each case's process, precision and XLA setting, a conv yardstick: one 3x3 64->64 convolution on the
  generator's LR feature map `[batch, hr/scale, hr/scale, 64]`, forward only: what this machine's kernels reach
  on the shape most of the generator's FLOPs have;
- the tutorial's `train_on_batch` loop (same networks, batch and patch size, float32 as the tutorial).

The targets are read off the lines `GAN step (defaults) / tutorial loop = X` and
`pretrain step (defaults) / conv yardstick = Y`, and `2 replicas / 1 replica` per phase.

    python tools/benchmark_train.py                       # defaults and float32 with/without XLA, ~15 minutes
    python tools/benchmark_train.py --phases=gan --precisions=mixed_bfloat16 --jit=off --replicas=1
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

from absl import app, flags

from srgan_tf.common.commands import quiet_tensorflow

quiet_tensorflow()  # before TensorFlow is imported: no start-up lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TUTORIAL = os.path.join(ROOT, "..", "shared", "baselines", "tutorial_loop.py")

flags.DEFINE_list("phases", ["pretrain", "gan"], "Training phases to measure.")
flags.DEFINE_list("precisions", ["float32"], "Precision policies to measure besides the defaults; empty: none.")
flags.DEFINE_list("jit", ["on", "off"], "XLA settings of those cases: on, off.")
flags.DEFINE_list("replicas", ["1", "2"], "Replica counts (logical CPU devices) of the defaults.")
flags.DEFINE_list("case_replicas", ["1"], "Replica counts of the explicit cases.")
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


def median_seconds(function, repeats: int) -> float:
    """Median wall time of `function()` after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(dtype: str, n: int = 2048, repeats: int = 10) -> float:
    """What this machine's TensorFlow reaches on a plain matmul."""
    import tensorflow as tf

    a = tf.cast(tf.random.uniform([n, n]), dtype)
    b = tf.cast(tf.random.uniform([n, n]), dtype)
    matmul = tf.function(lambda: tf.reduce_sum(tf.cast(tf.linalg.matmul(a, b), tf.float32)))
    return 2 * n ** 3 / median_seconds(lambda: matmul().numpy(), repeats) / 1e9


def conv_yardstick_gflops(batch: int, side: int, dtype, jit_compile: bool, chain: int = 10,
                          repeats: int = 5) -> float:
    """GFLOP/s of a 3x3 64->64 convolution, forward only, on `[batch, side, side, 64]` in `dtype`.

    `chain` convolutions run one after another in one call, so the call's overhead does not count.
    """
    import tensorflow as tf

    x = tf.cast(tf.random.normal([batch, side, side, 64]), dtype)
    kernel = tf.cast(tf.random.normal([3, 3, 64, 64], stddev=(1 / 576) ** 0.5), dtype)

    @tf.function(jit_compile=jit_compile)
    def convolutions(x):
        for _ in range(chain):
            x = tf.nn.conv2d(x, kernel, 1, "SAME")
        return tf.reduce_sum(tf.cast(x, tf.float32))

    seconds = median_seconds(lambda: convolutions(x).numpy(), repeats) / chain
    return 2 * 9 * 64 * 64 * batch * side * side / seconds / 1e9


# ---------------------------------------------------------------------------------------------- one case

def measure_case(case: dict) -> dict:
    """Builds a trainer for one case and times `steps`-step calls of its training loop, then the conv
    yardstick in the same precision and XLA setting."""
    from srgan_tf.training import distribute
    distribute.split_cpu(case["replicas"])
    import keras
    import tensorflow as tf

    from srgan_tf.config import (BookkeepingConfig, DataConfig, GeneratorConfig, LossConfig, RuntimeConfig,
                                 TrainingConfig)
    from srgan_tf.training.trainer import Trainer

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = (tf.distribute.MirroredStrategy(devices) if case["replicas"] > 1
                else tf.distribute.OneDeviceStrategy(devices[0]))
    batch, hr, scale = case["batch_size"], case["hr_patch_size"], 4
    config = TrainingConfig(
        phase=case["phase"], data=DataConfig(train_records="(synthetic)", hr_patch_size=hr, batch_size=batch),
        generator=GeneratorConfig(scale=scale), loss=LossConfig(vgg_weights="none"),
        runtime=RuntimeConfig(jit_compile=case["jit"], precision=case["precision"], seed=0),
        bookkeeping=BookkeepingConfig(model_dir=tempfile.mkdtemp(prefix="benchmark_train_")))
    trainer = Trainer(strategy, config)
    chosen = trainer.acceleration

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
    step_s = median_seconds(lambda: trainer.train_loop(iterator, steps)["g_loss"].numpy(),
                            case["repeats"]) / case["steps"]
    gflop = step_gflop(trainer, batch, hr, scale)
    compute_dtype = tf.as_dtype(keras.config.dtype_policy().compute_dtype)
    yardstick = conv_yardstick_gflops(batch, hr // scale, compute_dtype, chosen.jit_compile)
    return {**case, "chosen_precision": chosen.precision, "chosen_jit": chosen.jit_compile,
            "matmul_dtype": "bfloat16" if compute_dtype == tf.bfloat16 else "float32", "step_s": step_s,
            "patches_per_s": batch / step_s, "gflop_per_step": gflop, "gflops": gflop / step_s,
            "yardstick_gflops": yardstick, "first_call_s": first_call}


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

def _setting(r: dict) -> str:
    if r["precision"] == "auto":
        chosen = f" ({r['chosen_precision']}, xla {'on' if r['chosen_jit'] else 'off'})" if "step_s" in r else ""
        return "defaults" + chosen
    return f"{r['precision']}, xla {r['jit']}"


def _label(r: dict) -> str:
    return f"{r['phase']:<8} {_setting(r):<34} replicas={r['replicas']}"


def report(results, matmul: dict, tutorial) -> None:
    print("\nmatmul 2048x2048: " + ", ".join(f"{dtype} {gflops:.1f} GFLOP/s" for dtype, gflops in matmul.items()))
    if tutorial is not None:
        print(f"tutorial train_on_batch loop (GAN step, float32): {tutorial:.3f} samples/s")
    print(f"\n{'case':<54} {'patches/s':>9} {'step s':>7} {'GFLOP/s':>8} {'of matmul':>9} "
          f"{'conv yardstick':>14} {'1st call s':>10}")
    for r in results:
        if "error" in r:
            print(f"{_label(r):<54} failed: {r['error']}")
            continue
        print(f"{_label(r):<54} {r['patches_per_s']:>9.2f} {r['step_s']:>7.3f} {r['gflops']:>8.1f} "
              f"{r['gflops'] / matmul[r['matmul_dtype']]:>9.2f} {r['yardstick_gflops']:>14.1f} "
              f"{r['first_call_s']:>10.1f}")
    defaults = {(r["phase"], r["replicas"]): r for r in results if r["precision"] == "auto" and "error" not in r}
    print()
    gan, pretrain = defaults.get(("gan", 1)), defaults.get(("pretrain", 1))
    if gan and tutorial:
        print(f"GAN step (defaults) / tutorial loop = {gan['patches_per_s'] / tutorial:.2f} "
              f"(target >= 2.0 with native bfloat16, >= 1.3 without)")
    if pretrain:
        print(f"pretrain step (defaults) / conv yardstick = {pretrain['gflops'] / pretrain['yardstick_gflops']:.2f} "
              f"(target >= 0.8)")
    for (phase, replicas), r in sorted(defaults.items()):
        single = defaults.get((phase, 1))
        if replicas > 1 and single:
            print(f"{phase} (defaults): {replicas} replicas / 1 replica = "
                  f"{r['patches_per_s'] / single['patches_per_s']:.2f} (target >= 0.95)")


def main(argv):
    del argv
    if FLAGS.worker:
        print(json.dumps(measure_case(json.loads(FLAGS.worker))))
        return
    from srgan_tf.training.acceleration import cpu_description
    print(f"{cpu_description()}; batch {FLAGS.batch_size}, HR {FLAGS.hr_patch_size}x{FLAGS.hr_patch_size}, x4; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    matmul = {dtype: matmul_gflops(dtype) for dtype in ("float32", "bfloat16")}
    common = dict(batch_size=FLAGS.batch_size, hr_patch_size=FLAGS.hr_patch_size, steps=FLAGS.steps,
                  repeats=FLAGS.repeats)
    cases = []
    for phase in FLAGS.phases:
        cases += [dict(phase=phase, precision="auto", jit="auto", replicas=int(r), **common) for r in FLAGS.replicas]
        cases += [dict(phase=phase, precision=precision, jit=jit, replicas=int(replicas), **common)
                  for precision, jit, replicas in itertools.product(FLAGS.precisions, FLAGS.jit,
                                                                    FLAGS.case_replicas)]
    results = []
    for i, case in enumerate(cases, start=1):
        print(f"[{i}/{len(cases)}] {_label(case)} ...", flush=True)
        results.append(run_case(case))
    tutorial = run_tutorial_loop(FLAGS.tutorial_loop, FLAGS.batch_size, FLAGS.hr_patch_size)
    report(results, matmul, tutorial)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    app.run(main)
