"""Benchmark folders (Set5, Set14, BSD100, Urban100, DIV2K valid, or any folder of images) as LR/HR pairs.

LR images are either given (a folder matched to the HR images by name, as DIV2K's `0801x4.png` for
`0801.png`) or made from the HR image the way the papers make them: mod-crop, antialiased bicubic
downscaling, rounding to 8 bits; or, for real-world models, by Real-ESRGAN's degradation seeded per image.
"""
from __future__ import annotations

import dataclasses
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

from srgan_tf.common import imaging
from srgan_tf.common.image_files import BENCHMARK_FORMATS, extensions, format_names
from srgan_tf.config import DegradationConfig
from srgan_tf.registry import DEGRADATIONS

IMAGE_EXTENSIONS = extensions(BENCHMARK_FORMATS)


@dataclasses.dataclass(frozen=True)
class ImagePair:
    """One HR image and, when the benchmark ships it, its LR image (otherwise LR is made from HR)."""

    name: str
    hr_path: str
    lr_path: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Failure:
    """A file that could not be evaluated, and why; the rest of the benchmark still is."""

    path: str
    reason: str  # a whole message, naming the file


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    hr_dir: str
    lr_dir: Optional[str]
    pairs: Tuple[ImagePair, ...]
    failures: Tuple[Failure, ...]


def list_images(directory: str) -> List[str]:
    """The benchmark images (`BENCHMARK_FORMATS`, by extension) directly inside `directory`, by name."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory}: no such directory.")
    names = sorted(n for n in os.listdir(directory) if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS)
    return [os.path.join(directory, n) for n in names]


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def match_pairs(hr_dir: str, lr_dir: Optional[str], scale: int) -> Tuple[List[ImagePair], List[Failure]]:
    """Pairs each HR image with the LR image named `<stem>x<scale>.*` (DIV2K) or `<stem>.*` in `lr_dir`."""
    hr_paths = list_images(hr_dir)
    if not lr_dir:
        return [ImagePair(_stem(p), p) for p in hr_paths], []
    lr_by_stem = {_stem(p): p for p in list_images(lr_dir)}
    pairs, failures = [], []
    for hr_path in hr_paths:
        stem = _stem(hr_path)
        lr_path = lr_by_stem.get(f"{stem}x{scale}", lr_by_stem.get(stem))
        if lr_path is None:
            reason = f"{hr_path}: no LR image named {stem}x{scale}.* or {stem}.* in {lr_dir}"
            failures.append(Failure(hr_path, reason))
        else:
            pairs.append(ImagePair(stem, hr_path, lr_path))
    return pairs, failures


def find_benchmarks(hr_dirs: Sequence[str], lr_dirs: Sequence[str], scale: int) -> List[Benchmark]:
    """One benchmark per HR folder, paired by position with `lr_dirs` (empty, or one entry each; an
    empty entry means "make LR from HR"). Raises if a folder is missing, holds no image or is given twice,
    before anything slow runs."""
    if lr_dirs and len(lr_dirs) != len(hr_dirs):
        raise ValueError(f"{len(lr_dirs)} LR folders for {len(hr_dirs)} HR folders: give one per HR folder "
                         "(an empty entry makes LR from HR) or none.")
    benchmarks, names, folders = [], set(), {}
    for hr_dir, lr_dir in zip(hr_dirs, list(lr_dirs) or [None] * len(hr_dirs)):
        # The same HR folder with given LR images and with LR made from HR are two benchmarks.
        folder = (os.path.realpath(hr_dir), lr_dir and os.path.realpath(lr_dir))
        if folder in folders:
            raise ValueError(f"--hr_dir: {hr_dir} is the benchmark {folders[folder]} again; give each once.")
        folders[folder] = hr_dir
        pairs, failures = match_pairs(hr_dir, lr_dir or None, scale)
        if not pairs and not failures:
            raise ValueError(f"--hr_dir: {hr_dir} holds no {format_names(BENCHMARK_FORMATS)} image.")
        name = base = os.path.basename(os.path.normpath(hr_dir))
        suffix = 2
        while name in names:  # two folders called HR: keep their reports apart
            name, suffix = f"{base}_{suffix}", suffix + 1
        names.add(name)
        benchmarks.append(Benchmark(name, hr_dir, lr_dir or None, tuple(pairs), tuple(failures)))
    return benchmarks


def make_lr(hr: np.ndarray, name: str, scale: int, degradations: DegradationConfig = DegradationConfig(),
            seed: int = 0) -> np.ndarray:
    """The uint8 LR of uint8 `hr` (sides multiples of `scale`) when none is given, as `degradations` makes it:
    antialiased bicubic by default, as the papers make it; a seeded degradation draws from `seed` and the
    image's `name`."""
    return DEGRADATIONS[degradations.degradation].benchmark_lr(hr, seed, name, degradations, scale)


def load_pair(pair: ImagePair, scale: int, min_size: int, degradations: DegradationConfig = DegradationConfig(),
              seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """`(lr, hr)` uint8 arrays, HR mod-cropped so that it is exactly `scale` times LR. LR not given is made by
    `degradations` (Real-ESRGAN's seeded by `seed` and the pair's name, or bicubic).

    Raises ValueError naming the file when it is unreadable, too small, or its LR and HR sizes disagree.
    """
    hr = imaging.load_rgb(pair.hr_path)
    height, width = hr.shape[:2]
    hr = np.asarray(imaging.mod_crop(hr, scale))
    if min(hr.shape[:2]) < min_size:
        raise ValueError(f"{pair.hr_path}: {width}x{height} is too small to evaluate at x{scale}: at least "
                         f"{min_size}x{min_size} pixels are needed after cropping to a multiple of {scale}.")
    if pair.lr_path is None:
        try:
            return make_lr(hr, pair.name, scale, degradations, seed), hr
        except ValueError as error:
            raise ValueError(f"{pair.hr_path}: {error}") from error
    lr = imaging.load_rgb(pair.lr_path)
    if (lr.shape[0] * scale, lr.shape[1] * scale) != hr.shape[:2]:
        raise ValueError(
            f"{pair.lr_path}: LR {lr.shape[1]}x{lr.shape[0]} times {scale} does not match HR {pair.hr_path} "
            f"({width}x{height}).")
    return lr, hr
