"""Damaged image files: `tools/fuzz_serving.py` on a few hundred seeded cases, and what it found: the
decompression bombs srgan-upscale decoded, the PNGs srgan-make-records wrote that training cannot decode."""
import io
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from srgan_tf import upscale
from srgan_tf.common.image_files import png_chunks
from srgan_tf.data import schema
from srgan_tf.data.writer import write_records

FUZZ = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fuzz_serving.py")


@pytest.mark.slow
def test_damaged_files_crash_nothing_and_every_refusal_is_clear():
    """300 seeded cases: serving refuses with INVALID_ARGUMENT, the commands with a message naming the file,
    and nothing crashes, times out, takes too much memory or fails otherwise."""
    run = subprocess.run([sys.executable, FUZZ, "--cases=300", "--seed=0"], capture_output=True, text=True,
                         timeout=900)
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, run.stdout + run.stderr
    summary = re.fullmatch(r"fuzz: 300 cases: (\d+) upscaled, (\d+) refused, 0 crashed, 0 other errors",
                           lines[-1])
    assert summary, lines[-1]
    assert int(summary[1]) > 0 and int(summary[2]) > 0  # some damage is harmless, most is refused
    for target in ("serving_default", "srgan-upscale", "srgan-make-records"):
        fed = re.search(rf"^{target}: (\d+) cases: .* 0 crashed, 0 other errors$", run.stdout, re.MULTILINE)
        assert fed and int(fed[1]) > 0, (target, run.stdout)


def png_bomb(side: int) -> bytes:
    """A black 1-bit PNG of side x side pixels, a few kilobytes on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(bytes(1 + (side + 7) // 8) * side, 9)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose start of frame declares `width` x `height`."""
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="JPEG")
    jpeg = bytearray(buffer.getvalue())
    frame = jpeg.index(b"\xff\xc0")
    jpeg[frame + 5:frame + 9] = struct.pack(">HH", height, width)
    return bytes(jpeg)


@pytest.mark.parametrize("name, data, message", [
    # TensorFlow's PNG decoder has no limit: it decoded 100 million pixels.
    ("bomb.png", png_bomb(10_000), "Image size (100000000 pixels) exceeds limit of 89478485 pixels"),
    # Pillow's limit raised an error the command did not catch: a traceback, naming no file.
    ("huge.jpg", jpeg_declaring(65535, 65535),
     "Image size (4294836225 pixels) exceeds limit of 178956970 pixels"),
])
def test_srgan_upscale_refuses_a_decompression_bomb_by_name_before_decoding(tmp_path, monkeypatch, name, data,
                                                                            message):
    def decode(path):
        raise AssertionError(f"{path} was decoded")

    monkeypatch.setattr(upscale, "load_image", decode)
    path = str(tmp_path / name)
    with open(path, "wb") as f:
        f.write(data)
    failures = upscale.upscale_files(None, {path: str(tmp_path / "out.png")})  # no model: none gets that far
    assert len(failures) == 1, failures
    assert failures[0].startswith(f"{path}: refused before decoding: {message}"), failures


def test_srgan_make_records_skips_a_png_that_pillow_reads_and_training_cannot_decode(tmp_path, make_image):
    """libpng, TensorFlow's PNG decoder, refuses a second IHDR chunk and unknown critical chunks; Pillow reads
    past them, so such a PNG's bytes were kept as they were, and training stopped at its record."""
    valid = io.BytesIO()
    Image.fromarray(make_image(24, 32)).save(valid, format="PNG")
    valid = valid.getvalue()
    (ihdr_start, ihdr_end), *_ = png_chunks(valid)
    ihdr = valid[ihdr_start:ihdr_end]
    unknown = struct.pack(">I", 2) + b"ABCD" + b"xx" + struct.pack(">I", zlib.crc32(b"ABCDxx"))
    folder = tmp_path / "images"
    folder.mkdir()
    for name, data in {"valid.png": valid, "two_headers.png": valid[:ihdr_end] + ihdr + valid[ihdr_end:],
                       "unknown_chunk.png": valid[:ihdr_end] + unknown + valid[ihdr_end:]}.items():
        (folder / name).write_bytes(data)
    manifest = write_records("folder", str(folder), str(tmp_path / "records"), num_shards=1)["train"]
    assert {os.path.basename(skip["path"]): skip["reason"] for skip in manifest["skipped"]} == {
        "two_headers.png": "a PNG TensorFlow cannot decode: its IHDR chunk is not the first and only one",
        "unknown_chunk.png": "a PNG TensorFlow cannot decode: an unknown critical chunk b'ABCD'"}
    records = tf.data.TFRecordDataset(str(tmp_path / "records" / manifest["shards"][0]))
    decoded = [tf.io.decode_png(tf.io.parse_single_example(record, schema.FEATURES)["image/encoded"])
               for record in records]
    assert [image.shape for image in decoded] == [(24, 32, 3)]
