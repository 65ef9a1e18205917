"""Upscaling an image of any size in overlapping tiles, inside one TF graph.

Memory is bounded by the tile, not the image: the generator only ever sees a window of at most
`tile_size` x `tile_size`. Neighbouring windows share at least `tile_overlap` LR pixels and each keeps the
centre of that overlap, so every kept pixel has at least `tile_overlap // 2` pixels of real context on each
side. The generator's BatchNorm runs in inference mode, so tiles are independent; once the context covers
the network's receptive field a tiled result equals the untiled one (up to float rounding).

`upscale_in_tiles_eagerly` is the same tiling for models that run outside TensorFlow (ONNX Runtime, LiteRT):
the same plan of windows and cuts, with the windows upscaled one by one from Python.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.generator import receptive_radius

DEFAULT_TILE_SIZE = 256
# Beyond 32 LR pixels of overlap, tiled output differs from untiled output by at most one grey level, for
# the paper's generator even with random weights (whose influence reaches further than a trained one's):
# `tools/benchmark_serve.py` measures it. Smaller generators get twice their receptive radius: exact.
DEFAULT_MAX_OVERLAP = 32


@dataclasses.dataclass(frozen=True)
class TilingConfig:
    """How large images are cut up; sizes are in LR (input) pixels."""

    tile_size: int
    tile_overlap: int

    def __post_init__(self):
        if self.tile_size <= 0:
            raise ValueError(f"--tile_size={self.tile_size} must be positive.")
        if not 0 <= self.tile_overlap < self.tile_size:
            raise ValueError(f"--tile_overlap={self.tile_overlap} must be >= 0 and smaller than "
                             f"--tile_size={self.tile_size}.")


def tiling_for(config: GeneratorConfig, tile_size: int = DEFAULT_TILE_SIZE,
               tile_overlap: Optional[int] = None) -> TilingConfig:
    """A tiling for `config`'s generator; the default overlap is twice the receptive radius (exact), at most
    `DEFAULT_MAX_OVERLAP` (within one grey level)."""
    if tile_overlap is None:
        tile_overlap = min(2 * receptive_radius(config), DEFAULT_MAX_OVERLAP)
        if tile_overlap >= tile_size:
            raise ValueError(
                f"--tile_size={tile_size} leaves no room for the default {tile_overlap}-pixel overlap of "
                "this generator; use a larger --tile_size or set --tile_overlap.")
    return TilingConfig(tile_size, tile_overlap)


def _axis_plan(length: tf.Tensor, tile_size: int, tile_overlap: int):
    """Window size, window starts and kept spans along one axis of `length` pixels.

    As few windows as `tile_size` allows, all of one size, the smallest that still overlaps its neighbours
    by `tile_overlap`, spread evenly from border to border: an image a little larger than one tile costs
    a little more than one tile, not two. Window i keeps `[cuts[i], cuts[i + 1])`, cutting every overlap in
    its middle.
    """
    stride = tile_size - tile_overlap
    count = 1 + tf.maximum(0, (length - tile_size + stride - 1) // stride)
    # count * window >= length + (count - 1) * overlap: neighbours overlap by at least tile_overlap.
    window = tf.minimum(length, (length + (count - 1) * tile_overlap + count - 1) // count)
    # In int64: the product overflows int32 for a side of about 700,000 pixels.
    starts = tf.cast(tf.range(count, dtype=tf.int64) * tf.cast(length - window, tf.int64)
                     // tf.cast(tf.maximum(count - 1, 1), tf.int64), length.dtype)
    middles = (starts[1:] + starts[:-1] + window) // 2
    cuts = tf.concat([[0], middles, [length]], axis=0)
    return window, starts, cuts


def upscale_in_tiles(upscale_window, image: tf.Tensor, scale: int, tiling: TilingConfig,
                     output_dtype: tf.DType) -> tf.Tensor:
    """Applies `upscale_window` (`[h, w, 3]` -> `[scale*h, scale*w, 3]`) to `image` `[H, W, 3]` tile by tile.

    Returns the `[scale*H, scale*W, 3]` result assembled from the tiles' kept spans. An image no larger
    than one tile is a single window, i.e. plain untiled inference.
    """
    shape = tf.shape(image)
    window_h, starts_y, cuts_y = _axis_plan(shape[0], tiling.tile_size, tiling.tile_overlap)
    window_w, starts_x, cuts_x = _axis_plan(shape[1], tiling.tile_size, tiling.tile_overlap)
    rows = tf.TensorArray(output_dtype, size=tf.size(starts_y), infer_shape=False)
    for i in tf.range(tf.size(starts_y)):
        # One tile at a time. Graph loops otherwise run up to 10 iterations at once, which holds as many
        # tiles in memory, and oneDNN convolutions running concurrently as iterations of one loop gave
        # wrong pixels and crashes (seen with the bicubic-residual generator).
        tf.autograph.experimental.set_loop_options(parallel_iterations=1)
        y = starts_y[i]
        # Pieces of a row are stacked along axis 0 transposed, so TensorArray.concat joins them along W.
        row = tf.TensorArray(output_dtype, size=tf.size(starts_x), infer_shape=False)
        for j in tf.range(tf.size(starts_x)):
            tf.autograph.experimental.set_loop_options(parallel_iterations=1)
            x = starts_x[j]
            upscaled = upscale_window(image[y:y + window_h, x:x + window_w])
            kept = upscaled[(cuts_y[i] - y) * scale:(cuts_y[i + 1] - y) * scale,
                            (cuts_x[j] - x) * scale:(cuts_x[j + 1] - x) * scale]
            row = row.write(j, tf.transpose(kept, [1, 0, 2]))
        rows = rows.write(i, tf.transpose(row.concat(), [1, 0, 2]))
    result = rows.concat()
    result.set_shape([None, None, 3])
    return result


def upscale_in_tiles_eagerly(upscale_window, image: np.ndarray, scale: int, tiling: TilingConfig) -> np.ndarray:
    """`upscale_in_tiles` for an `upscale_window` that takes and gives NumPy arrays: the windows and cuts of
    `_axis_plan`, each window upscaled by a call, the kept spans written into the result."""
    (window_h, starts_y, cuts_y), (window_w, starts_x, cuts_x) = [
        [np.asarray(value) for value in _axis_plan(tf.constant(length), tiling.tile_size, tiling.tile_overlap)]
        for length in image.shape[:2]]
    result = np.empty((image.shape[0] * scale, image.shape[1] * scale) + image.shape[2:], image.dtype)
    for i, y in enumerate(starts_y):
        for j, x in enumerate(starts_x):
            upscaled = upscale_window(image[y:y + window_h, x:x + window_w])
            top, bottom, left, right = cuts_y[i], cuts_y[i + 1], cuts_x[j], cuts_x[j + 1]
            result[top * scale:bottom * scale, left * scale:right * scale] = upscaled[
                (top - y) * scale:(bottom - y) * scale, (left - x) * scale:(right - x) * scale]
    return result
