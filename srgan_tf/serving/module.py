"""The serving graph: a `tf.Module` whose `tf.function`s are the SavedModel's signatures.

`serving_default` takes a batch of encoded images (what TF Serving's REST API sends as `{"b64": ...}`)
and returns PNGs; `predict_pixels` takes and returns uint8 pixels. Both validate every image inside the
graph, so a bad request fails with `INVALID_ARGUMENT` and a message saying what was wrong, and both
upscale through `upscale_in_tiles`, so memory stays bounded whatever the image size. Grey inputs are
replicated to RGB; an alpha channel is dropped, not composited.
"""
from __future__ import annotations

import functools

import keras
import tensorflow as tf

from srgan_tf.common.image_files import BMP, GIF, JPEG, PNG, SERVABLE_FORMATS, format_names
from srgan_tf.common.imaging import decode_rgb, to_float, to_uint8
from srgan_tf.serving.signatures import HEIGHT, IMAGE_BYTES, PIXELS, PREDICT_PIXELS, SERVE_ENCODED, WIDTH
from srgan_tf.serving.tiling import TilingConfig, upscale_in_tiles

DEFAULT_MAX_PIXELS = 4096 * 4096
SUPPORTED_FORMATS = format_names(SERVABLE_FORMATS)
_HEADER_BYTES = 32


def _header(encoded: tf.Tensor) -> tf.Tensor:
    """The first bytes of `encoded` as int64, zero-padded so short inputs can be parsed safely."""
    head = tf.strings.substr(encoded, 0, _HEADER_BYTES)
    padded = tf.strings.join([head, b"\0" * _HEADER_BYTES])
    return tf.cast(tf.io.decode_raw(tf.strings.substr(padded, 0, _HEADER_BYTES), tf.uint8), tf.int64)


def _uint(header: tf.Tensor, offset: int, size: int, big_endian: bool) -> tf.Tensor:
    order = range(size) if big_endian else reversed(range(size))
    value = tf.constant(0, tf.int64)
    for i in order:
        value = value * 256 + header[offset + i]
    return value


def _starts_with(encoded: tf.Tensor, magic: bytes) -> tf.Tensor:
    return tf.equal(tf.strings.substr(encoded, 0, len(magic)), magic)


def _image_format(encoded: tf.Tensor):
    """Booleans telling which of `SERVABLE_FORMATS` `encoded` starts like."""
    formats = {
        PNG: _starts_with(encoded, b"\x89PNG\r\n\x1a\n"),
        GIF: tf.logical_or(_starts_with(encoded, b"GIF87a"), _starts_with(encoded, b"GIF89a")),
        BMP: _starts_with(encoded, b"BM"),
        JPEG: tf.io.is_jpeg(encoded),
    }
    if set(formats) != set(SERVABLE_FORMATS):
        raise NotImplementedError(f"no header check for {set(SERVABLE_FORMATS) ^ set(formats)}")
    return formats


def _encoded_image_size(encoded: tf.Tensor, formats) -> tf.Tensor:
    """`[height, width]` (int64) read from the file header, so huge images are refused before decoding."""
    header = _header(encoded)

    def bmp_size():
        height = _uint(header, 22, 4, big_endian=False)
        top_down = height >= 2 ** 31  # a negative int32 height means rows are stored top to bottom
        height = tf.where(top_down, 2 ** 32 - height, height)
        return tf.stack([height, _uint(header, 18, 4, big_endian=False)])

    return tf.case([
        (formats[PNG], lambda: tf.stack([_uint(header, 20, 4, True), _uint(header, 16, 4, True)])),
        (formats[GIF], lambda: tf.stack([_uint(header, 8, 2, False), _uint(header, 6, 2, False)])),
        (formats[BMP], bmp_size),
    ], default=lambda: tf.cast(tf.io.extract_jpeg_shape(encoded)[:2], tf.int64), exclusive=False)


def _text(*parts) -> tf.Tensor:
    """A message from strings and numeric tensors (unlike tf.strings.format, strings are not quoted)."""
    return tf.strings.join([part if isinstance(part, str) or part.dtype == tf.string
                            else tf.strings.as_string(part) for part in parts])


def _after(checks: list, tensor: tf.Tensor) -> tf.Tensor:
    """`tensor`, usable only once all `checks` passed.

    A data dependency, unlike a bare control dependency, also holds for ops inside conditionals and loops.
    """
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


def _check_not_empty_batch(batch: tf.Tensor, name: str) -> tf.Tensor:
    return _after([tf.debugging.Assert(tf.shape(batch)[0] > 0, [f"{name} holds no images (an empty batch)"])],
                  batch)


class SuperResolutionModule(tf.Module):
    """Wraps a generator with decoding, validation, tiling and encoding for serving."""

    def __init__(self, generator: keras.Model, scale: int, tiling: TilingConfig,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        super().__init__(name="super_resolution")
        if max_pixels <= 0:
            raise ValueError(f"--max_pixels={max_pixels} must be positive.")
        # TF Serving and `saved_model_cli run` restore variables the TF1 way, through the variable handles
        # in the graph; Keras 3 variables are found there only if their tf.Variables are tracked directly.
        # The model itself stays untracked (reached through a plain callable), so each weight is saved once.
        self.generator_variables = [weight.value for weight in generator.weights]
        self._generator = functools.partial(generator, training=False)
        self.scale = scale
        self.tiling = tiling
        self.max_pixels = max_pixels

    def signatures(self) -> dict:
        return {SERVE_ENCODED: self.serve_encoded, PREDICT_PIXELS: self.predict_pixels}

    def _check_size(self, image: tf.Tensor, size: tf.Tensor, name: tf.Tensor) -> tf.Tensor:
        """`image`, once its `size` ([height, width]) is known to be non-empty and within the pixel limit."""
        height, width = tf.unstack(tf.cast(size, tf.int64))
        pixels = height * width
        image = _after([tf.debugging.Assert(pixels > 0, [
            _text(name, " is an empty image (", height, " x ", width, " pixels)")])], image)
        return _after([tf.debugging.Assert(pixels <= self.max_pixels, [_text(
            name, " is ", height, " x ", width, " = ", pixels,
            f" pixels, over the limit of {self.max_pixels} this model was exported with (--max_pixels)",
        )])], image)

    def _decode(self, encoded: tf.Tensor, name: tf.Tensor) -> tf.Tensor:
        """Validates the bytes and their header-declared size before decoding to uint8 RGB."""
        not_empty = tf.strings.length(encoded) > 0
        encoded = _after([tf.debugging.Assert(not_empty, [_text(name, " is empty (0 bytes)")])], encoded)
        formats = _image_format(encoded)
        encoded = _after([tf.debugging.Assert(tf.reduce_any(tf.stack(list(formats.values()))), [_text(
            name, " is not a " + SUPPORTED_FORMATS + " image")])], encoded)
        encoded = self._check_size(encoded, _encoded_image_size(encoded, formats), name)
        return decode_rgb(encoded)

    def _upscale(self, image: tf.Tensor) -> tf.Tensor:
        """uint8 `[H, W, 3]` to uint8 `[scale*H, scale*W, 3]`, tile by tile (BatchNorm in inference mode)."""
        def upscale_window(window):
            return to_uint8(self._generator(to_float(window)[None])[0])

        return upscale_in_tiles(upscale_window, image, self.scale, self.tiling, tf.uint8)

    # The arguments' names are the signatures' input keys too: they match the TensorSpecs' names.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGE_BYTES)])
    def serve_encoded(self, image_bytes):
        """Encoded images (sizes may differ) to upscaled PNGs with their heights and widths."""
        def upscale_encoded(args):
            encoded, index = args
            upscaled = self._upscale(self._decode(encoded, _text(f"{IMAGE_BYTES}[", index, "]")))
            shape = tf.shape(upscaled)
            return tf.io.encode_png(upscaled), shape[0], shape[1]

        image_bytes = _check_not_empty_batch(image_bytes, IMAGE_BYTES)
        png, height, width = tf.map_fn(
            upscale_encoded, (image_bytes, tf.range(tf.size(image_bytes))),
            fn_output_signature=(tf.string, tf.int32, tf.int32), parallel_iterations=1)
        return {IMAGE_BYTES: png, HEIGHT: height, WIDTH: width}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name=PIXELS)])
    def predict_pixels(self, pixels):
        """uint8 `[N, H, W, 3]` to uint8 `[N, scale*H, scale*W, 3]`, one image at a time."""
        def upscale_pixels(args):
            image, index = args
            name = _text(f"{PIXELS}[", index, "]")
            return self._upscale(self._check_size(image, tf.shape(image)[:2], name))

        pixels = _check_not_empty_batch(pixels, PIXELS)
        # One image at a time, as the tiles of an image (serving/tiling.py): memory stays bounded by a tile.
        upscaled = tf.map_fn(upscale_pixels, (pixels, tf.range(tf.shape(pixels)[0])),
                             fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8), parallel_iterations=1)
        return {PIXELS: upscaled}
