"""Image conventions shared by data, training, evaluation and serving.

One place decides how LR images are made (antialiased bicubic, as MATLAB's `imresize`), how sizes are
mod-cropped and how pixels are quantised, so every part of the library reproduces the papers' baselines.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from PIL import Image

from srgan_tf.common.files import atomic_write
from srgan_tf.common.image_files import pil_to_rgb_array  # noqa: F401  (part of this module's interface)


def mod_crop(image: tf.Tensor, scale: int) -> tf.Tensor:
    """Crops `[..., H, W, C]` to the largest size divisible by `scale` (top-left anchored)."""
    shape = tf.shape(image)
    h = shape[-3] - shape[-3] % scale
    w = shape[-2] - shape[-2] % scale
    return image[..., :h, :w, :]


def bicubic_downscale(hr: tf.Tensor, scale: int) -> tf.Tensor:
    """Antialiased bicubic downscaling of float images in [0, 1]; H and W must be divisible by `scale`."""
    shape = tf.shape(hr)
    size = tf.stack([shape[-3] // scale, shape[-2] // scale])
    lr = tf.image.resize(hr, size, method="bicubic", antialias=True)
    return tf.clip_by_value(lr, 0.0, 1.0)


def bicubic_upscale(lr: tf.Tensor, scale: int) -> tf.Tensor:
    """The bicubic baseline every SR result is compared against, clipped to [0, 1]."""
    shape = tf.shape(lr)
    size = tf.stack([shape[-3] * scale, shape[-2] * scale])
    return tf.clip_by_value(tf.image.resize(lr, size, method="bicubic"), 0.0, 1.0)


def quantize(image: tf.Tensor) -> tf.Tensor:
    """Rounds float images in [0, 1] to the 256 levels an 8-bit file on disk can hold."""
    return tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0) / 255.0


def to_float(image_uint8: tf.Tensor) -> tf.Tensor:
    return tf.cast(image_uint8, tf.float32) / 255.0


def to_uint8(image: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """Decodes PNG/JPEG/BMP/GIF bytes in a graph to uint8 `[H, W, 3]` (grey is replicated, alpha dropped)."""
    image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def load_rgb(path: str) -> np.ndarray:
    """Reads an image file as uint8 `[H, W, 3]`; raises ValueError naming the file if it can't."""
    try:
        with Image.open(path) as image:
            image.load()
            return pil_to_rgb_array(image)
    except (OSError, ValueError, SyntaxError) as error:
        raise ValueError(f"{path}: not a readable image ({error})") from error


def save_png(path: str, pixels: np.ndarray) -> None:
    """Writes uint8 `[H, W, 3]` as PNG atomically: a reader never sees a half-written file."""
    with atomic_write(path, binary=True) as f:
        Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(f, format="PNG")
