"""Image conventions shared by data, training, evaluation and serving.

One place decides how LR images are made (antialiased bicubic, as MATLAB's `imresize`), how sizes are
mod-cropped and how pixels are quantised, so every part of the library reproduces the papers' baselines.
"""
from __future__ import annotations

import io

import numpy as np
import tensorflow as tf
from PIL import Image

from srgan_tf.common.files import atomic_write
from srgan_tf.common.image_files import PNG_BIT_DEPTH_OFFSET, PNG_SIGNATURE, pil_to_array, pil_to_rgb_array


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


def to_float(image: tf.Tensor) -> tf.Tensor:
    """uint8 or uint16 levels to float32 in [0, 1]."""
    dtype = tf.as_dtype(image.dtype)
    if dtype not in (tf.uint8, tf.uint16):
        raise TypeError(f"to_float takes uint8 or uint16 levels, not {dtype.name}.")
    return tf.cast(image, tf.float32) / dtype.max


def to_levels(image: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """Float images in [0, 1] (clipped) to the nearest levels of the integer `dtype`."""
    dtype = tf.as_dtype(dtype)
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * dtype.max), dtype)


def to_uint8(image: tf.Tensor) -> tf.Tensor:
    return to_levels(image, tf.uint8)


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


def load_image(path: str) -> np.ndarray:
    """Reads an image file keeping its channels and depth: uint8 or uint16 `[H, W, C]`, C = 1 (grey),
    2 (grey, alpha), 3 (RGB) or 4 (RGBA). Raises ValueError naming the file if it can't.

    PNGs are decoded by TensorFlow, at their bit depth: Pillow reads 16-bit colour PNGs as 8-bit.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data.startswith(PNG_SIGNATURE) and len(data) > PNG_BIT_DEPTH_OFFSET:
            dtype = tf.uint16 if data[PNG_BIT_DEPTH_OFFSET] == 16 else tf.uint8
            return tf.io.decode_png(data, channels=0, dtype=dtype).numpy()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return pil_to_array(image)
    except (OSError, ValueError, SyntaxError, tf.errors.InvalidArgumentError) as error:
        reason = error.message if isinstance(error, tf.errors.OpError) else error
        raise ValueError(f"{path}: not a readable image ({reason})") from error


def save_png(path: str, pixels: np.ndarray) -> None:
    """Writes uint8 or uint16 `[H, W, C]` (C = 1 grey, 2 grey and alpha, 3 RGB, 4 RGBA) as an 8- or 16-bit
    PNG, atomically: a reader never sees a half-written file."""
    pixels = np.asarray(pixels)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: PNGs hold uint8 or uint16 pixels, not {pixels.dtype}.")
    encoded = tf.io.encode_png(pixels).numpy()
    with atomic_write(path, binary=True) as f:
        f.write(encoded)
