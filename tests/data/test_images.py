"""Each image file as a record: 8-bit bytes kept, the rest converted to PNG, bad files skipped (images.py)."""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

from srgan_tf.common import imaging
from srgan_tf.data import schema
from srgan_tf.data.writer import write_records
from tests.data.record_files import read_split, save


def png_rgb16(pixels: np.ndarray) -> bytes:
    """A 48-bit RGB PNG (Pillow can read but not write them)."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in pixels)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def decoded(features):
    return imaging.decode_rgb(features["image/encoded"]).numpy()


def test_round_trip_keeps_8bit_rgb_png_and_jpeg_bytes_and_converts_the_rest(tmp_path, make_image):
    src, out = str(tmp_path / "src"), str(tmp_path / "out")
    rgb = make_image(40, 48, seed=1)
    grey = rgb[..., 0]
    rgb16 = np.random.default_rng(0).integers(0, 65536, (33, 35, 3)).astype(np.uint16)
    grey16 = (np.arange(36 * 34, dtype=np.uint16) * 50).reshape(36, 34)
    palette_image = Image.fromarray(rgb).quantize(colors=16)
    expected = {
        "rgb.png": rgb,
        "photo.jpg": None,  # compared with TensorFlow's decode of the same, kept, bytes
        "nested/grey.png": np.repeat(grey[..., None], 3, axis=-1),
        "rgba.png": rgb,
        "grey16.png": np.repeat(np.round(grey16 / 65535 * 255).astype(np.uint8)[..., None], 3, axis=-1),
        "rgb16.png": (rgb16 >> 8).astype(np.uint8),
        "palette.png": np.asarray(palette_image.convert("RGB")),
        "picture.bmp": rgb,
        "picture.webp": rgb,
    }
    save(f"{src}/rgb.png", rgb)
    save(f"{src}/photo.jpg", rgb, quality=90)
    save(f"{src}/nested/grey.png", grey)
    save(f"{src}/rgba.png", np.dstack([rgb, np.full(grey.shape, 7, np.uint8)]))
    Image.fromarray(grey16).save(f"{src}/grey16.png")
    with open(f"{src}/rgb16.png", "wb") as f:
        f.write(png_rgb16(rgb16))
    palette_image.save(f"{src}/palette.png")
    save(f"{src}/picture.bmp", rgb)
    save(f"{src}/picture.webp", rgb, lossless=True)
    assert Image.open(f"{src}/grey16.png").mode.startswith("I")

    write_records("folder", src, out, num_shards=3, min_size=8)
    manifest, examples = read_split(out, "train")

    assert sorted(examples) == sorted(expected)
    for key, pixels in expected.items():
        features = examples[key]
        image = decoded(features)
        kept = key in ("rgb.png", "photo.jpg")
        with open(os.path.join(src, key), "rb") as f:
            assert (features["image/encoded"] == f.read()) == kept, key
        assert features["image/format"] == (b"jpeg" if key == "photo.jpg" else b"png"), key
        assert (features["image/height"], features["image/width"], features["image/channels"]) == \
            (*image.shape[:2], 3), key
        if pixels is not None:
            np.testing.assert_array_equal(image, pixels, err_msg=key)
    assert manifest["schema_version"] == schema.SCHEMA_VERSION
    assert manifest["num_examples"] == 9 and manifest["num_skipped"] == 0
    assert manifest["formats"] == {"png": 8, "jpeg": 1} and manifest["converted_to_png"] == 7
    sizes = [decoded(f).shape[:2] for f in examples.values()]
    assert manifest["total_pixels"] == sum(h * w for h, w in sizes)
    heights, widths = zip(*sizes)
    assert (manifest["min_height"], manifest["max_height"]) == (min(heights), max(heights))
    assert (manifest["min_width"], manifest["max_width"]) == (min(widths), max(widths))
    assert manifest["shards"] == [schema.shard_name("train", i, 3) for i in range(3)]


def test_bad_files_are_skipped_with_a_warning_each_and_listed_in_the_manifest(tmp_path, make_image, caplog):
    src, out = tmp_path / "src", str(tmp_path / "out")
    good = save(str(src / "good.png"), make_image(32, 32))
    png = io.BytesIO()
    Image.fromarray(make_image(64, 64, seed=2)).save(png, format="PNG")
    jpeg = io.BytesIO()
    Image.fromarray(make_image(64, 64, seed=3)).save(jpeg, format="JPEG")
    (src / "empty.png").write_bytes(b"")
    (src / "half.png").write_bytes(png.getvalue()[:len(png.getvalue()) // 2])
    (src / "no_end.png").write_bytes(png.getvalue()[:-1])  # Pillow decodes this; TensorFlow does not
    (src / "half.jpg").write_bytes(jpeg.getvalue()[:len(jpeg.getvalue()) // 2])
    (src / "notes.png").write_text("not an image")
    os.symlink(str(src / "gone.png"), str(src / "dangling.png"))
    save(str(src / "small.png"), make_image(20, 40))
    expected_reasons = {"dangling.png": "cannot read the file", "empty.png": "empty file",
                        "half.png": "truncated", "no_end.png": "truncated", "half.jpg": "truncated",
                        "notes.png": "not a PNG, JPEG, BMP or WebP image",
                        "small.png": "40x20 is smaller than the minimum size 24"}

    manifest = write_records("folder", str(src), out, num_shards=2, min_size=24)["train"]

    reasons = {os.path.basename(s["path"]): s["reason"] for s in manifest["skipped"]}
    assert sorted(reasons) == sorted(expected_reasons)
    for name, reason in expected_reasons.items():
        assert reason in reasons[name], (name, reasons[name])
        assert sum(name in r.getMessage() for r in caplog.records if r.levelname == "WARNING") == 1, name
    assert manifest["num_skipped"] == 7 and manifest["num_examples"] == 1
    _, examples = read_split(out, "train")
    assert list(examples) == ["good.png"]
    assert manifest["shards"] == ["train-00000-of-00001.tfrecord"]  # no empty shards
    assert os.path.basename(good) in examples
