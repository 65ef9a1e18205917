"""Speed and memory of the exported paper generator (SRResNet, 16 blocks, 64 filters, x4) on this machine.

    python tools/benchmark_serve.py [--quick] [--sizes=512,2048] [--tile_sizes=192,320,384]
    python tools/benchmark_serve.py --sizes= --error_model=demo_output/srgan   # only the overlap errors
    python tools/benchmark_serve.py --overlaps=                                # only the timings
    python tools/benchmark_serve.py --format=all --sizes= --overlaps=          # only the runtimes
    python tools/benchmark_serve.py --concurrency=8 --seconds=60               # only the load benchmark

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

`--concurrency=N` runs only the load benchmark: N threads call the `serving_default` and `predict_pixels`
signatures of one export of a small generator (random weights) for `--seconds`, cycling through a mix of
requests (every `--load_sizes` size as RGB pixels, and as RGB PNG, JPEG, grey PNG, RGBA PNG and 16-bit PNG
bytes). Every output must be the one the same request gave sequentially, before the threads started; no
request may fail; and the peak resident memory must stay within the bound the tile plan gives: the peak up to
the warm-up plus N times one request's (a tile's activations and the largest image's buffers). It prints
requests/s, p50 and p99 latency and peak RSS, and exits with 1 if an output differed, a request failed or
the bound was passed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

from srgan_tf.common.commands import quiet_tensorflow

quiet_tensorflow()  # before TensorFlow is imported: no start-up or SavedModel-writing lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from srgan_tf.common.console import describe_error  # noqa: E402
from srgan_tf.common.image_files import find_images, pil_to_rgb_array  # noqa: E402
from srgan_tf.common.imaging import to_float, to_uint8  # noqa: E402
from srgan_tf.config import GeneratorConfig  # noqa: E402
from srgan_tf.deploy.export import export_portable  # noqa: E402
from srgan_tf.deploy.parity import parity  # noqa: E402
from srgan_tf.evaluation.image_pairs import find_benchmarks, load_pair  # noqa: E402
from srgan_tf.evaluation.scoring import EvalConfig, measure  # noqa: E402
from srgan_tf.evaluation.upscalers import load_upscaler  # noqa: E402
from srgan_tf.modeling.checkpointing import load_generator  # noqa: E402
from srgan_tf.modeling.generator import build_generator, receptive_radius  # noqa: E402
from srgan_tf.serving.saved_model import export_saved_model  # noqa: E402
from srgan_tf.serving.signatures import IMAGE_BYTES, PIXELS, PREDICT_PIXELS, SERVE_ENCODED  # noqa: E402
from srgan_tf.serving.tiling import (DEFAULT_TILE_SIZE, TilingConfig, tiling_for,  # noqa: E402
                                     upscale_in_tiles)
from srgan_tf.training.acceleration import cpu_description  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SET5 = os.path.join(ROOT, "..", "shared", "data", "Set5")
KERAS_EAGER = "keras"

MEMORY_BUDGET_BYTES = 20 * 2 ** 30
SAVED_MODEL = "saved_model"
# --format names: (format, quantization) of srgan_tf.export.
PORTABLE_EXPORTS = {"onnx": ("onnx", "none"), "litert": ("litert", "none"), "litert_float16": ("litert", "float16"),
                    "litert_dynamic_int8": ("litert", "dynamic_int8")}

# The load benchmark's generator: small, so that a run with 1500x1000 requests is practical on two cores.
LOAD_GENERATOR = GeneratorConfig(num_residual_blocks=1, num_filters=8, scale=4)
# What one request holds per output pixel besides its tile, at most: a float32 RGB copy for the luma of a
# grey image or the bicubic alpha (12 bytes), 16-bit RGB output assembled from the tiles' pieces, rows and
# their concatenation (3 x 6), and its channels into and out of the PNG encoder (2 x 8). Measured past the
# warmed-up RSS, tile included, on 1500x1000 images: 39 bytes for a 16-bit RGBA PNG, 12 for RGB pixels.
BYTES_PER_OUTPUT_PIXEL = 48
# And whatever its size: the call's executor, its thread and oneDNN's scratchpads (measured: about 3 MB).
BYTES_PER_CALL = 16 * 2 ** 20


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


@dataclasses.dataclass(frozen=True)
class LoadRequest:
    """One request of the load mix: the signature it calls and that signature's inputs."""

    size: str  # WIDTHxHEIGHT
    kind: str  # what it sends, e.g. "RGBA PNG"
    signature: str
    inputs: dict

    @property
    def label(self) -> str:
        return f"{self.size} {self.kind}"


def textured_image(height: int, width: int, seed: int) -> np.ndarray:
    """uint16 RGBA `[height, width, 4]`: smooth blocks plus noise, which PNG and JPEG compress as photos."""
    rng = np.random.default_rng(seed)
    blocks = np.repeat(np.repeat(rng.integers(0, 65536, (height // 8 + 1, width // 8 + 1, 4)), 8, 0), 8, 1)
    noisy = blocks[:height, :width] + rng.normal(0, 1024, (height, width, 4))
    return np.clip(noisy, 0, 65535).astype(np.uint16)


def load_mix(sizes) -> list:
    """At each (width, height) of `sizes`: RGB pixels for `predict_pixels`; RGB PNG, JPEG, grey PNG, RGBA PNG
    and 16-bit RGB PNG for `serving_default`."""
    mix = []
    for seed, (width, height) in enumerate(sizes):
        rgba16 = textured_image(height, width, seed)
        rgba = (rgba16 >> 8).astype(np.uint8)
        rgb = rgba[..., :3]
        encodings = {"PNG": tf.io.encode_png(rgb), "JPEG": tf.io.encode_jpeg(rgb, quality=90),
                     "grey PNG": tf.io.encode_png(rgba[..., :1]), "RGBA PNG": tf.io.encode_png(rgba),
                     "16-bit PNG": tf.io.encode_png(rgba16[..., :3])}
        size = f"{width}x{height}"
        mix.append(LoadRequest(size, "RGB pixels", PREDICT_PIXELS, {PIXELS: tf.constant(rgb[None])}))
        mix += [LoadRequest(size, kind, SERVE_ENCODED, {IMAGE_BYTES: tf.reshape(encoded, [1])})
                for kind, encoded in encodings.items()]
    return mix


def output_digest(outputs: dict) -> str:
    """A hash of all of a signature's outputs: references cost no memory, whatever the image size."""
    digest = hashlib.sha256()
    for key in sorted(outputs):
        value = outputs[key].numpy()
        digest.update(b"".join(value.ravel()) if value.dtype == object else value.tobytes())
    return digest.hexdigest()


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports kilobytes


@dataclasses.dataclass
class LoadResult:
    seconds: float
    latencies: list
    mismatches: list  # labels of the requests whose output differed from the sequential one
    errors: list  # "label: error" of the requests that failed


def run_load(signatures, mix, references, concurrency: int, seconds: float, max_requests: int) -> LoadResult:
    """`concurrency` threads send the requests of `mix` in turn until `seconds` have passed (or `max_requests`
    were sent, if not 0), each output compared with its request's entry in `references`."""
    result = LoadResult(0.0, [], [], [])
    indices = itertools.count()  # next() on it is atomic: each request index goes to one thread
    deadline = time.monotonic() + seconds

    def client():
        while time.monotonic() < deadline:
            index = next(indices)
            if max_requests and index >= max_requests:
                return
            request = mix[index % len(mix)]
            start = time.perf_counter()
            try:
                digest = output_digest(signatures[request.signature](**request.inputs))
            except Exception as error:  # any failure is counted, and named in the report
                result.errors.append(f"{request.label}: {type(error).__name__}: {describe_error(error)}")
                continue
            result.latencies.append(time.perf_counter() - start)
            if digest != references[index % len(mix)]:
                result.mismatches.append(request.label)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - start
    return result


def parse_sizes(values) -> list:
    """`--load_sizes` as (width, height) pairs."""
    sizes = []
    for value in values:
        try:
            width, height = (int(side) for side in value.lower().split("x"))
        except ValueError:
            raise app.UsageError(f"--load_sizes: {value!r} is not WIDTHxHEIGHT, e.g. 1500x1000") from None
        if width < 1 or height < 1:
            raise app.UsageError(f"--load_sizes: {value!r} must have a positive width and height")
        sizes.append((width, height))
    if not sizes:
        raise app.UsageError("--load_sizes: give at least one WIDTHxHEIGHT")
    return sorted(sizes, key=lambda size: size[0] * size[1])


def benchmark_load(concurrency: int, seconds: float, max_requests: int, sizes, tile_size: int) -> int:
    """The load benchmark (see the module's doc); returns the exit code."""
    config = LOAD_GENERATOR
    tiling = tiling_for(config, tile_size)
    largest = max(width * height for width, height in sizes)
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as work_dir:
        version_dir = export_saved_model(build_generator(config), config, work_dir, 1, tile_size=tile_size,
                                         max_pixels=largest)
        loaded = tf.saved_model.load(version_dir)  # its variables live as long as it does
    signatures = loaded.signatures
    mix = load_mix(sizes)
    kinds = mix[:len(mix) // len(sizes)]
    print(f"{cpu_description()}; {load_average()}")
    print(f"{concurrency} threads for {seconds:g} s{f' or {max_requests} requests' if max_requests else ''}; "
          f"x{config.scale} SRResNet ({config.num_residual_blocks} block, {config.num_filters} filters, "
          f"random weights), {tiling.tile_size}-pixel tiles overlapping by {tiling.tile_overlap}; "
          f"{len(mix)} requests in turn: "
          f"{', '.join(f'{request.kind} ({request.signature})' for request in kinds)} at "
          f"{', '.join(request.size for request in mix[::len(kinds)])}")
    for request in kinds:  # warm-up: each kind of request once, at the smallest size
        signatures[request.signature](**request.inputs)
    warm_rss = peak_rss()  # exporting and loading may have used more than the warmed-up model holds
    start = time.perf_counter()
    references = [output_digest(signatures[request.signature](**request.inputs)) for request in mix]
    print(f"sequential references: {len(mix)} requests in {time.perf_counter() - start:.1f} s")
    tile_bytes = untiled_peak_estimate(config, tiling.tile_size)
    image_bytes = largest * config.scale ** 2 * BYTES_PER_OUTPUT_PIXEL
    bound = warm_rss + concurrency * (tile_bytes + image_bytes + BYTES_PER_CALL)
    print(f"memory bound: {warm_rss / 1e9:.2f} GB (the peak up to the warm-up) + {concurrency} x ("
          f"{tile_bytes / 1e9:.3f} GB of a tile's activations + {image_bytes / 1e9:.3f} GB for the "
          f"{largest * config.scale ** 2 / 1e6:.1f} M output pixels of the largest image at "
          f"{BYTES_PER_OUTPUT_PIXEL} bytes + {BYTES_PER_CALL / 1e9:.3f} GB for the call) = "
          f"{bound / 1e9:.2f} GB")
    result = run_load(signatures, mix, references, concurrency, seconds, max_requests)
    peak = peak_rss()
    for error in result.errors[:5]:
        print(f"error: {error}")
    for label in sorted(set(result.mismatches)):
        print(f"mismatch: {label} differed from its sequential output "
              f"{result.mismatches.count(label)} time(s)")
    within = peak <= bound
    print(f"peak RSS {peak / 1e9:.2f} GB, {'within' if within else 'OVER'} the bound of "
          f"{bound / 1e9:.2f} GB; {load_average()}")
    requests = len(result.latencies) + len(result.errors)
    p50, p99 = np.percentile(result.latencies, [50, 99]) * 1000 if result.latencies else (np.nan, np.nan)
    print(f"concurrency {concurrency}: {requests} requests, {requests / result.seconds:.2f}/s, "
          f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, peak RSS {peak / 1e9:.2f} GB, "
          f"mismatches {len(result.mismatches)}, errors {len(result.errors)}")
    return 0 if within and not result.mismatches and not result.errors else 1


def main(argv):
    del argv
    f = flags.FLAGS
    if f.case_model:
        return run_case(f.case_model, f.case_size)
    if f.concurrency is not None:
        if f.seconds <= 0:
            raise app.UsageError(f"--seconds={f.seconds} must be positive.")
        return benchmark_load(f.concurrency, f.seconds, f.requests, parse_sizes(f.load_sizes),
                              f.load_tile_size)
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
    flags.DEFINE_integer("concurrency", None, "Run only the load benchmark, with this many threads sending "
                         "requests at once.", lower_bound=1)
    flags.DEFINE_float("seconds", 60, "With --concurrency: how long the threads send requests.")
    flags.DEFINE_integer("requests", 0, "With --concurrency: stop after this many requests (0: after "
                         "--seconds).", lower_bound=0)
    flags.DEFINE_list("load_sizes", ["16x16", "64x48", "240x160", "640x480", "1500x1000"],
                      "With --concurrency: the sizes of the requests, WIDTHxHEIGHT.")
    flags.DEFINE_integer("load_tile_size", DEFAULT_TILE_SIZE, "With --concurrency: the export's tile size.",
                         lower_bound=1)
    flags.DEFINE_string("case_model", None, "Internal: run one case on this SavedModel (or 'keras') and print "
                        "JSON.")
    flags.DEFINE_integer("case_size", 0, "Internal: the case's input size.")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
