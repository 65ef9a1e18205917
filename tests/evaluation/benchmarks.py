"""Benchmark folders written from pixels, the evaluation settings of the tests, and PSNR/SSIM of one image."""
import os

import numpy as np

from srgan_tf.common import imaging
from srgan_tf.evaluation import metrics
from srgan_tf.evaluation.scoring import EvalConfig

CONFIG = EvalConfig(scale=4)


def write_folder(directory, images: dict) -> str:
    for name, pixels in images.items():
        imaging.save_png(os.path.join(directory, name), pixels)
    return str(directory)


def synthesized_lr(hr: np.ndarray) -> np.ndarray:
    return imaging.to_uint8(imaging.bicubic_downscale(imaging.to_float(hr), 4)).numpy()


def measure(hr: np.ndarray, sr: np.ndarray):
    psnr = metrics.psnr(hr[None], sr[None], 4).numpy()[0]
    return psnr, metrics.ssim(hr[None], sr[None], 4).numpy()[0]
