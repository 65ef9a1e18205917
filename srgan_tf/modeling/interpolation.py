"""Network interpolation (ESRGAN, Wang et al. 2018, section 3.4): blending the weights of a generator trained
for PSNR with those of the same network fine-tuned as a GAN gives, without retraining, a generator between
the two, trading the GAN's invented texture and noise against the PSNR model's blur with one number.
"""
from __future__ import annotations

from typing import List

import keras
import numpy as np


def interpolate_weights(psnr_generator: keras.Model, gan_generator: keras.Model,
                        alpha: float) -> List[np.ndarray]:
    """`(1 - alpha) * psnr + alpha * gan` for every weight of the two generators, in `get_weights()` order:
    trainable and not, since BatchNorm's moving statistics must follow the weights they normalise.

    Alpha 0 gives the PSNR generator's weights exactly, 1 the GAN generator's. Raises ValueError naming the
    first weight whose shapes differ, for generators of different shapes.
    """
    psnr_weights, gan_weights = psnr_generator.weights, gan_generator.weights
    if len(psnr_weights) != len(gan_weights):
        raise ValueError(f"The PSNR generator has {len(psnr_weights)} weights, the GAN generator "
                         f"{len(gan_weights)}: interpolation needs generators of the same shape.")
    blended = []
    for psnr, gan in zip(psnr_weights, gan_weights):
        if psnr.shape != gan.shape:
            raise ValueError(f"The PSNR generator's {psnr.path} has shape {psnr.shape}, the GAN generator's "
                             f"{gan.path} {gan.shape}: interpolation needs generators of the same shape.")
        blended.append((1 - alpha) * psnr.numpy() + alpha * gan.numpy())
    return blended
