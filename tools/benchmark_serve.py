"""Speed and memory of the exported paper generator (SRResNet, 16 blocks, 64 filters, x4) on this machine.

    python tools/benchmark_serve.py [--quick] [--tile_size=256] [--sizes=512,2048]

Exports the generator (random weights: speed does not depend on them) twice, tiled and as one window
per image ("untiled"), then runs each input size in its own process through `predict_pixels`, so each
case's peak resident memory is its own (os.wait4's rusage). Prints milliseconds per input megapixel and
peak RSS, with the load average, since other jobs may share the machine. Also prints how far tiled
output is from untiled output for a range of overlaps, the measurement behind the default overlap.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.generator import build_generator, receptive_radius
from srgan_tf.serving.saved_model import export_saved_model
from srgan_tf.serving.signatures import PIXELS, PREDICT_PIXELS
from srgan_tf.serving.tiling import DEFAULT_TILE_SIZE, TilingConfig, upscale_in_tiles

MEMORY_BUDGET_BYTES = 20 * 2 ** 30


def load_average() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def untiled_peak_estimate(config: GeneratorConfig, size: int) -> int:
    """Bytes of the two largest float32 tensors of an untiled pass (the last upsampler's conv in and out)."""
    output_pixels = (size * config.scale) ** 2
    return output_pixels * (config.num_filters + 4 * config.num_filters) * 4


def available_memory() -> int:
    with open("/proc/meminfo") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["MemAvailable"].split()[0]) * 1024


def measure_case(saved_model_dir: str, size: int) -> dict:
    """Runs one size in a fresh process; returns its timing and its own peak RSS."""
    command = [sys.executable, os.path.abspath(__file__), f"--case_model={saved_model_dir}",
               f"--case_size={size}"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        return {"error": f"exit code {child.returncode}"}
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports kilobytes
    return result


def run_case(saved_model_dir: str, size: int) -> None:
    """In the child: load, warm up on a small image, then time one `size` x `size` image."""
    import resource

    predict = tf.saved_model.load(saved_model_dir).signatures[PREDICT_PIXELS]
    predict(**{PIXELS: tf.zeros([1, 32, 32, 3], tf.uint8)})
    loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    pixels = tf.constant(np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8))
    start = time.perf_counter()
    predict(**{PIXELS: pixels})
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "loaded_rss_bytes": loaded_rss}))


def overlap_errors(generator, config: GeneratorConfig, tile_size: int, overlaps) -> list:
    """Max |tiled - untiled| in 1/255 units, on 2 x 2-tile images whose tiles share `overlap` pixels."""
    def upscale_window(window):
        return generator(tf.cast(window, tf.float32)[None] / 255.0, training=False)[0]

    rows = []
    for overlap in overlaps:
        side = 2 * tile_size - overlap
        y, x = np.mgrid[0:side, 0:side] / side
        pixels = (255 * np.stack([0.5 + 0.4 * np.sin(7 * x + 3 * y), x, 1 - y], axis=-1)).astype(np.uint8)
        reference = upscale_window(tf.constant(pixels)).numpy()
        tiled = upscale_in_tiles(upscale_window, tf.constant(pixels), config.scale,
                                 TilingConfig(tile_size, overlap), tf.float32).numpy()
        rows.append((overlap, 255 * np.abs(tiled - reference).max()))
    return rows


def benchmark_sizes(generator, config: GeneratorConfig, sizes, tile_size: int) -> None:
    """Prints one row per input size and mode, each measured in its own process."""
    with tempfile.TemporaryDirectory() as work_dir:
        exports = {
            "tiled": export_saved_model(generator, config, work_dir, 1, tile_size=tile_size),
            "untiled": export_saved_model(generator, config, work_dir, 2, tile_size=max(sizes),
                                          tile_overlap=0),
        }
        print(f"{'input':>11} {'mode':>8} {'seconds':>8} {'ms/MP in':>9} {'peak RSS':>9} {'after load':>10}"
              "  load")
        for size in sizes:
            for mode, saved_model_dir in exports.items():
                label = f"{size:>5}x{size:<5} {mode:>8}"
                estimate = untiled_peak_estimate(config, size)
                if mode == "untiled" and estimate > min(MEMORY_BUDGET_BYTES, available_memory()):
                    print(f"{label} skipped: its two largest tensors alone need {estimate / 2 ** 30:.1f} GiB "
                          f"(budget {MEMORY_BUDGET_BYTES / 2 ** 30:.0f} GiB, "
                          f"available {available_memory() / 2 ** 30:.1f} GiB)")
                    continue
                result = measure_case(saved_model_dir, size)
                if "error" in result:
                    print(f"{label} failed: {result['error']}")
                    continue
                ms_per_megapixel = 1000 * result["seconds"] / (size * size / 1e6)
                peak, loaded = result["peak_rss_bytes"] / 2 ** 30, result["loaded_rss_bytes"] / 2 ** 30
                print(f"{label} {result['seconds']:8.1f} {ms_per_megapixel:9.0f} {peak:8.2f}G {loaded:9.2f}G"
                      f"  {os.getloadavg()[0]:.2f}")


def main(argv):
    del argv
    f = flags.FLAGS
    if f.case_model:
        return run_case(f.case_model, f.case_size)
    config = GeneratorConfig()
    sizes = [256] if f.quick else [int(size) for size in f.sizes]
    tile_size = 160 if f.quick else f.tile_size
    print(f"Paper generator (x{config.scale}, {config.num_residual_blocks} blocks, {config.num_filters} "
          f"filters), random weights; tile size {tile_size}, overlap {2 * receptive_radius(config)} (exact); "
          f"{os.cpu_count()} CPUs; {load_average()}")
    keras.utils.set_random_seed(0)  # the same random weights, so the error table is reproducible
    generator = build_generator(config)
    benchmark_sizes(generator, config, sizes, tile_size)
    overlaps = [0, 32, 80] if f.quick else [0, 16, 32, 48, 64, 80]
    error_tile = 96
    print(f"Tiled vs untiled, max |difference| in 1/255 units ({error_tile}-pixel tiles, random weights):")
    for overlap, error in overlap_errors(generator, config, error_tile, overlaps):
        print(f"  overlap {overlap:>3}: {error:.4f}")
    print(load_average())
    return 0


def _define_flags() -> None:
    flags.DEFINE_bool("quick", False, "One 256x256 input, 160-pixel tiles, three overlaps (a few minutes).")
    flags.DEFINE_list("sizes", ["512", "2048"], "Square input sizes to time.")
    flags.DEFINE_integer("tile_size", DEFAULT_TILE_SIZE, "Tile size of the tiled export.", lower_bound=1)
    flags.DEFINE_string("case_model", None, "Internal: run one case on this SavedModel and print JSON.")
    flags.DEFINE_integer("case_size", 0, "Internal: the case's input size.")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
