"""Speed and memory of the exported paper generator (SRResNet, 16 blocks, 64 filters, x4) on this machine.

    python tools/benchmark_serve.py [--quick] [--sizes=512,2048] [--tile_sizes=192,320,384]
    python tools/benchmark_serve.py --sizes= --error_model=demo_output/srgan   # only the overlap errors
    python tools/benchmark_serve.py --overlaps=                                # only the timings
    python tools/benchmark_serve.py --format=all --sizes= --overlaps=          # only the runtimes

Exports the generator (random weights: speed does not depend on them) with the default tiling and as one
window per image ("untiled"), then runs each input size in its own process through `predict_pixels`, and
the Keras generator called eagerly on the same input, so each case's peak resident memory is its own
(os.wait4's rusage). Prints seconds, milliseconds per input megapixel and peak RSS, with the load average,
and the ratios the targets read: `tiled / untiled time = Z` and `SavedModel / Keras eager time = W` per size.
`--tile_sizes` adds tiled exports of other tile sizes (the measurement behind the default tile size).

Then it prints how far tiled output is from untiled output, in uint8 grey levels, for a range of overlaps:
on the Set5 images, with the random paper generator and with a trained one (`--error_model`), the
measurement behind the default overlap.

`--format` compares exports that run without TensorFlow with the SavedModel (see `srgan_tf.deploy`): for each,
milliseconds per LR megapixel through its runtime (tiled as the SavedModel tiles), its largest difference
and PSNR against the SavedModel's output on a random image and on Set5's LR images, and its Set5 PSNR (Y,
x4) with the drop against the float SavedModel. With `--error_model`, that trained model is compared (Set5
PSNR of random weights says little), else the random paper generator.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from srgan_tf.common.commands import quiet_tensorflow

quiet_tensorflow()  # before TensorFlow is imported: no start-up or SavedModel-writing lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from srgan_tf.common.image_files import find_images, pil_to_rgb_array  # noqa: E402
from srgan_tf.common.imaging import to_float, to_uint8  # noqa: E402
from srgan_tf.config import GeneratorConfig  # noqa: E402
from srgan_tf.deploy.export import export_portable  # noqa: E402
from srgan_tf.deploy.parity import parity  # noqa: E402
from srgan_tf.evaluation.image_pairs import find_benchmarks, load_pair  # noqa: E402
from srgan_tf.evaluation.scoring import EvalConfig, measure  # noqa: E402
from srgan_tf.evaluation.upscalers import load_upscaler  # noqa: E402
from srgan_tf.modeling.generator import build_generator, receptive_radius  # noqa: E402
from srgan_tf.serving.saved_model import export_saved_model  # noqa: E402
from srgan_tf.serving.signatures import PIXELS, PREDICT_PIXELS  # noqa: E402
from srgan_tf.serving.tiling import (DEFAULT_TILE_SIZE, TilingConfig, tiling_for,  # noqa: E402
                                     upscale_in_tiles)
from srgan_tf.training.acceleration import cpu_description  # noqa: E402
from srgan_tf.training.checkpointing import load_generator  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SET5 = os.path.join(ROOT, "..", "shared", "data", "Set5")
KERAS_EAGER = "keras"

MEMORY_BUDGET_BYTES = 20 * 2 ** 30
SAVED_MODEL = "saved_model"
# --format names: (format, quantization) of srgan_tf.export.
PORTABLE_EXPORTS = {"onnx": ("onnx", "none"), "litert": ("litert", "none"), "litert_float16": ("litert", "float16"),
                    "litert_dynamic_int8": ("litert", "dynamic_int8")}


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


def measure_case(model: str, size: int) -> dict:
    """Runs one size in a fresh process; returns its timing and its own peak RSS."""
    command = [sys.executable, os.path.abspath(__file__), f"--case_model={model}", f"--case_size={size}"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        return {"error": f"exit code {child.returncode}"}
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports kilobytes
    return result


def run_case(model: str, size: int) -> None:
    """In the child: load (or build), warm up on a small image, then time one `size` x `size` image."""
    import resource

    if model == KERAS_EAGER:
        keras.utils.set_random_seed(0)
        generator = build_generator(GeneratorConfig())

        def predict(pixels):
            return to_uint8(generator(to_float(pixels), training=False))
    else:
        signature = tf.saved_model.load(model).signatures[PREDICT_PIXELS]

        def predict(pixels):
            return signature(**{PIXELS: pixels})[PIXELS]
    predict(tf.zeros([1, 32, 32, 3], tf.uint8))
    loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    pixels = tf.constant(np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8))
    start = time.perf_counter()
    predict(pixels).numpy()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "loaded_rss_bytes": loaded_rss}))


def benchmark_sizes(generator, config: GeneratorConfig, sizes, tile_sizes) -> None:
    """Prints one row per input size and mode, each measured in its own process, then the ratios."""
    with tempfile.TemporaryDirectory() as work_dir:
        default = tiling_for(config)
        models = {"tiled": export_saved_model(generator, config, work_dir, 1)}
        for i, tile_size in enumerate(tile_sizes, start=3):
            models[f"tiled {tile_size}"] = export_saved_model(generator, config, work_dir, i, tile_size=tile_size)
        models["untiled"] = export_saved_model(generator, config, work_dir, 2, tile_size=max(sizes),
                                               tile_overlap=0)
        models[KERAS_EAGER] = KERAS_EAGER
        print(f"default tiling: {default.tile_size}-pixel tiles, overlap {default.tile_overlap}")
        print(f"{'input':>11} {'mode':>10} {'seconds':>8} {'ms/MP in':>9} {'peak RSS':>9} {'after load':>10}"
              "  load")
        ratios = []
        for size in sizes:
            seconds = {}
            for mode, model in models.items():
                label = f"{size:>5}x{size:<5} {mode:>10}"
                estimate = untiled_peak_estimate(config, size)
                if mode in ("untiled", KERAS_EAGER) and estimate > min(MEMORY_BUDGET_BYTES, available_memory()):
                    print(f"{label} skipped: its two largest tensors alone need {estimate / 2 ** 30:.1f} GiB "
                          f"(budget {MEMORY_BUDGET_BYTES / 2 ** 30:.0f} GiB, "
                          f"available {available_memory() / 2 ** 30:.1f} GiB)")
                    continue
                result = measure_case(model, size)
                if "error" in result:
                    print(f"{label} failed: {result['error']}")
                    continue
                seconds[mode] = result["seconds"]
                ms_per_megapixel = 1000 * result["seconds"] / (size * size / 1e6)
                peak, loaded = result["peak_rss_bytes"] / 2 ** 30, result["loaded_rss_bytes"] / 2 ** 30
                print(f"{label} {result['seconds']:8.1f} {ms_per_megapixel:9.0f} {peak:8.2f}G {loaded:9.2f}G"
                      f"  {os.getloadavg()[0]:.2f}")
            if "untiled" in seconds:
                ratios += [f"{size}x{size}: {mode} / untiled time = {seconds[mode] / seconds['untiled']:.2f}"
                           for mode in seconds if mode.startswith("tiled ")]
                if "tiled" in seconds:
                    ratios.append(f"{size}x{size}: tiled / untiled time = {seconds['tiled'] / seconds['untiled']:.2f}"
                                  " (target <= 1.15 at 512x512)")
                if KERAS_EAGER in seconds:
                    ratios.append(f"{size}x{size}: SavedModel / Keras eager time = "
                                  f"{seconds['untiled'] / seconds[KERAS_EAGER]:.2f} (target <= 1.1)")
        print("\n".join(ratios))


def set5_images(side: int) -> list:
    """Set5's images as uint8 arrays cropped to at most `side` x `side` (where the folder exists)."""
    from PIL import Image

    if not os.path.isdir(SET5):
        return []
    images = []
    for path in find_images([SET5]):
        with Image.open(path) as image:
            images.append(pil_to_rgb_array(image)[:side, :side])
    return images


def overlap_errors(generator, scale: int, images, tile_size: int, overlaps) -> list:
    """Per overlap, the largest |tiled - untiled| in uint8 grey levels over `images`, each upscaled whole and
    in `tile_size` tiles, both rounded to uint8 as the SavedModel returns them."""
    def upscale_window(window):
        return tf.cast(to_uint8(generator(to_float(window)[None], training=False)[0]), tf.int32)

    rows = []
    references = [upscale_window(tf.constant(image)).numpy() for image in images]
    for overlap in overlaps:
        worst = 0
        for image, reference in zip(images, references):
            tiled = upscale_in_tiles(upscale_window, tf.constant(image), scale, TilingConfig(tile_size, overlap),
                                     tf.int32).numpy()
            worst = max(worst, int(np.abs(tiled - reference).max()))
        rows.append((overlap, worst))
    return rows


def print_overlap_errors(name: str, generator, scale: int, images, tile_size: int, overlaps) -> None:
    print(f"Tiled vs untiled, {name}: max |difference| in uint8 grey levels ({tile_size}-pixel tiles, "
          f"{len(images)} Set5 images):")
    for overlap, error in overlap_errors(generator, scale, images, tile_size, overlaps):
        print(f"  overlap {overlap:>3}: {error}")


def best_seconds(upscaler, image, repeats: int = 2) -> float:
    upscaler(image[:32, :32])  # warm-up: graph tracing, interpreter allocation
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        upscaler(image)
        timings.append(time.perf_counter() - start)
    return min(timings)


def benchmark_formats(generator, config: GeneratorConfig, name: str, formats, size: int) -> None:
    """One row per runtime: speed, parity with the SavedModel, Set5 PSNR and its drop."""
    benchmarks = find_benchmarks([SET5], [], config.scale) if os.path.isdir(SET5) else []
    eval_config = EvalConfig(scale=config.scale)
    pairs = [load_pair(pair, config.scale, 1) for pair in benchmarks[0].pairs] if benchmarks else []
    real_images = [lr for lr, _ in pairs]
    random_image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as work_dir:
        upscalers = {SAVED_MODEL: load_upscaler(export_saved_model(generator, config, work_dir, 1))}
        for export in formats:
            model_format, quantize = PORTABLE_EXPORTS[export]
            path, _ = export_portable(generator, config, work_dir, 1, model_format, quantize=quantize)
            upscalers[export] = load_upscaler(path)
        print(f"Runtimes, {name}: {size}x{size} random input (tiled), parity with the SavedModel on it and on "
              f"{len(real_images)} Set5 LR images, Set5 PSNR (Y, x{config.scale}):")
        print(f"{'export':>20} {'ms/MP in':>9} {'max diff':>8} {'PSNR vs SavedModel':>19} {'Set5 PSNR':>9} "
              f"{'drop':>6}")
        references = [upscalers[SAVED_MODEL](image) for image in [random_image] + real_images]
        set5_psnr = {}
        for export, upscaler in upscalers.items():
            seconds = best_seconds(upscaler, random_image)
            checks = [parity(reference, upscaler(image))
                      for reference, image in zip(references, [random_image] + real_images)]
            worst = max(check.max_difference for check in checks)
            lowest = min(check.psnr for check in checks)
            if pairs:
                set5_psnr[export] = np.mean([measure(hr, upscaler(lr), eval_config)[0] for lr, hr in pairs])
            drop = set5_psnr.get(SAVED_MODEL, np.nan) - set5_psnr.get(export, np.nan)
            print(f"{export:>20} {1000 * seconds / (size * size / 1e6):9.0f} {worst:8d} {lowest:16.1f} dB "
                  f"{set5_psnr.get(export, np.nan):9.2f} {drop:6.2f}  ({load_average()})")


def main(argv):
    del argv
    f = flags.FLAGS
    if f.case_model:
        return run_case(f.case_model, f.case_size)
    config = GeneratorConfig()
    sizes = [256] if f.quick else [int(size) for size in f.sizes]
    print(f"{cpu_description()}; {load_average()}")
    print(f"Paper generator (x{config.scale}, {config.num_residual_blocks} blocks, {config.num_filters} "
          f"filters, receptive radius {receptive_radius(config)}), random weights, float32")
    keras.utils.set_random_seed(0)  # the same random weights, so the error table is reproducible
    generator = build_generator(config)
    if sizes:
        benchmark_sizes(generator, config, sizes, [int(size) for size in f.tile_sizes])
    portable = [name for name in (list(PORTABLE_EXPORTS) if f.format == ["all"] else f.format) if name != SAVED_MODEL]
    if portable:
        unknown = sorted(set(portable) - set(PORTABLE_EXPORTS))
        if unknown:
            raise app.UsageError(f"--format: unknown {unknown}; choose from {[SAVED_MODEL, *PORTABLE_EXPORTS]} or all")
        compared, compared_config, name = generator, config, "random paper generator"
        if f.error_model:
            compared, compared_config, step = load_generator(f.error_model)
            name = f"{f.error_model} (step {step})"
        benchmark_formats(compared, compared_config, name, portable, 128 if f.quick else 512)
    overlaps = [0, 16, 32, 80] if f.quick else [int(overlap) for overlap in f.overlaps]
    error_tile = 96
    images = set5_images(2 * error_tile) if overlaps else []
    if images:
        print_overlap_errors("random paper generator", generator, config.scale, images, error_tile, overlaps)
        if f.error_model:
            trained, trained_config, step = load_generator(f.error_model)
            print_overlap_errors(f"{f.error_model} (step {step})", trained, trained_config.scale, images,
                                 error_tile, overlaps)
    elif overlaps:
        print(f"no Set5 folder at {SET5}: overlap errors not measured")
    print(load_average())
    return 0


def _define_flags() -> None:
    flags.DEFINE_bool("quick", False, "One 256x256 input, four overlaps (a few minutes).")
    flags.DEFINE_list("sizes", ["512", "2048"], "Square input sizes to time; empty: only the overlap errors.")
    flags.DEFINE_list("tile_sizes", [], "Tile sizes of extra tiled exports to time, besides the default "
                      f"({DEFAULT_TILE_SIZE}).")
    flags.DEFINE_list("overlaps", ["0", "8", "16", "24", "32", "48", "64", "80"],
                      "Tile overlaps whose errors are measured; empty: none.")
    flags.DEFINE_string("error_model", "", "A trained model dir whose tiling errors are measured too, and whose "
                        "exports --format compares.")
    flags.DEFINE_list("format", [], f"Exports whose runtimes are compared with the SavedModel: "
                      f"{', '.join(PORTABLE_EXPORTS)}, or all.")
    flags.DEFINE_string("case_model", None, "Internal: run one case on this SavedModel (or 'keras') and print "
                        "JSON.")
    flags.DEFINE_integer("case_size", 0, "Internal: the case's input size.")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
