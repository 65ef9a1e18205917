"""Feeds damaged image files to what reads untrusted images: the SavedModel's `serving_default` signature, and
the srgan-upscale and srgan-make-records commands.

    python tools/fuzz_serving.py --cases=5000 --seed=0

Each case is a valid PNG (8- and 16-bit, grey, RGBA, palette), JPEG (baseline, progressive, grey), BMP or GIF
(still, animated) file, damaged one way: bits flipped, cut short, a chunk (a PNG chunk, a JPEG segment, a
GIF block, a span of a BMP) dropped or repeated up to a thousand times, the width and height its headers
declare set to huge values, or replaced by a decompression bomb (a PNG of 100 million or 1.6 billion pixels,
13 KB or 200 KB on disk); a few are left intact. Most cases go to `serving_default` of a tiny generator
(random weights) exported with a pixel limit of 256 x 256, the rest to the two commands, in batches.

Each case ends in one of:
  upscaled  taken: upscaled (or, by srgan-make-records, written as a record that TensorFlow decodes);
  refused   a clear refusal: INVALID_ARGUMENT from serving, a message naming the file from the commands;
  crashed   the process died (a segfault, an abort);
  other     anything else: another error, a refusal naming no file, a record TensorFlow cannot decode,
            more than --case_seconds, or more memory than a case may take.
Serving cases run in a worker process, one at a time; when one kills the worker, that case is counted as
crashed and a new worker runs the rest. A command that dies, runs out of time or fails otherwise on a batch
is run again on each half of the batch, down to the file that did it, which is the one counted. Exits with 1
if any case crashed or ended in another error; the last line is
    fuzz: N cases: <a> upscaled, <r> refused, <c> crashed, <o> other errors
"""
from __future__ import annotations

import collections
import dataclasses
import io
import json
import os
import queue
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from typing import Callable, Dict, List, Optional

import numpy as np
from absl import app, flags
from PIL import Image

from srgan_tf.common.image_files import PNG_SIGNATURE, png_chunks

UPSCALED, REFUSED, CRASHED, OTHER = "upscaled", "refused", "crashed", "other"
SERVING, UPSCALE, MAKE_RECORDS = "serving_default", "srgan-upscale", "srgan-make-records"
TARGET_SHARES = {SERVING: 0.8, UPSCALE: 0.1, MAKE_RECORDS: 0.1}

# The tiny model the cases are fed to: at x2, 256 x 256 input pixels at most, upscaled in 32-pixel tiles.
MAX_PIXELS, TILE_SIZE = 256 * 256, 32
SEED_SIZE = (30, 40)  # height, width of the valid files: two tiles wide
# Memory a serving case may take past the warmed-up worker's: an image within the pixel limit needs about
# 20 MB to decode and upscale; a decoded bomb would need gigabytes.
CASE_MEMORY_BYTES = 256 * 2 ** 20
# A command importing TensorFlow and loading the model peaks at about 0.8 GB on valid files; the larger bomb
# alone is 1.6 GB decoded.
COMMAND_MEMORY_BYTES = 2 * 2 ** 30
START_UP_SECONDS = 300  # importing TensorFlow and loading the model, on a busy machine


@dataclasses.dataclass
class Case:
    target: str
    description: str  # the valid file and what was done to it
    path: str
    outcome: str = ""
    detail: str = ""  # the refusal or error message


# Valid files.

def smooth_rgba16(height: int, width: int, seed: int) -> np.ndarray:
    """uint16 RGBA `[height, width, 4]`: gradients and noise, compressed as photographs are."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    waves = [np.sin(rng.uniform(2, 9) * x + rng.uniform(2, 9) * y + rng.uniform(0, 6)) for _ in range(4)]
    image = 0.5 + 0.4 * np.stack(waves, axis=-1) + rng.normal(0, 0.03, (height, width, 4))
    return np.clip(image * 65535, 0, 65535).astype(np.uint16)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_file(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def png16(pixels: np.ndarray) -> bytes:
    """uint16 grey `[H, W, 1]` or RGB `[H, W, 3]` as a 16-bit PNG (which Pillow does not write)."""
    height, width, channels = pixels.shape
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in pixels)
    return png_file(width, height, 16, {1: 0, 3: 2}[channels], zlib.compress(rows))


def png_bomb(side: int) -> bytes:
    """A black 1-bit PNG of `side` x `side` pixels: side² bytes decoded, about side² / 8000 on disk."""
    row = bytes(1 + (side + 7) // 8)  # filter byte, then the row's bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return png_file(side, side, 1, 0, idat)


def pillow_file(frames: List[Image.Image], image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, format=image_format, save_all=len(frames) > 1, append_images=frames[1:], **options)
    return buffer.getvalue()


def valid_files(seed: int) -> Dict[str, bytes]:
    """The files cases are made from, by name; each name starts with the format."""
    rgba16 = smooth_rgba16(*SEED_SIZE, seed)
    rgba = Image.fromarray((rgba16 >> 8).astype(np.uint8))
    rgb, grey = rgba.convert("RGB"), rgba.convert("L")
    frames = [Image.fromarray(np.roll(np.asarray(rgb), 5 * shift, axis=1)) for shift in range(3)]
    return {
        "PNG RGB": pillow_file([rgb], "PNG"),
        "PNG grey": pillow_file([grey], "PNG"),
        "PNG RGBA": pillow_file([rgba], "PNG"),
        "PNG palette": pillow_file([rgb.quantize(64)], "PNG"),
        "PNG 16-bit RGB": png16(rgba16[..., :3]),
        "PNG 16-bit grey": png16(rgba16[..., :1]),
        "JPEG": pillow_file([rgb], "JPEG", quality=90),
        "JPEG progressive": pillow_file([rgb], "JPEG", quality=80, progressive=True),
        "JPEG grey": pillow_file([grey], "JPEG"),
        "BMP": pillow_file([rgb], "BMP"),
        "BMP RGBA": pillow_file([rgba], "BMP"),
        "GIF": pillow_file([rgb], "GIF"),
        "GIF animated": pillow_file(frames, "GIF", optimize=False),
    }


EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif"}

# Where each format's parts are: (start, end) byte spans that a mutation may drop or repeat.


def jpeg_segments(data: bytes) -> List[tuple]:
    """Marker segments after SOI; a start of scan runs on through its entropy-coded data."""
    spans, position = [], 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xD9:  # end of image
            spans.append((position, position + 2))
            break
        end = position + 2 + int.from_bytes(data[position + 2:position + 4], "big")
        if marker == 0xDA:  # the scan's data ends at the next marker that is not a restart or a stuffed 0xFF
            end = next((i for i in range(end, len(data) - 1)
                        if data[i] == 0xFF and data[i + 1] not in (0, *range(0xD0, 0xD8))), len(data))
        spans.append((position, min(end, len(data))))
        position = end
    return spans


def gif_blocks(data: bytes) -> List[tuple]:
    """Extensions and frames (descriptor, colour table and data) of a valid GIF, up to its trailer."""
    def colour_table(flags: int) -> int:
        return 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0

    def after_sub_blocks(position: int) -> int:
        while data[position]:
            position += 1 + data[position]
        return position + 1

    spans, position = [], 13 + colour_table(data[10])
    while data[position] in (0x21, 0x2C):  # an extension, a frame
        start = position + 2 if data[position] == 0x21 else position + 11 + colour_table(data[position + 9])
        spans.append((position, after_sub_blocks(start)))
        position = spans[-1][1]
    return spans


def parts(name: str, data: bytes) -> List[tuple]:
    """The (start, end) spans of a valid file that a mutation may drop or repeat."""
    image_format = name.split()[0]
    if image_format == "BMP":
        return [(54, len(data))]  # the pixels, after 54 bytes of headers
    return {"PNG": png_chunks, "JPEG": jpeg_segments, "GIF": gif_blocks}[image_format](data)


# Mutations: each takes the valid file's name and bytes and a random generator, and returns the damaged
# bytes and what was done.

HUGE = (65535, 100_000, 2 ** 31 - 1, 2 ** 32 - 1)


def flip_bits(name: str, data: bytes, rng) -> tuple:
    damaged = bytearray(data)
    in_headers = rng.random() < 0.5
    count = int(rng.integers(1, 9))
    for _ in range(count):
        position = int(rng.integers(0, min(64, len(data)) if in_headers else len(data)))
        damaged[position] ^= 1 << int(rng.integers(0, 8))
    return bytes(damaged), f"{count} bit(s) flipped{' in the first 64 bytes' if in_headers else ''}"


def truncate(name: str, data: bytes, rng) -> tuple:
    length = int(rng.integers(0, min(40, len(data)) if rng.random() < 0.3 else len(data)))
    return data[:length], f"cut to {length} of {len(data)} bytes"


def drop_or_repeat_part(name: str, data: bytes, rng) -> tuple:
    spans = parts(name, data)
    start, end = spans[int(rng.integers(0, len(spans)))]
    if end - start > 64 and name.startswith("BMP"):  # a span of a BMP's pixel rows
        start = int(rng.integers(start, end - 16))
        end = start + int(rng.integers(1, 65))
    if rng.random() < 0.4:
        return data[:start] + data[end:], f"bytes {start}-{end} (one part) dropped"
    copies = int(rng.integers(1, 1001)) if rng.random() < 0.3 else 1
    damaged = data[:end] + data[start:end] * copies + data[end:]
    return damaged, f"bytes {start}-{end} (one part) repeated {copies} x"


def huge_dimensions(name: str, data: bytes, rng) -> tuple:
    """Sets the width and height a header declares (PNG's with its checksum fixed or not)."""
    damaged = bytearray(data)
    width, height = (int(rng.choice(HUGE)) for _ in range(2))
    image_format = name.split()[0]
    if image_format == "PNG":
        damaged[16:24] = struct.pack(">II", width, height)
        if rng.random() < 0.5:
            damaged[29:33] = struct.pack(">I", zlib.crc32(bytes(damaged[12:29])))
    elif image_format == "JPEG":
        width, height = min(width, 65535), min(height, 65535)
        # The start of frame: baseline, extended or progressive.
        frame = next(start for start, _ in jpeg_segments(data) if data[start + 1] in (0xC0, 0xC1, 0xC2))
        damaged[frame + 5:frame + 9] = struct.pack(">HH", height, width)
    elif image_format == "BMP":  # as int32, 2 ** 32 - 1 is -1: a negative height means rows run top-down
        damaged[18:26] = struct.pack("<II", width, height)
    else:
        width, height = min(width, 65535), min(height, 65535)
        frames = [start for start, _ in gif_blocks(data) if data[start] == 0x2C]
        offset = int(rng.choice(frames)) + 5 if rng.random() < 0.7 else 6  # a frame's size, or the screen's
        damaged[offset:offset + 4] = struct.pack("<HH", width, height)
    return bytes(damaged), f"{width} x {height} declared"


BOMBS = {}  # side: the bomb's bytes, made once


def bomb(name: str, data: bytes, rng) -> tuple:
    side = int(rng.choice([10_000, 40_000]))
    if side not in BOMBS:
        BOMBS[side] = png_bomb(side)
    return BOMBS[side], f"replaced by a {side} x {side} PNG bomb of {len(BOMBS[side])} bytes"


def intact(name: str, data: bytes, rng) -> tuple:
    return data, "intact"


MUTATIONS = ((flip_bits, 0.3), (truncate, 0.2), (drop_or_repeat_part, 0.25), (huge_dimensions, 0.15),
             (bomb, 0.03), (intact, 0.07))


def make_cases(count: int, seed: int, cases_dir: str) -> List[Case]:
    """`count` damaged files written to `cases_dir`, each with its target."""
    rng = np.random.default_rng(seed)
    files = valid_files(seed)
    names = sorted(files)
    targets, shares = zip(*TARGET_SHARES.items())
    mutations, weights = zip(*MUTATIONS)
    cases = []
    for index in range(count):
        name = names[int(rng.integers(0, len(names)))]
        mutate = mutations[int(rng.choice(len(mutations), p=weights))]
        damaged, what = mutate(name, files[name], rng)
        extension = ".png" if mutate is bomb else EXTENSIONS[name.split()[0]]
        path = os.path.join(cases_dir, f"case-{index:05d}{extension}")
        with open(path, "wb") as f:
            f.write(damaged)
        cases.append(Case(targets[int(rng.choice(len(targets), p=shares))], f"{name}, {what}", path))
    return cases


# Running cases in child processes.

@dataclasses.dataclass
class Finished:
    """A command's end: its exit code (negative: the signal that killed it), output and peak RSS, and whether
    it was killed for taking too long."""

    code: int
    stdout: str
    stderr: str
    peak_rss: int
    timed_out: bool

    def failure(self) -> Optional[tuple]:
        """(outcome, detail) if the process died or ran out of time, else None."""
        if self.timed_out:
            return OTHER, "time-out"
        if self.code < 0:
            return CRASHED, f"killed by signal {-self.code}; {last_lines(self.stderr)}"
        return None


def last_lines(text: str, count: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-count:])


def run_command(command: List[str], timeout: float) -> Finished:
    """Runs `command` to its end, or kills it after `timeout` seconds; its own peak RSS from os.wait4."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        _, status, usage = os.wait4(child.pid, 0)
        timer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        return Finished(child.returncode, stdout.read().decode(errors="replace"),
                        stderr.read().decode(errors="replace"), usage.ru_maxrss * 1024,
                        timer.finished.is_set() and child.returncode == -9)


def this_tool(*args: str) -> List[str]:
    return [sys.executable, os.path.abspath(__file__), *args]


def forward_lines(stream, lines: queue.Queue) -> None:
    """Puts each line of `stream` on `lines`, then None at its end: read with a time-out."""
    for line in stream:
        lines.put(line)
    lines.put(None)


def run_serving(cases: List[Case], saved_model: str, case_seconds: float, log_dir: str) -> None:
    """Feeds each case to `serving_default` in a worker process; a new worker takes over after a crash, a
    time-out or a case that took more than `CASE_MEMORY_BYTES`."""
    pending = {case.path: case for case in cases}
    for attempt in range(len(cases) + 1):
        if not pending:
            return
        with open(os.path.join(log_dir, f"serving-worker-{attempt}.log"), "w+") as log:
            child = subprocess.Popen(this_tool(f"--serve_worker={saved_model}", *pending),
                                     stdout=subprocess.PIPE, stderr=log, text=True)
            lines = queue.Queue()
            threading.Thread(target=forward_lines, args=(child.stdout, lines), daemon=True).start()
            running, ready_rss = None, None
            while True:
                try:
                    line = lines.get(timeout=case_seconds if ready_rss else START_UP_SECONDS)
                except queue.Empty:
                    line = None
                    child.kill()
                    if running:
                        running.outcome, running.detail = OTHER, f"time-out: no answer in {case_seconds:g} s"
                        del pending[running.path]
                        running = None
                    elif ready_rss is None:
                        raise RuntimeError(f"the serving worker did not start in {START_UP_SECONDS} s")
                if line is None:
                    break
                message = json.loads(line) if line.startswith("{") else {}
                if "ready_rss" in message:
                    ready_rss = message["ready_rss"]
                elif "start" in message:
                    running = pending[message["start"]]
                elif "outcome" in message:
                    running.outcome, running.detail = message["outcome"], message["detail"]
                    del pending[running.path]
                    used = message["peak_rss"] - ready_rss
                    if used > CASE_MEMORY_BYTES:
                        running.outcome = OTHER
                        running.detail = f"took {used / 2 ** 20:.0f} MB (at most {CASE_MEMORY_BYTES >> 20})"
                        child.kill()  # a fresh worker measures the next cases
                    running = None
            code = child.wait()
            if ready_rss is None:
                log.seek(0)
                raise RuntimeError(f"the serving worker exited with {code} before it was ready: "
                                   f"{last_lines(log.read())}")
            if running:
                log.seek(0)
                running.outcome = CRASHED
                running.detail = f"the worker died (exit code {code}); {last_lines(log.read())}"
                del pending[running.path]
    raise RuntimeError("serving workers kept dying between cases")


def serve_worker(saved_model: str, paths: List[str]) -> None:
    """In the worker: answers each case with one line of JSON."""
    import tensorflow as tf

    from srgan_tf.common.console import describe_error
    from srgan_tf.serving.signatures import IMAGE_BYTES, SERVE_ENCODED

    loaded = tf.saved_model.load(saved_model)  # kept: its variables live as long as it does
    serve = loaded.signatures[SERVE_ENCODED]
    serve(**{IMAGE_BYTES: tf.constant([valid_files(0)["PNG RGB"]])})  # warm-up

    def peak_rss() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    print(json.dumps({"ready_rss": peak_rss()}), flush=True)
    for path in paths:
        print(json.dumps({"start": path}), flush=True)
        with open(path, "rb") as f:
            data = f.read()
        try:
            serve(**{IMAGE_BYTES: tf.constant([data])})
            outcome, detail = UPSCALED, ""
        except tf.errors.InvalidArgumentError as error:
            outcome, detail = REFUSED, describe_error(error)
        except Exception as error:  # any other failure is what the fuzzing looks for
            outcome, detail = OTHER, f"{type(error).__name__}: {describe_error(error)}"
        print(json.dumps({"outcome": outcome, "detail": detail, "peak_rss": peak_rss()}), flush=True)


def run_in_batches(cases: List[Case], batch_size: int,
                   run_batch: Callable[[List[Case]], Optional[tuple]]) -> None:
    """`run_batch` sets the outcome of each case of a batch, or returns (outcome, detail) when its command
    died, ran out of time or took too much memory. Then, or when a case ended in another error (a command
    stopped by one file leaves the others unanswered), each half of the batch runs again, down to the file
    that does it, which is the one counted."""
    for start in range(0, len(cases), batch_size):
        batch = cases[start:start + batch_size]
        failure = run_batch(batch)
        if len(batch) > 1 and (failure or any(case.outcome == OTHER for case in batch)):
            run_in_batches(batch, (len(batch) + 1) // 2, run_batch)
        elif failure:
            batch[0].outcome, batch[0].detail = failure


def command_failure(finished: Finished, command: str) -> Optional[tuple]:
    """(outcome, detail) for a batch whose command died, ran out of time or took too much memory."""
    failure = finished.failure()
    if failure:
        return failure
    if finished.peak_rss > COMMAND_MEMORY_BYTES:
        return OTHER, (f"{command} took {finished.peak_rss / 2 ** 30:.1f} GB "
                       f"(at most {COMMAND_MEMORY_BYTES >> 30})")
    return None


def upscale_batch(saved_model: str, work_dir: str, case_seconds: float) -> Callable:
    def run(batch: List[Case]) -> Optional[tuple]:
        output_dir = tempfile.mkdtemp(dir=work_dir, prefix="upscaled-")
        finished = run_command([sys.executable, "-m", "srgan_tf.upscale", f"--model={saved_model}",
                                f"--output_dir={output_dir}", *(case.path for case in batch)],
                               START_UP_SECONDS + case_seconds * len(batch))
        failure = command_failure(finished, UPSCALE)
        if failure:
            return failure
        for case in batch:
            output = os.path.join(output_dir, os.path.splitext(os.path.basename(case.path))[0] + "_sr.png")
            refusal = next((line for line in finished.stderr.splitlines()
                            if line.startswith(f"FAILED {case.path}: ")), None)
            if os.path.exists(output):
                case.outcome = UPSCALED
            elif refusal:
                case.outcome, case.detail = REFUSED, refusal[len(f"FAILED {case.path}: "):]
            else:
                case.outcome = OTHER
                case.detail = (f"no output and no message naming the file (exit code {finished.code}): "
                               f"{last_lines(finished.stderr)}")
        return None

    return run


def make_records_batch(work_dir: str, case_seconds: float) -> Callable:
    def run(batch: List[Case]) -> Optional[tuple]:
        input_dir = tempfile.mkdtemp(dir=work_dir, prefix="records-input-")
        output_dir = tempfile.mkdtemp(dir=work_dir, prefix="records-")
        for case in batch:
            os.link(case.path, os.path.join(input_dir, os.path.basename(case.path)))
        finished = run_command([sys.executable, "-m", "srgan_tf.make_records", "--source=folder",
                                f"--input_dir={input_dir}", f"--output_dir={output_dir}", "--min_size=0",
                                "--num_shards=1", "--num_workers=2"],
                               START_UP_SECONDS + case_seconds * len(batch))
        failure = command_failure(finished, MAKE_RECORDS)
        if failure:
            return failure
        skipped = dict(re.findall(r"Skipped (\S+): (.*)", finished.stderr))
        undecodable = {}
        if finished.code == 0:
            check = run_command(this_tool(f"--check_records={output_dir}"), START_UP_SECONDS + len(batch))
            if check.code != 0:
                raise RuntimeError(f"the records of {input_dir} could not be checked: "
                                   f"{last_lines(check.stderr)}")
            undecodable = json.loads(check.stdout.strip().splitlines()[-1])
        for case in batch:
            linked = os.path.join(input_dir, os.path.basename(case.path))
            if linked in skipped:
                case.outcome, case.detail = REFUSED, skipped[linked]
            elif finished.code != 0:
                case.outcome = OTHER
                case.detail = (f"neither written nor skipped (exit code {finished.code}): "
                               f"{last_lines(finished.stderr)}")
            elif os.path.basename(case.path) in undecodable:
                case.outcome = OTHER
                case.detail = f"a record TensorFlow cannot decode: {undecodable[os.path.basename(case.path)]}"
            else:
                case.outcome = UPSCALED
        return None

    return run


def check_records(records_dir: str) -> None:
    """In a child: prints, as JSON, each record's key whose image TensorFlow cannot decode, with the error."""
    import tensorflow as tf

    from srgan_tf.common.console import describe_error
    from srgan_tf.data import schema

    undecodable = {}
    for shard in tf.io.gfile.glob(os.path.join(records_dir, "*.tfrecord")):
        for record in tf.data.TFRecordDataset(shard):
            features = tf.io.parse_single_example(record, schema.FEATURES)
            try:
                tf.io.decode_image(features["image/encoded"], channels=3, expand_animations=False)
            except tf.errors.InvalidArgumentError as error:
                undecodable[features["image/key"].numpy().decode()] = describe_error(error)
    print(json.dumps(undecodable))


def export_model(export_dir: str) -> None:
    """In a child: exports the tiny generator the cases are fed to and prints its version directory."""
    import keras

    from srgan_tf.config import GeneratorConfig
    from srgan_tf.modeling.generator import build_generator
    from srgan_tf.serving.saved_model import export_saved_model

    config = GeneratorConfig(num_residual_blocks=1, num_filters=8, scale=2)
    keras.utils.set_random_seed(0)
    print(export_saved_model(build_generator(config), config, export_dir, 1, tile_size=TILE_SIZE,
                             max_pixels=MAX_PIXELS))


def tally(cases: List[Case]) -> str:
    counts = collections.Counter(case.outcome for case in cases)
    return (f"{len(cases)} cases: {counts[UPSCALED]} upscaled, {counts[REFUSED]} refused, "
            f"{counts[CRASHED]} crashed, {counts[OTHER]} other errors")


def report(cases: List[Case]) -> None:
    """Per target: the outcomes and the commonest refusals; then the cases that crashed or ended otherwise."""
    for target in TARGET_SHARES:
        mine = [case for case in cases if case.target == target]
        print(f"{target}: {tally(mine)}")
        # The last line: TensorFlow's messages start with where the op was defined.
        reasons = collections.Counter(re.sub(r"\d+", "N", case.detail.strip().splitlines()[-1])[:150]
                                      for case in mine if case.outcome == REFUSED)
        for reason, count in reasons.most_common(6):
            print(f"  {count:5d} refused: {reason}")
    failures = [case for case in cases if case.outcome in (CRASHED, OTHER)]
    for case in failures[:30]:
        print(f"{case.outcome.upper()} {case.target} {case.path} ({case.description}): {case.detail}")


def fuzz(count: int, seed: int, case_seconds: float, batch_size: int) -> int:
    work_dir = tempfile.mkdtemp(prefix="fuzz-serving-")
    cases_dir = os.path.join(work_dir, "cases")
    os.makedirs(cases_dir)
    cases = make_cases(count, seed, cases_dir)
    print(f"fuzzing with {count} cases (seed {seed}) in {work_dir}: damaged "
          f"{', '.join(sorted(valid_files(seed)))} files; a x2 generator exported with a {MAX_PIXELS}-pixel "
          "limit", flush=True)
    exported = run_command(this_tool(f"--export_to={os.path.join(work_dir, 'export')}"), START_UP_SECONDS)
    if exported.code != 0:
        raise RuntimeError(f"exporting the model failed: {last_lines(exported.stderr)}")
    saved_model = exported.stdout.strip().splitlines()[-1]
    by_target = collections.defaultdict(list)
    for case in cases:
        by_target[case.target].append(case)
    upscale = upscale_batch(saved_model, work_dir, case_seconds)
    make_records = make_records_batch(work_dir, case_seconds)
    lanes = [threading.Thread(target=run_in_batches, args=(by_target[target], batch_size, run_batch))
             for target, run_batch in ((UPSCALE, upscale), (MAKE_RECORDS, make_records))]
    lanes.append(threading.Thread(target=run_serving,
                                  args=(by_target[SERVING], saved_model, case_seconds, work_dir)))
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    unfinished = [case for case in cases if not case.outcome]
    for case in unfinished:
        case.outcome, case.detail = OTHER, "not run: its lane of the fuzzing stopped (see the error above)"
    report(cases)
    failed = any(case.outcome in (CRASHED, OTHER) for case in cases)
    if failed:
        print(f"the cases are kept in {cases_dir}")
    else:
        shutil.rmtree(work_dir)
    print(f"fuzz: {tally(cases)}")
    return 1 if failed else 0


def main(argv):
    f = flags.FLAGS
    if f.serve_worker:
        return serve_worker(f.serve_worker, argv[1:])
    if f.check_records:
        return check_records(f.check_records)
    if f.export_to:
        return export_model(f.export_to)
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    return fuzz(f.cases, f.seed, f.case_seconds, f.batch)


def _define_flags() -> None:
    flags.DEFINE_integer("cases", 1000, "How many damaged files to feed.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seeds the valid files and the damage: a seed gives the same cases.")
    flags.DEFINE_float("case_seconds", 60, "A case taking longer ends in a time-out (an other error).",
                       lower_bound=1)
    flags.DEFINE_integer("batch", 100, "Files per run of each command.", lower_bound=1)
    flags.DEFINE_string("serve_worker", None, "Internal: feed the files named as arguments to this "
                        "SavedModel.")
    flags.DEFINE_string("check_records", None, "Internal: decode every record in this folder.")
    flags.DEFINE_string("export_to", None, "Internal: export the tiny generator here.")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
