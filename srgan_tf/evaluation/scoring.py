"""Evaluating an upscaler on benchmark folders, image by image, beside the bicubic baseline."""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from srgan_tf import SUPPORTED_SCALES
from srgan_tf.common import imaging
from srgan_tf.common.image_files import BENCHMARK_FORMATS, format_names
from srgan_tf.config import DegradationConfig, Settings, setting
from srgan_tf.evaluation import metrics
from srgan_tf.evaluation.image_pairs import Benchmark, Failure, ImagePair, load_pair
from srgan_tf.evaluation.pictures import comparison_picture
from srgan_tf.evaluation.upscalers import Upscaler, bicubic as bicubic_upscaler

METRIC_NAMES = ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")


@dataclasses.dataclass(frozen=True)
class EvalConfig(Settings):
    """How results are measured, and how LR is made from HR when a benchmark gives none; the defaults are the
    papers' (bicubic LR, Y channel, a border of `scale` pixels)."""

    scale: int = setting(4, "Upscaling factor.", choices=SUPPORTED_SCALES)
    shave: Optional[int] = setting(None, "Border removed before measuring; default: the scale.", lower_bound=0)
    y_only: bool = setting(True, "Measure the Y channel (as papers do); --noy_only measures RGB.")
    seed: int = setting(0, "With --degradation=realesrgan: the seed of each image's LR, drawn from it and the "
                           "image's name, so a benchmark is the same in every run.")
    degradations: DegradationConfig = dataclasses.field(default_factory=DegradationConfig)

    @property
    def border(self) -> int:
        return self.scale if self.shave is None else self.shave

    @property
    def channel(self) -> str:
        return "Y" if self.y_only else "RGB"

    @property
    def made_lr(self) -> str:
        """How LR images not given are made, for reports."""
        if self.degradations.degradation == "realesrgan":
            return f"realesrgan degradation, seed {self.seed}"
        return "bicubic"


@dataclasses.dataclass(frozen=True)
class ImageResult:
    name: str
    hr_path: str
    width: int  # of the HR image as measured (mod-cropped)
    height: int
    psnr: float
    ssim: float
    bicubic_psnr: float
    bicubic_ssim: float
    seconds: float  # spent in the upscaler


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    benchmark: Benchmark
    images: Tuple[ImageResult, ...]
    failures: Tuple[Failure, ...]

    def mean(self) -> Optional[Dict[str, float]]:
        """Mean of each metric over the images (as papers average per-image PSNR), None if there are none."""
        if not self.images:
            return None
        return {name: float(np.mean([getattr(r, name) for r in self.images])) for name in METRIC_NAMES}


def measure(hr: np.ndarray, sr: np.ndarray, config: EvalConfig) -> Tuple[float, float]:
    """PSNR and SSIM of one uint8 SR image against its uint8 HR image (one at a time bounds memory on
    DIV2K-sized images)."""
    hr_batch, sr_batch = tf.constant(hr[None]), tf.constant(sr[None])
    psnr = metrics.psnr(hr_batch, sr_batch, config.border, config.y_only)
    ssim = metrics.ssim(hr_batch, sr_batch, config.border, config.y_only)
    return float(psnr[0]), float(ssim[0])


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One LR image upscaled by bicubic and by each upscaler, each measured against HR, and all drawn side by
    side (LR enlarged | bicubic | each upscaler | HR, labelled with their PSNR)."""

    bicubic: Tuple[float, float]  # PSNR, SSIM
    upscaled: Tuple[Tuple[float, float, float], ...]  # PSNR, SSIM, seconds, per upscaler
    picture: np.ndarray


def compare(upscalers: Sequence[Upscaler], lr: np.ndarray, hr: np.ndarray, config: EvalConfig) -> Comparison:
    """Measures each upscaler (and bicubic) on one uint8 LR/HR pair; an upscaler's ValueError propagates."""
    bicubic = bicubic_upscaler(config.scale)(lr)
    bicubic_scores = measure(hr, bicubic, config)
    panels, labels, upscaled = [bicubic], ["LR (nearest)", f"bicubic {bicubic_scores[0]:.2f} dB"], []
    for upscaler in upscalers:
        start = time.perf_counter()
        sr = upscaler(lr)
        seconds = time.perf_counter() - start
        psnr, ssim = measure(hr, sr, config)
        upscaled.append((psnr, ssim, seconds))
        panels.append(sr)
        labels.append(f"{upscaler.label} {psnr:.2f} dB")
    picture = comparison_picture(lr, [*panels, hr], config.scale, [*labels, "HR"])
    return Comparison(bicubic_scores, tuple(upscaled), picture)


def evaluate_image(upscalers: Sequence[Upscaler], pair: ImagePair, config: EvalConfig,
                   comparison_path: Optional[str] = None) -> List[ImageResult]:
    """Upscales one pair's LR image with each upscaler, measures each and bicubic against HR, and saves the
    comparison picture when given a path. Raises ValueError naming the file when the pair can't be evaluated.
    """
    lr, hr = load_pair(pair, config.scale, min_size=2 * config.border + metrics.SSIM_WINDOW,
                       degradations=config.degradations, seed=config.seed)
    try:
        comparison = compare(upscalers, lr, hr, config)
    except ValueError as error:
        raise ValueError(f"{pair.hr_path}: {error}") from error
    if comparison_path:
        imaging.save_png(comparison_path, comparison.picture)
    return [ImageResult(pair.name, pair.hr_path, hr.shape[1], hr.shape[0], psnr, ssim, *comparison.bicubic, seconds)
            for psnr, ssim, seconds in comparison.upscaled]


def evaluate_models(upscalers: Sequence[Upscaler], benchmark: Benchmark, config: EvalConfig,
                    comparison_dir: Optional[str] = None) -> List[BenchmarkResult]:
    """Evaluates every pair with every upscaler, logging a line per image and upscaler; bad files are
    reported and skipped. Returns one result per upscaler, in their order."""
    images, failures = [[] for _ in upscalers], list(benchmark.failures)
    total = len(benchmark.pairs)
    if not total and not failures:
        logging.warning("%s: no %s images.", benchmark.hr_dir, format_names(BENCHMARK_FORMATS))
    for failure in failures:
        logging.error("%s skipped: %s", benchmark.name, failure.reason)
    for index, pair in enumerate(benchmark.pairs, start=1):
        comparison_path = comparison_dir and os.path.join(comparison_dir, f"{pair.name}.png")
        try:
            results = evaluate_image(upscalers, pair, config, comparison_path)
        except ValueError as error:
            failures.append(Failure(pair.hr_path, str(error)))
            logging.error("%s [%d/%d] skipped: %s", benchmark.name, index, total, error)
            continue
        for upscaler, result, kept in zip(upscalers, results, images):
            kept.append(result)
            shown = pair.name if len(upscalers) == 1 else f"{pair.name}, {upscaler.label}"
            logging.info("%s [%d/%d] %s: PSNR %.2f dB, SSIM %.4f (bicubic %.2f dB, %.4f), %.2f s",
                         benchmark.name, index, total, shown, result.psnr, result.ssim, result.bicubic_psnr,
                         result.bicubic_ssim, result.seconds)
    return [BenchmarkResult(benchmark, tuple(kept), tuple(failures)) for kept in images]


def evaluate_benchmark(upscaler: Upscaler, benchmark: Benchmark, config: EvalConfig,
                       comparison_dir: Optional[str] = None) -> BenchmarkResult:
    """`evaluate_models` for one upscaler."""
    (result,) = evaluate_models([upscaler], benchmark, config, comparison_dir)
    return result
