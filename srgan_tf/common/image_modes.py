"""Upscaling grey, grey + alpha, RGB and RGBA images, 8- or 16-bit, with a model made for RGB, as Real-ESRGAN
does: the output keeps the input's channels and depth.

Grey runs through the model replicated to RGB and comes back as the result's ITU-R BT.601 luma, so grey
stays grey. Alpha is upscaled on its own and put back: by bicubic interpolation, or by the model (alpha
replicated to grey RGB, the mean of the result's channels), which keeps edges as sharp as the colours'. The
same code runs eagerly (the upscale command) and in a graph (the serving signature), where the channel count
is only known when an image arrives.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

from srgan_tf.common import imaging

BICUBIC = "bicubic"
MODEL = "model"
ALPHA_METHODS = (BICUBIC, MODEL)
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601

# uint8 or uint16 `[h, w, 3]` to the same dtype, `scale` times larger.
RgbUpscale = Callable[[tf.Tensor], tf.Tensor]


def rgb_to_grey(rgb: tf.Tensor) -> tf.Tensor:
    """Integer RGB `[..., 3]` to its BT.601 luma `[..., 1]`, rounded to the same levels."""
    luma = tf.reduce_sum(tf.cast(rgb, tf.float32) * LUMA_WEIGHTS, axis=-1, keepdims=True)
    return tf.cast(tf.clip_by_value(tf.round(luma), 0.0, rgb.dtype.max), rgb.dtype)


def _upscale_alpha(alpha: tf.Tensor, scale: tf.Tensor, upscale_rgb: RgbUpscale, method: str) -> tf.Tensor:
    """`alpha` `[h, w, 1]` `scale` times larger, at its own depth."""
    if method == MODEL:
        upscaled = tf.cast(upscale_rgb(tf.concat([alpha] * 3, axis=-1)), tf.float32)
        return tf.cast(tf.round(tf.reduce_mean(upscaled, axis=-1, keepdims=True)), alpha.dtype)
    return imaging.to_levels(imaging.bicubic_upscale(imaging.to_float(alpha), scale), alpha.dtype)


def upscale_keeping_mode(image: tf.Tensor, upscale_rgb: RgbUpscale, alpha: str = BICUBIC) -> tf.Tensor:
    """uint8 or uint16 `[H, W, C]` (C = 1 grey, 2 grey and alpha, 3 RGB, 4 RGBA) upscaled by `upscale_rgb`
    (same dtype `[h, w, 3]` in and out) to the same dtype and channels; `alpha`: one of `ALPHA_METHODS`."""
    if alpha not in ALPHA_METHODS:
        raise ValueError(f"--alpha={alpha}: must be one of {', '.join(ALPHA_METHODS)}.")
    image = tf.convert_to_tensor(image)
    channels = tf.shape(image)[-1]
    colour_channels = tf.where(channels >= 3, 3, 1)
    # Gathered, not tiled: TensorFlow has no uint16 kernel for tiling.
    rgb = tf.gather(image, tf.where(channels >= 3, [0, 1, 2], [0, 0, 0]), axis=-1)
    rgb = tf.ensure_shape(rgb, [None, None, 3])
    upscaled = tf.convert_to_tensor(upscale_rgb(rgb))
    upscaled_colour = tf.cond(colour_channels == 3, lambda: upscaled, lambda: rgb_to_grey(upscaled))

    def with_alpha():
        scale = tf.shape(upscaled)[0] // tf.shape(image)[0]
        upscaled_alpha = _upscale_alpha(image[..., colour_channels:], scale, upscale_rgb, alpha)
        return tf.concat([upscaled_colour, upscaled_alpha], axis=-1)

    return tf.cond(channels % 2 == 0, with_alpha, lambda: upscaled_colour)
