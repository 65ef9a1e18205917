"""Measures the training input pipeline in HR patches per second and per CPU-second.

Builds records from DIV2K-sized photographs (scikit-image's sample photos resized to 2040x1400, stored as
PNG and as JPEG), then times `train_dataset_fn` for several `--crops_per_image`, in patches per second and
per CPU-second (per busy core). For comparison, the paper's SRResNet training step consumes about 8 patches/s
on 2 CPU cores, a GAN step 1.6. With --degradation=realesrgan, each figure of Real-ESRGAN's degradation is
printed beside the bicubic pipeline's, measured on the same records and crops.

  python tools/benchmark_data.py            # the full table (several minutes)
  python tools/benchmark_data.py --quick    # a smoke check
  python tools/benchmark_data.py --degradation=realesrgan --hr_patch_size=256 --crops_per_image=16
"""
import os
import subprocess
import sys
import tempfile
import time
from typing import Tuple

import tensorflow as tf
from absl import app, flags
from PIL import Image

from srgan_tf.config import DataConfig, DegradationConfig, GeneratorConfig
from srgan_tf.data import pipeline, sources
from srgan_tf.registry import DEGRADATIONS
from srgan_tf.training.acceleration import cpu_description

flags.DEFINE_list("crops_per_image", ["1", "4", "16", "32", "64", "128"],
                  "Patches cut from each decoded image.")
flags.DEFINE_list("formats", ["png", "jpeg"], "How the photographs are stored in the records.")
flags.DEFINE_integer("batch_size", 16, "Patches per batch.")
flags.DEFINE_integer("hr_patch_size", 96, "HR patch size.")
flags.DEFINE_enum("degradation", "bicubic", list(DEGRADATIONS),
                  "How LR is made; realesrgan: measured beside bicubic.")
flags.DEFINE_float("seconds", 20.0, "Timed seconds per measurement (after the shuffle buffer is full).")
flags.DEFINE_string("work_dir", "", "Where images and records go (default: a temporary folder).")
flags.DEFINE_bool("quick", False, "A smoke check: few crop counts, a small shuffle buffer, short timings.")
FLAGS = flags.FLAGS

PHOTO_SIZE = (2040, 1400)  # width, height of a typical DIV2K image
MAKE_RECORDS = [sys.executable, "-m", "srgan_tf.make_records"]


def make_records(work_dir: str, image_format: str) -> str:
    """Writes the resized sample photographs as `image_format` files, then records of them; returns a glob."""
    photos = os.path.join(work_dir, image_format)
    os.makedirs(photos, exist_ok=True)
    for split in sources.samples_source().values():
        for sample in split:
            with Image.open(sample.path) as image:
                resized = image.convert("RGB").resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
            resized.info.pop("icc_profile", None)  # some samples' profiles make libpng warn at every decode
            stem = os.path.splitext(os.path.basename(sample.path))[0]
            name = stem + (".png" if image_format == "png" else ".jpg")
            resized.save(os.path.join(photos, name), quality=95)
    output_dir = os.path.join(work_dir, f"records_{image_format}")
    start = time.monotonic()
    subprocess.run([*MAKE_RECORDS, "--source=folder", f"--input_dir={photos}",
                    f"--output_dir={output_dir}", "--num_shards=4", "--num_workers=2"],
                   check=True, capture_output=True)
    size = sum(os.path.getsize(os.path.join(output_dir, f)) for f in os.listdir(output_dir)) / 1e6
    print(f"{image_format}: records of 9 photos at {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}, {size:.0f} MB, "
          f"written in {time.monotonic() - start:.1f} s")
    return os.path.join(output_dir, "train-*")


def measure(config: DataConfig, degradations: DegradationConfig, seconds: float) -> Tuple[float, float]:
    """Steady-state (patches per second, patches per CPU-second), timed after the shuffle buffer has filled.

    CPU time counts every thread of this process, so the second figure is the throughput per busy core and
    holds even when other jobs share the machine.
    """
    dataset_fn = pipeline.train_dataset_fn(config, GeneratorConfig.scale, degradations=degradations)
    batches = iter(dataset_fn(tf.distribute.InputContext()))
    for _ in range(config.shuffle_buffer // config.batch_size + 2):
        next(batches)
    count, start, cpu_start = 0, time.monotonic(), time.process_time()
    while time.monotonic() - start < seconds:
        next(batches)
        count += config.batch_size
    return count / (time.monotonic() - start), count / (time.process_time() - cpu_start)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv):
    del argv
    sys.stdout.reconfigure(line_buffering=True)  # each figure shows as soon as it is measured
    crops = [1, 16] if FLAGS.quick else [int(c) for c in FLAGS.crops_per_image]
    seconds = 3.0 if FLAGS.quick else FLAGS.seconds
    shuffle_buffer = 64 if FLAGS.quick else DataConfig.shuffle_buffer
    with tempfile.TemporaryDirectory() as tmp:
        work_dir = FLAGS.work_dir or tmp
        patterns = {f: make_records(work_dir, f) for f in FLAGS.formats}
        files = pipeline.list_record_files(patterns[FLAGS.formats[0]])
        start = time.monotonic()
        pipeline.count_images(files, FLAGS.hr_patch_size)
        megabytes = sum(os.path.getsize(f) for f in files) / 1e6
        print(f"start-up pass over the size features: {megabytes:.0f} MB of records in "
              f"{time.monotonic() - start:.2f} s")
        print(f"\nHR {FLAGS.hr_patch_size}x{FLAGS.hr_patch_size} patches/s, batch {FLAGS.batch_size}, "
              f"shuffle buffer {shuffle_buffer}, {seconds:.0f} s per figure, "
              f"{cpu_description()}; load average before: {load()}")
        degradations = ["bicubic"] + ([FLAGS.degradation] if FLAGS.degradation != "bicubic" else [])
        print(f"{'format':>6} {'crops/image':>11} {'degradation':>11} {'per second':>10} {'per CPU-second':>14}")
        for image_format, pattern in patterns.items():
            for crops_per_image in crops:
                config = DataConfig(train_records=pattern, hr_patch_size=FLAGS.hr_patch_size,
                                    batch_size=FLAGS.batch_size, crops_per_image=crops_per_image,
                                    shuffle_buffer=shuffle_buffer)
                for name in degradations:
                    per_second, per_cpu_second = measure(config, DegradationConfig(degradation=name), seconds)
                    print(f"{image_format:>6} {crops_per_image:>11} {name:>11} {per_second:>10.0f} "
                          f"{per_cpu_second:>14.0f}")
        print(f"load average after: {load()}")
        print("a training step consumes about 8 patches/s (SRResNet pretraining) or 1.6 (GAN) on 2 CPU cores")


if __name__ == "__main__":
    app.run(main)
