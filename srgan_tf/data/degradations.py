"""How LR is made from HR, the interface of `--degradation` (`srgan_tf.registry.DEGRADATIONS`), and its
default: bicubic downscaling, as the papers make their benchmarks.

A degradation makes the LR of training patches (in the tf.data graph) and of benchmark images that come
without LR (in evaluation), from the same settings (`DegradationConfig`), so that a model is scored on the
kind of LR it was trained for. Real-ESRGAN's is in `srgan_tf.data.realesrgan`.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from srgan_tf.common import imaging
from srgan_tf.config import DegradationConfig


class Degradation:
    """One way of making LR from HR. `seeded`: it draws random numbers, from a seed given with each training
    patch (so a patch gets the same LR however batches are split over replicas) or with each benchmark image;
    the input pipeline then maps it over single patches, else over whole batches."""

    seeded = False

    def check_patch_size(self, config: DegradationConfig, patch: int, scale: int) -> None:
        """Raises ValueError naming the flag at fault if training patches of `patch` pixels are too small."""

    def training_pair(self, hr: tf.Tensor, seed: Optional[tf.Tensor], config: DegradationConfig,
                      scale: int) -> Tuple[tf.Tensor, tf.Tensor]:
        """(lr, target) for float `hr` in [0, 1]: one patch [p, p, 3] with its stateless `seed` [2] if
        `seeded`, else a batch [b, p, p, 3] and no seed. LR is p / scale a side and not yet rounded to 8 bits;
        the target is what the generator learns to make (`hr`, or a sharpened `hr`)."""
        raise NotImplementedError

    def benchmark_lr(self, hr: np.ndarray, seed: int, name: str, config: DegradationConfig,
                     scale: int) -> np.ndarray:
        """The uint8 LR of a uint8 benchmark image `hr` (sides multiples of `scale`) called `name`; a seeded
        degradation draws from `seed` and `name`, so a benchmark is the same in every run."""
        raise NotImplementedError

    def describe(self, seed: int) -> str:
        """How LR was made, for reports."""
        raise NotImplementedError


class Bicubic(Degradation):
    """Antialiased bicubic downscaling (MATLAB's imresize), the papers' LR."""

    def training_pair(self, hr, seed, config, scale):
        return imaging.bicubic_downscale(hr, scale), hr

    def benchmark_lr(self, hr, seed, name, config, scale):
        return imaging.to_uint8(imaging.bicubic_downscale(imaging.to_float(hr), scale)).numpy()

    def describe(self, seed):
        return "bicubic"


BICUBIC = Bicubic()
