"""The serving graph: a `tf.Module` whose `tf.function`s are the SavedModel's signatures.

`serving_default` takes a batch of encoded images (what TF Serving's REST API sends as `{"b64": ...}`)
and returns PNGs that keep each input's channels and depth (`srgan_tf.common.image_modes`): grey in, grey
out; RGBA PNG in, RGBA PNG out (alpha upscaled by bicubic interpolation); 16-bit PNG in, 16-bit PNG out,
upscaled from all 16 bits. `predict_pixels` takes and returns uint8 RGB pixels, `predict_pixels16` uint16
RGB pixels. All validate every image inside the graph, so a bad request fails with `INVALID_ARGUMENT` and a
message saying what was wrong, and all upscale through `upscale_in_tiles`, so memory stays bounded whatever
the image size.
"""
from __future__ import annotations

import functools

import keras
import tensorflow as tf

from srgan_tf.common.image_files import (BMP, GIF, JPEG, PNG, PNG_BIT_DEPTH_OFFSET, PNG_SIGNATURE,
                                         SERVABLE_FORMATS, format_names)
from srgan_tf.common.image_modes import upscale_keeping_mode
from srgan_tf.common.imaging import to_float, to_levels
from srgan_tf.serving.signatures import (HEIGHT, IMAGE_BYTES, PIXELS, PREDICT_PIXELS, PREDICT_PIXELS16,
                                         SERVE_ENCODED, WIDTH)
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
    """The unsigned integer of `size` bytes at `offset` of `header` (int64 bytes)."""
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
        PNG: _starts_with(encoded, PNG_SIGNATURE),
        GIF: tf.logical_or(_starts_with(encoded, b"GIF87a"), _starts_with(encoded, b"GIF89a")),
        BMP: _starts_with(encoded, b"BM"),
        JPEG: tf.io.is_jpeg(encoded),
    }
    if set(formats) != set(SERVABLE_FORMATS):
        raise NotImplementedError(f"no header check for {set(SERVABLE_FORMATS) ^ set(formats)}")
    return formats


# A GIF's blocks start after its header (6 bytes) and logical screen descriptor (7, with the flags of the
# global colour table at byte 10); each frame is an image descriptor of 10 bytes (its flags at byte 9) and
# each extension an introducer and a label, both followed by sub-blocks.
_GIF_SCREEN_END, _GIF_SCREEN_FLAGS = 13, 10
_GIF_IMAGE, _GIF_EXTENSION = 0x2C, 0x21
_GIF_DESCRIPTOR_BYTES = 10


def _gif_colour_table_bytes(flags: tf.Tensor) -> tf.Tensor:
    """The size of the colour table that a GIF's descriptor `flags` announce (none without bit 7)."""
    return tf.where(flags >= 128, 3 * tf.bitwise.left_shift(tf.constant(2, tf.int64), flags % 8), 0)


def _gif_frames(encoded: tf.Tensor) -> tf.Tensor:
    """`[height, width, pixels decoded]` of a GIF, walking its blocks.

    TensorFlow's GIF decoder ignores the screen size of the header: its output is as high and as wide as the
    largest frame, and it decodes every frame, even when only the first is kept, so each frame's own
    descriptor must be read. The walk stops where the decoder would (the trailer, an unknown block or the
    end of the data) and moves forward at every step, so it is bounded by the file's length.
    """
    length = tf.cast(tf.strings.length(encoded), tf.int64)
    # Zero-padded so that a descriptor cut short by the end of the data is still safe to read.
    data = tf.cast(tf.io.decode_raw(tf.strings.join([encoded, b"\0" * _GIF_DESCRIPTOR_BYTES]), tf.uint8),
                   tf.int64)

    def walk(position, in_sub_blocks, height, width, pixels):
        block = data[position:position + _GIF_DESCRIPTOR_BYTES]
        is_image = tf.logical_and(tf.logical_not(in_sub_blocks), tf.equal(block[0], _GIF_IMAGE))
        is_extension = tf.logical_and(tf.logical_not(in_sub_blocks), tf.equal(block[0], _GIF_EXTENSION))
        frame_width, frame_height = _uint(block, 5, 2, False), _uint(block, 7, 2, False)
        # After an image descriptor: its colour table and the byte of its LZW code size, then sub-blocks.
        image_data = position + _GIF_DESCRIPTOR_BYTES + _gif_colour_table_bytes(block[9]) + 1
        next_position = tf.where(in_sub_blocks, position + 1 + block[0],  # a size, then the data
                                 tf.where(is_image, image_data, tf.where(is_extension, position + 2, length)))
        in_sub_blocks = tf.where(in_sub_blocks, block[0] > 0, tf.logical_or(is_image, is_extension))
        return (next_position, in_sub_blocks,
                tf.where(is_image, tf.maximum(height, frame_height), height),
                tf.where(is_image, tf.maximum(width, frame_width), width),
                tf.where(is_image, pixels + frame_height * frame_width, pixels))

    start = _GIF_SCREEN_END + _gif_colour_table_bytes(data[_GIF_SCREEN_FLAGS])
    zero = tf.constant(0, tf.int64)
    _, _, height, width, pixels = tf.while_loop(
        lambda position, *_: position < length, walk, (start, tf.constant(False), zero, zero, zero),
        parallel_iterations=1)
    return tf.stack([height, width, pixels])


def _encoded_image_size(encoded: tf.Tensor, formats) -> tf.Tensor:
    """`[height, width, pixels decoded]` (int64) read from the file's headers, so huge images are refused
    before decoding. Only a GIF of several frames decodes more pixels than height x width."""
    header = _header(encoded)

    def with_pixels(height, width):
        return tf.stack([height, width, height * width])

    def bmp_size():
        height = _uint(header, 22, 4, big_endian=False)
        top_down = height >= 2 ** 31  # a negative int32 height means rows are stored top to bottom
        height = tf.where(top_down, 2 ** 32 - height, height)
        return with_pixels(height, _uint(header, 18, 4, big_endian=False))

    def jpeg_size():
        height, width = tf.unstack(tf.cast(tf.io.extract_jpeg_shape(encoded)[:2], tf.int64))
        return with_pixels(height, width)

    return tf.case([
        (formats[PNG], lambda: with_pixels(_uint(header, 20, 4, True), _uint(header, 16, 4, True))),
        (formats[GIF], lambda: _gif_frames(encoded)),
        (formats[BMP], bmp_size),
    ], default=jpeg_size, exclusive=False)


def _is_16_bit_png(encoded: tf.Tensor, formats) -> tf.Tensor:
    return tf.logical_and(formats[PNG], tf.equal(_header(encoded)[PNG_BIT_DEPTH_OFFSET], 16))


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
        return {SERVE_ENCODED: self.serve_encoded, PREDICT_PIXELS: self.predict_pixels,
                PREDICT_PIXELS16: self.predict_pixels16}

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

    def _validated(self, encoded: tf.Tensor, name: tf.Tensor):
        """`encoded`, once its bytes and header-declared size are valid, and which format it is."""
        not_empty = tf.strings.length(encoded) > 0
        encoded = _after([tf.debugging.Assert(not_empty, [_text(name, " is empty (0 bytes)")])], encoded)
        formats = _image_format(encoded)
        encoded = _after([tf.debugging.Assert(tf.reduce_any(tf.stack(list(formats.values()))), [_text(
            name, " is not a " + SUPPORTED_FORMATS + " image")])], encoded)
        height, width, decoded = tf.unstack(_encoded_image_size(encoded, formats))
        encoded = self._check_size(encoded, tf.stack([height, width]), name)
        # Only a GIF decodes more than its size (all its frames), so only a GIF fails here.
        return _after([tf.debugging.Assert(decoded <= self.max_pixels, [_text(
            name, " is a GIF whose frames hold ", decoded, " pixels in all, over the limit of ",
            f"{self.max_pixels} this model was exported with (--max_pixels): every frame is decoded, though "
            "only the first is upscaled")])], encoded), formats

    def _upscale(self, image: tf.Tensor) -> tf.Tensor:
        """uint8 or uint16 `[H, W, 3]` to `[scale*H, scale*W, 3]` of the same dtype, tile by tile (BatchNorm
        in inference mode)."""
        def upscale_window(window):
            return to_levels(self._generator(to_float(window)[None])[0], image.dtype)

        return upscale_in_tiles(upscale_window, image, self.scale, self.tiling, image.dtype)

    def _upscale_to_png(self, image: tf.Tensor):
        """A decoded image of any channels and depth, upscaled keeping both, as PNG; its height and width."""
        upscaled = upscale_keeping_mode(image, self._upscale)
        shape = tf.shape(upscaled)
        return tf.io.encode_png(upscaled), shape[0], shape[1]

    # The arguments' names are the signatures' input keys too: they match the TensorSpecs' names.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGE_BYTES)])
    def serve_encoded(self, image_bytes):
        """Encoded images (sizes may differ) to upscaled PNGs with their heights and widths."""
        def upscale_encoded(args):
            encoded, index = args
            encoded, formats = self._validated(encoded, _text(f"{IMAGE_BYTES}[", index, "]"))
            # One branch per depth: a 16-bit PNG is decoded, upscaled and encoded in 16 bits, all else in 8.
            return tf.cond(
                _is_16_bit_png(encoded, formats),
                lambda: self._upscale_to_png(tf.io.decode_png(encoded, channels=0, dtype=tf.uint16)),
                lambda: self._upscale_to_png(
                    tf.io.decode_image(encoded, channels=0, dtype=tf.uint8, expand_animations=False)))

        image_bytes = _check_not_empty_batch(image_bytes, IMAGE_BYTES)
        png, height, width = tf.map_fn(
            upscale_encoded, (image_bytes, tf.range(tf.size(image_bytes))),
            fn_output_signature=(tf.string, tf.int32, tf.int32), parallel_iterations=1)
        return {IMAGE_BYTES: png, HEIGHT: height, WIDTH: width}

    def _predict(self, pixels: tf.Tensor) -> tf.Tensor:
        """`[N, H, W, 3]` to `[N, scale*H, scale*W, 3]` of the same dtype, one image at a time."""
        def upscale_pixels(args):
            image, index = args
            name = _text(f"{PIXELS}[", index, "]")
            return self._upscale(self._check_size(image, tf.shape(image)[:2], name))

        pixels = _check_not_empty_batch(pixels, PIXELS)
        # One image at a time, as the tiles of an image (serving/tiling.py): memory stays bounded by a tile.
        return tf.map_fn(upscale_pixels, (pixels, tf.range(tf.shape(pixels)[0])),
                         fn_output_signature=tf.TensorSpec([None, None, 3], pixels.dtype),
                         parallel_iterations=1)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name=PIXELS)])
    def predict_pixels(self, pixels):
        """uint8 `[N, H, W, 3]` to uint8 `[N, scale*H, scale*W, 3]`."""
        return {PIXELS: self._predict(pixels)}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint16, name=PIXELS)])
    def predict_pixels16(self, pixels):
        """uint16 `[N, H, W, 3]` to uint16 `[N, scale*H, scale*W, 3]`: 16-bit images keep their precision."""
        return {PIXELS: self._predict(pixels)}
