r"""Shows what `--degradation=realesrgan` trains on: applies the degradation to image files, seeded.

  python tools/degrade.py --output_dir=degraded --variants=3 photo.jpg holiday/
  python tools/degrade.py --output_dir=degraded --crop=128 --variants=4 --picture=degraded/examples.png \
      ../shared/data/Set5

Each image, mod-cropped to --scale (or its central --crop pixels, as a training patch), gives
<output_dir>/<name>_lr<k>.png for k = 0 .. --variants - 1, drawn from seed --seed + k and the image's name:
without --crop, variant 0 is the LR that `srgan-evaluate --degradation=realesrgan --seed=<seed>` scores the
image on. --picture also writes one picture with a row per image: the HR, then each LR enlarged by pixel
repetition. Every setting of the degradation is a flag, as in training (`--help`); with --usm_hr the HR is
sharpened first and degraded sharpened, as training's targets are.
"""
import os
import sys

import numpy as np
from absl import app, flags

from srgan_tf import config_flags
from srgan_tf.common import commands, imaging
from srgan_tf.common.console import ProgressBar
from srgan_tf.common.image_files import READABLE_EXTENSIONS, find_images, plan_outputs
from srgan_tf.config import DegradationConfig
from srgan_tf.data import realesrgan
from srgan_tf.evaluation.image_pairs import make_lr
from srgan_tf.evaluation.pictures import GAP, enlarge, side_by_side

flags.DEFINE_string("output_dir", "degraded", "Where the LR images go.")
flags.DEFINE_integer("scale", 4, "Downscaling factor.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of variant 0; variant k uses seed + k.")
flags.DEFINE_integer("variants", 1, "Degradations drawn per image.", lower_bound=1)
flags.DEFINE_integer("crop", 0, "Degrade the central crop of this many HR pixels (a multiple of --scale), as a "
                                "training patch; 0: the whole image.", lower_bound=0)
flags.DEFINE_string("picture", "", "Also write a picture of every image's HR beside its LR variants here.")
flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
config_flags.define_flags([DegradationConfig])
flags.FLAGS.set_default("degradation", "realesrgan")
FLAGS = flags.FLAGS


def central_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central `size` x `size` pixels; ValueError if the image is smaller."""
    height, width = image.shape[:2]
    if min(height, width) < size:
        raise ValueError(f"{width}x{height} is smaller than --crop={size}")
    top, left = (height - size) // 2, (width - size) // 2
    return image[top:top + size, left:left + size]


def main(argv):
    if len(argv) < 2:
        raise app.UsageError("Name the image files or folders to degrade.")
    if FLAGS.crop % FLAGS.scale:
        raise app.UsageError(f"--crop={FLAGS.crop} must be a multiple of --scale={FLAGS.scale}.")
    if FLAGS.picture and not FLAGS.crop:
        raise app.UsageError("--picture needs --crop: its rows show images of one size.")
    try:
        config = DegradationConfig(**config_flags.settings_from_flags([DegradationConfig]))
        images = find_images(argv[1:], READABLE_EXTENSIONS)
        outputs = {}
        for variant in range(FLAGS.variants):
            planned = plan_outputs(images, FLAGS.output_dir, f"_lr{variant}", FLAGS.overwrite)
            outputs.update({(image, variant): path for image, path in planned.items()})
        if FLAGS.picture and not FLAGS.overwrite and os.path.exists(FLAGS.picture):
            raise FileExistsError(f"{FLAGS.picture} already exists; pass --overwrite to replace it.")
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    print(f"Degrading {len(images)} image(s) x {FLAGS.variants} by {config.degradation} at x{FLAGS.scale} into "
          f"{FLAGS.output_dir}")
    progress = ProgressBar(len(images) * FLAGS.variants, label="degrading")
    rows, failures = [], []
    for image in images:
        name = os.path.splitext(os.path.basename(image))[0]
        try:
            hr = np.asarray(imaging.mod_crop(imaging.load_rgb(image), FLAGS.scale))
            hr = central_crop(hr, FLAGS.crop) if FLAGS.crop else hr
            if config.usm_hr:
                if min(hr.shape[:2]) <= realesrgan.USM_RADIUS:
                    raise ValueError(f"--usm_hr needs images larger than {realesrgan.USM_RADIUS} pixels a side")
                hr = imaging.to_uint8(realesrgan.unsharp_mask(imaging.to_float(hr))).numpy()
            lrs = [make_lr(hr, name, FLAGS.scale, config, FLAGS.seed + k) for k in range(FLAGS.variants)]
        except ValueError as error:
            failures.append(f"{image}: {error}")
            progress.advance(FLAGS.variants)
            continue
        for variant, lr in enumerate(lrs):
            imaging.save_png(outputs[image, variant], lr)
            progress.advance()
        rows.append(side_by_side([hr] + [enlarge(lr, FLAGS.scale) for lr in lrs]))
    progress.break_line()
    if FLAGS.picture and rows:
        gap = np.full((GAP, rows[0].shape[1], 3), 255, np.uint8)
        imaging.save_png(FLAGS.picture, np.concatenate([part for row in rows for part in (row, gap)][:-1]))
        print(f"Picture of {len(rows)} image(s): {FLAGS.picture}")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    commands.run(main)
