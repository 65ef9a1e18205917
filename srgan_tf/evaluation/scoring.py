"""Evaluating an upscaler on benchmark folders, image by image, beside the bicubic baseline."""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from srgan_tf.common import imaging
from srgan_tf.config import SUPPORTED_SCALES, DegradationConfig, Settings, setting
from srgan_tf.evaluation import metrics, niqe as niqe_metric
from srgan_tf.evaluation.image_pairs import Benchmark, Failure, ImagePair, load_pair
from srgan_tf.evaluation.pictures import comparison_picture
from srgan_tf.evaluation.upscalers import Upscaler, bicubic as bicubic_upscaler
from srgan_tf.registry import DEGRADATIONS

METRIC_NAMES = ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")
NIQE_NAMES = ("niqe", "bicubic_niqe", "hr_niqe")


@dataclasses.dataclass(frozen=True)
class EvalConfig(Settings):
    """How results are measured, and how LR is made from HR when a benchmark gives none; the defaults are the
    papers' (bicubic LR, Y channel, a border of `scale` pixels)."""

    scale: int = setting(4, "Upscaling factor.", choices=SUPPORTED_SCALES)
    shave: Optional[int] = setting(None, "Border removed before measuring; default: the scale.", lower_bound=0)
    y_only: bool = setting(True, "Measure the Y channel (as papers do); --noy_only measures RGB.")
    seed: int = setting(0, "With --degradation=realesrgan: the seed of each image's LR, drawn from it and the "
                           "image's name, so a benchmark is the same in every run.")
    niqe: bool = setting(False, "Also score NIQE (lower is more natural): of each model's output, of bicubic's "
                                "and of the HR images, with the same border removed as PSNR.")
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
        return DEGRADATIONS[self.degradations.degradation].describe(self.seed)


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
    # NIQE of the output, of bicubic's and of HR: None unless asked for, or where the image is too small.
    niqe: Optional[float] = None
    bicubic_niqe: Optional[float] = None
    hr_niqe: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    benchmark: Benchmark
    images: Tuple[ImageResult, ...]
    failures: Tuple[Failure, ...]

    def mean(self) -> Optional[Dict[str, float]]:
        """Mean of each metric over the images (as papers average per-image PSNR), None if there are none.
        NIQE means are over the images that have one, and present only where some have (`niqe_images` says
        how many)."""
        if not self.images:
            return None
        mean = {name: float(np.mean([getattr(r, name) for r in self.images])) for name in METRIC_NAMES}
        for name in NIQE_NAMES:
            values = [getattr(r, name) for r in self.images if getattr(r, name) is not None]
            if values:
                mean[name] = float(np.mean(values))
        if "niqe" in mean or "hr_niqe" in mean:
            mean["niqe_images"] = sum(r.hr_niqe is not None for r in self.images)
        return mean


def measure(hr: np.ndarray, sr: np.ndarray, config: EvalConfig) -> Tuple[float, float]:
    """PSNR and SSIM of one uint8 SR image against its uint8 HR image (one at a time bounds memory on
    DIV2K-sized images)."""
    hr_batch, sr_batch = tf.constant(hr[None]), tf.constant(sr[None])
    psnr = metrics.psnr(hr_batch, sr_batch, config.border, config.y_only)
    ssim = metrics.ssim(hr_batch, sr_batch, config.border, config.y_only)
    return float(psnr[0]), float(ssim[0])


def naturalness(image: np.ndarray, config: EvalConfig) -> Optional[float]:
    """NIQE of a uint8 image with the evaluation's border removed; None unless `config.niqe`."""
    return niqe_metric.niqe(image, config.border) if config.niqe else None


def niqe_size_problem(hr: np.ndarray, config: EvalConfig) -> Optional[str]:
    """Why NIQE cannot score an image of this size (fewer than two whole blocks after the border), or None."""
    if not config.niqe:
        return None
    height, width = (side - 2 * config.border for side in hr.shape[:2])
    return niqe_metric.size_problem(height, width, f" after the {config.border}-pixel border")


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One LR image upscaled by bicubic and by each upscaler, each measured against HR, and all drawn side by
    side (LR enlarged | bicubic | each upscaler | HR, labelled with their PSNR)."""

    bicubic: Tuple[float, float, Optional[float]]  # PSNR, SSIM, NIQE
    upscaled: Tuple[Tuple[float, float, float, Optional[float]], ...]  # PSNR, SSIM, seconds, NIQE per upscaler
    picture: np.ndarray


def compare(upscalers: Sequence[Upscaler], lr: np.ndarray, hr: np.ndarray, config: EvalConfig) -> Comparison:
    """Measures each upscaler (and bicubic) on one uint8 LR/HR pair, NIQE where `config` asks for it and HR
    is large enough for it; an upscaler's ValueError propagates."""
    scores_niqe = config.niqe and niqe_size_problem(hr, config) is None
    natural = (lambda image: naturalness(image, config)) if scores_niqe else (lambda image: None)
    bicubic = bicubic_upscaler(config.scale)(lr)
    bicubic_scores = (*measure(hr, bicubic, config), natural(bicubic))
    panels, labels, upscaled = [bicubic], ["LR (nearest)", f"bicubic {bicubic_scores[0]:.2f} dB"], []
    for upscaler in upscalers:
        start = time.perf_counter()
        sr = upscaler(lr)
        seconds = time.perf_counter() - start
        psnr, ssim = measure(hr, sr, config)
        upscaled.append((psnr, ssim, seconds, natural(sr)))
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
    too_small = niqe_size_problem(hr, config)
    if too_small:
        logging.warning("%s: no NIQE: %s.", pair.hr_path, too_small)
    try:
        comparison = compare(upscalers, lr, hr, config)
    except ValueError as error:
        raise ValueError(f"{pair.hr_path}: {error}") from error
    if comparison_path:
        imaging.save_png(comparison_path, comparison.picture)
    hr_niqe = None if too_small else naturalness(hr, config)
    (bicubic_psnr, bicubic_ssim, bicubic_niqe) = comparison.bicubic
    return [ImageResult(pair.name, pair.hr_path, hr.shape[1], hr.shape[0], psnr, ssim, bicubic_psnr, bicubic_ssim,
                        seconds, niqe, bicubic_niqe, hr_niqe)
            for psnr, ssim, seconds, niqe in comparison.upscaled]


def evaluate_models(upscalers: Sequence[Upscaler], benchmark: Benchmark, config: EvalConfig,
                    comparison_dir: Optional[str] = None) -> List[BenchmarkResult]:
    """Evaluates every pair with every upscaler, logging a line per image and upscaler; bad files are
    reported and skipped. Returns one result per upscaler, in their order."""
    images, failures = [[] for _ in upscalers], list(benchmark.failures)
    total = len(benchmark.pairs)
    for failure in failures:
        logging.error("%s skipped: %s", benchmark.name, failure.reason)
    start = time.monotonic()
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
            logging.info("%s [%d/%d] %s: PSNR %.2f dB, SSIM %.4f (bicubic %.2f dB, %.4f)%s, %.2f s, ETA %s",
                         benchmark.name, index, total, shown, result.psnr, result.ssim, result.bicubic_psnr,
                         result.bicubic_ssim, _niqe_note(result), result.seconds,
                         _eta(time.monotonic() - start, index, total))
    return [BenchmarkResult(benchmark, tuple(kept), tuple(failures)) for kept in images]


def _niqe_note(result: ImageResult) -> str:
    return "" if result.niqe is None else f", NIQE {result.niqe:.2f} (bicubic {result.bicubic_niqe:.2f}, HR " \
                                          f"{result.hr_niqe:.2f}; lower is more natural)"


def _eta(elapsed: float, done: int, total: int) -> str:
    """The time the benchmark's other images will take at the pace so far, as h:mm:ss."""
    seconds = round(elapsed / done * (total - done))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def evaluate_benchmark(upscaler: Upscaler, benchmark: Benchmark, config: EvalConfig,
                       comparison_dir: Optional[str] = None) -> BenchmarkResult:
    """`evaluate_models` for one upscaler."""
    (result,) = evaluate_models([upscaler], benchmark, config, comparison_dir)
    return result
