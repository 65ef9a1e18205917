"""Record writing: sources, pixel round trips, bad input, atomic rewrites and the command-line tool."""
import glob
import io
import json
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

from srgan_tf.common import imaging
from srgan_tf.data import schema, sources
from srgan_tf.data.writer import write_records
from srgan_tf.data.sources import SourceError

MAKE_RECORDS = [sys.executable, "-m", "srgan_tf.make_records"]


def save(path, pixels, image_format=None, **options):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path, format=image_format, **options)
    return path


def png_rgb16(pixels: np.ndarray) -> bytes:
    """A 48-bit RGB PNG (Pillow can read but not write them)."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in pixels)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def read_split(output_dir, split):
    """{key: parsed features as numpy} of every record in the split's shards (listed by its manifest)."""
    with open(os.path.join(output_dir, f"{split}.json")) as f:
        manifest = json.load(f)
    examples = {}
    for name in manifest["shards"]:
        path = os.path.join(output_dir, name)
        for serialized in tf.data.TFRecordDataset(path, compression_type=schema.compression_of(path)):
            features = {k: v.numpy() for k, v in schema.parse_example(serialized).items()}
            key = features["image/key"].decode()
            assert key not in examples, f"{key} written twice"
            examples[key] = features
    return manifest, examples


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


def test_missing_sources_are_errors_naming_the_path(tmp_path, monkeypatch):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(SourceError, match=missing):
        write_records("folder", missing, str(tmp_path / "out"))
    (tmp_path / "celeba" / "img_align_celeba").mkdir(parents=True)
    with pytest.raises(SourceError, match="list_eval_partition.txt"):
        sources.list_source("celeba", str(tmp_path / "celeba"))
    (tmp_path / "div2k" / "DIV2K_train_HR").mkdir(parents=True)
    with pytest.raises(SourceError, match="DIV2K_valid_HR"):
        sources.list_source("div2k", str(tmp_path / "div2k"))
    monkeypatch.setattr(sources.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SourceError, match=re.escape("pip install '.[samples]'")):
        sources.list_source("samples", "")
    assert not os.path.exists(tmp_path / "out")


def test_empty_results_are_errors_and_leave_the_old_split_in_place(tmp_path, make_image):
    out = str(tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="No files found .*empty"):
        write_records("folder", str(tmp_path / "empty"), out)
    save(str(tmp_path / "good" / "a.png"), make_image(16, 16))
    write_records("folder", str(tmp_path / "good"), out)
    before = sorted(os.listdir(out))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(SourceError, match="No usable image .*broken.jpg"):
        write_records("folder", str(tmp_path / "bad"), out)
    assert sorted(os.listdir(out)) == before
    assert list(read_split(out, "train")[1]) == ["a.png"]


def test_rewriting_a_split_replaces_it_cleanly(tmp_path, make_image):
    out = str(tmp_path / "out")
    for i in range(5):
        save(str(tmp_path / "first" / f"{i}.png"), make_image(16, 16, seed=i))
    for i in range(3):
        save(str(tmp_path / "second" / f"new{i}.png"), make_image(16, 16, seed=10 + i))
    write_records("folder", str(tmp_path / "first"), out, num_shards=4)
    other_split = os.path.join(out, schema.shard_name("val", 0, 1))
    with open(other_split, "wb") as f:
        f.write(b"another split's shard")

    manifest = write_records("folder", str(tmp_path / "second"), out, num_shards=4, gzip=True)["train"]

    assert manifest["shards"] == [schema.shard_name("train", i, 3, gzip=True) for i in range(3)]
    expected_files = manifest["shards"] + ["train.json", os.path.basename(other_split)]
    assert sorted(os.listdir(out)) == sorted(expected_files)  # no temporary files, no old shards
    assert sorted(read_split(out, "train")[1]) == ["new0.png", "new1.png", "new2.png"]


def test_celeba_partition_decides_the_split(tmp_path, make_image):
    root = tmp_path / "celeba"
    partition = {"000001.jpg": 0, "000002.jpg": 1, "000003.jpg": 2, "000004.jpg": 0, "000005.jpg": 2}
    for i, name in enumerate(partition):
        save(str(root / "img_align_celeba" / name), make_image(22, 18, seed=i))
    (root / "list_eval_partition.txt").write_text("".join(f"{n} {s}\n" for n, s in partition.items()))

    manifests = write_records("celeba", str(root), str(tmp_path / "out"), min_size=8)

    keys = {split: sorted(read_split(str(tmp_path / "out"), split)[1]) for split in manifests}
    assert keys == {"train": ["img_align_celeba/000001.jpg", "img_align_celeba/000004.jpg"],
                    "val": ["img_align_celeba/000002.jpg"],
                    "test": ["img_align_celeba/000003.jpg", "img_align_celeba/000005.jpg"]}
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg train\n")
    with pytest.raises(SourceError, match="list_eval_partition.txt:2"):
        sources.list_source("celeba", str(root))


def test_div2k_folders_become_train_and_val(tmp_path, make_image):
    root = tmp_path / "DIV2K"
    for name, folder in (("0001.png", "DIV2K_train_HR"), ("0002.png", "DIV2K_train_HR"),
                         ("0801.png", "DIV2K_valid_HR")):
        save(str(root / folder / name), make_image(24, 30))
    manifests = write_records("div2k", str(root), str(tmp_path / "out"), min_size=8)
    keys = {split: sorted(read_split(str(tmp_path / "out"), split)[1]) for split in manifests}
    assert keys == {"train": ["DIV2K_train_HR/0001.png", "DIV2K_train_HR/0002.png"],
                    "val": ["DIV2K_valid_HR/0801.png"]}


def test_tool_writes_the_sample_photographs_with_worker_processes(tmp_path):
    out = str(tmp_path / "samples")
    done = subprocess.run([*MAKE_RECORDS, "--source=samples", f"--output_dir={out}", "--num_workers=2",
                           "--num_shards=3", "--gzip"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Wrote train 8 images in 3 shards (0 skipped); val 1 images in 1 shards (0 skipped)" in done.stdout
    assert "8/8 images" in done.stderr
    manifest, examples = read_split(out, "train")
    assert manifest["shards"] == [schema.shard_name("train", i, 3, gzip=True) for i in range(3)]
    data_dir = os.path.dirname(sources.samples_source()["train"][0].path)
    with open(os.path.join(data_dir, "rocket.jpg"), "rb") as f:
        assert examples["rocket.jpg"]["image/encoded"] == f.read()
    assert sorted(examples) == sorted(sources.SAMPLE_SPLITS["train"])
    assert not glob.glob(os.path.join(out, ".tmp*"))


def test_tool_exits_with_an_error_naming_a_missing_folder(tmp_path):
    missing = str(tmp_path / "no_such_folder")
    done = subprocess.run([*MAKE_RECORDS, "--source=folder", f"--input_dir={missing}",
                           f"--output_dir={tmp_path / 'out'}"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert missing in done.stderr and "Traceback" not in done.stderr
