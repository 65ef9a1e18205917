"""How closely an export reproduces TensorFlow's output: the largest difference in grey levels and the PSNR
of the export's uint8 output against TensorFlow's (infinite when they are equal)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Parity:
    max_difference: int
    psnr: float

    def __str__(self) -> str:
        psnr = "identical" if math.isinf(self.psnr) else f"PSNR {self.psnr:.1f} dB"
        return f"max difference {self.max_difference} grey level(s), {psnr}"


def parity(reference: np.ndarray, output: np.ndarray) -> Parity:
    """`output` against `reference`, both uint8 of one shape."""
    if reference.shape != output.shape:
        raise ValueError(f"shapes differ: {output.shape} against the reference's {reference.shape}.")
    difference = reference.astype(np.float64) - output.astype(np.float64)
    mse = float(np.mean(difference ** 2))
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)
    return Parity(int(np.max(np.abs(difference))), psnr)


def probe_image(height: int = 48, width: int = 40, seed: int = 0) -> np.ndarray:
    """A uint8 test picture with smooth gradients, edges and fine noise, like a photograph's mix."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    smooth = np.stack([x / width, y / height, 0.5 + 0.4 * np.sin(x / 3.0) * np.cos(y / 5.0)], axis=-1)
    edges = ((x // 8 + y // 8) % 2)[..., None] * 0.3
    noise = np.random.default_rng(seed).normal(0.0, 0.03, smooth.shape)
    return np.clip(np.round((0.6 * smooth + edges + noise) * 255.0), 0, 255).astype(np.uint8)
