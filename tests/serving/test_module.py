"""The serving signatures' inputs: channels and depth kept, sizes from headers, bad requests named."""
import io
import re

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.tiny_models import encode


def bicubic_levels(channel: np.ndarray, scale: int, levels: int) -> np.ndarray:
    """`[h, w, 1]` integer levels upscaled by clipped bicubic interpolation and rounded, as numbers."""
    size = (channel.shape[0] * scale, channel.shape[1] * scale)
    upscaled = tf.image.resize(channel.astype(np.float32) / levels, size, method="bicubic").numpy()
    return np.round(np.clip(upscaled, 0, 1) * levels)


def luma(rgb: np.ndarray) -> np.ndarray:
    return np.round(rgb.astype(np.float64) @ [0.299, 0.587, 0.114])[..., None]


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P"])
def test_pngs_keep_their_channels_and_alpha_is_upscaled_bicubic(loaded, mode, make_image):
    rgb, alpha = make_image(10, 12, seed=5), make_image(10, 12, seed=6)[..., :1]
    grey = luma(rgb).astype(np.uint8)
    pixels = {"L": grey, "LA": np.concatenate([grey, alpha], -1), "RGB": rgb,
              "RGBA": np.concatenate([rgb, alpha], -1)}.get(mode)
    encoded = encode(rgb, "PNG", "P") if mode == "P" else tf.io.encode_png(pixels).numpy()
    decoded = tf.io.decode_png(encoded, channels=0).numpy()
    colour = np.repeat(decoded[..., :1], 3, -1) if decoded.shape[-1] < 3 else decoded[..., :3]
    direct = loaded.signatures["predict_pixels"](pixels=colour[None])["pixels"][0].numpy()
    png = loaded.signatures["serving_default"](image_bytes=tf.constant([encoded]))["image_bytes"][0].numpy()
    upscaled = tf.io.decode_png(png, channels=0).numpy()
    assert upscaled.dtype == np.uint8 and upscaled.shape == (20, 24, {"P": 3}.get(mode, len(mode))), mode
    colour_channels = 3 if upscaled.shape[-1] >= 3 else 1
    expected_colour = direct if colour_channels == 3 else luma(direct)
    np.testing.assert_array_equal(upscaled[..., :colour_channels], expected_colour)
    if mode.endswith("A"):
        expected_alpha = bicubic_levels(alpha, 2, 255)
        assert len(np.unique(expected_alpha)) > 10  # a real alpha channel, not a constant one
        np.testing.assert_array_equal(upscaled[..., -1:], expected_alpha)


@pytest.mark.parametrize("channels", [1, 4])
def test_16_bit_pngs_come_out_16_bit_from_all_16_bits(loaded, model_dir, channels, make_image):
    noise = np.random.default_rng(7).integers(0, 257, (9, 11, 3), dtype=np.uint16)
    rgb = make_image(9, 11, seed=8).astype(np.uint16) * 257 + noise
    alpha = make_image(9, 11, seed=9)[..., :1].astype(np.uint16) * 257 + 100
    pixels = rgb[..., :1] if channels == 1 else np.concatenate([rgb, alpha], -1)
    encoded = tf.io.encode_png(pixels).numpy()
    assert encoded[24] == 16
    png = loaded.signatures["serving_default"](image_bytes=tf.constant([encoded]))["image_bytes"][0].numpy()
    assert png[24] == 16 and png[25] == {1: 0, 4: 6}[channels]  # 16 bits; grey or RGBA
    upscaled = tf.io.decode_png(png, channels=0, dtype=tf.uint16).numpy()
    assert upscaled.shape == (18, 22, channels)
    colour = np.repeat(pixels[..., :1], 3, -1) if channels == 1 else rgb
    direct = loaded.signatures["predict_pixels16"](pixels=colour[None])["pixels"][0].numpy()
    reference = model_dir[1](colour[None].astype(np.float32) / 65535, training=False).numpy()[0]
    assert np.abs(direct / 65535 - reference).max() <= 1 / 65535
    assert np.any(direct % 257 != 0)  # not 8-bit levels
    if channels == 1:
        np.testing.assert_array_equal(upscaled, luma(direct))
    else:
        np.testing.assert_array_equal(upscaled[..., :3], direct)
        np.testing.assert_array_equal(upscaled[..., 3:], bicubic_levels(alpha, 2, 65535))


def top_down_bmp(pixels: np.ndarray) -> bytes:
    """A BMP whose rows are stored top to bottom (negative height in the header)."""
    bmp = bytearray(encode(pixels, "BMP"))
    height = int.from_bytes(bmp[22:26], "little", signed=True)
    bmp[22:26] = (-height).to_bytes(4, "little", signed=True)
    return bytes(bmp)


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "BMP", "GIF", "top-down BMP"])
def test_each_format_is_sized_from_its_header_before_decoding(loaded, image_format, make_image):
    def encoded(pixels):
        return top_down_bmp(pixels) if image_format == "top-down BMP" else encode(pixels, image_format)

    serve = loaded.signatures["serving_default"]
    outputs = serve(image_bytes=tf.constant([encoded(make_image(7, 5))]))
    assert (outputs["height"].numpy()[0], outputs["width"].numpy()[0]) == (14, 10)
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape("image_bytes[0] is 101 x 100 = 10100")):
        serve(image_bytes=tf.constant([encoded(make_image(101, 100))]))


BAD_BYTES = {  # case: (the second image of a request, what the error must say)
    "empty string": (b"", "image_bytes[1] is empty (0 bytes)"),
    "not an image": (b"<html>not found</html>", "image_bytes[1] is not a PNG, JPEG, BMP or GIF image"),
    "zero-sized PNG": (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(8) + b"\x08\x02\0\0\0",
                       "image_bytes[1] is an empty image (0 x 0 pixels)"),
    "over the pixel limit": (encode(np.zeros((101, 100, 3), np.uint8)),
                             "image_bytes[1] is 101 x 100 = 10100 pixels, over the limit of 10000"),
    "truncated PNG": (encode(np.full((20, 20, 3), 7, np.uint8))[:60], "Invalid PNG data"),
}


@pytest.mark.parametrize("case", sorted(BAD_BYTES))
def test_bad_encoded_images_are_invalid_argument_and_model_keeps_working(loaded, case, make_image):
    bad, message = BAD_BYTES[case]
    good = encode(make_image(5, 6))
    serve = loaded.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
        serve(image_bytes=tf.constant([good, bad]))
    assert serve(image_bytes=tf.constant([good]))["height"].numpy().tolist() == [10]


@pytest.mark.parametrize("shape, message", [
    ((1, 0, 5, 3), r"pixels\[0\] is an empty image \(0 x 5 pixels\)"),
    ((0, 5, 5, 3), r"pixels holds no images \(an empty batch\)"),
    ((2, 101, 100, 3), r"pixels\[0\] is 101 x 100 = 10100 pixels, over the limit of 10000"),
])
def test_bad_pixel_batches_are_invalid_argument(loaded, shape, message):
    predict = loaded.signatures["predict_pixels"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        predict(pixels=tf.zeros(shape, tf.uint8))
    assert predict(pixels=tf.zeros((1, 4, 4, 3), tf.uint8))["pixels"].shape == (1, 8, 8, 3)


def test_empty_batch_of_bytes_is_invalid_argument(loaded):
    with pytest.raises(tf.errors.InvalidArgumentError, match="image_bytes holds no images"):
        loaded.signatures["serving_default"](image_bytes=tf.constant([], tf.string))


def gif(frames) -> bytes:
    """An animated GIF of `frames` (uint8 RGB arrays of one size), every frame stored whole."""
    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], optimize=False)
    return buffer.getvalue()


def test_a_gif_is_sized_by_its_frames_not_by_the_screen_its_header_declares(loaded, make_image):
    """TensorFlow's decoder gives the largest frame, whatever the header's screen size says."""
    small_screen = bytearray(gif([make_image(120, 90)]))
    small_screen[6:10] = (10).to_bytes(2, "little") + (10).to_bytes(2, "little")  # 10 x 10 pixels
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape("image_bytes[0] is 120 x 90 = 10800")):
        loaded.signatures["serving_default"](image_bytes=tf.constant([bytes(small_screen)]))


def test_a_gif_whose_frames_hold_more_than_the_pixel_limit_is_refused_before_decoding(loaded, make_image):
    """Every frame is decoded, though only the first is upscaled: three 60 x 60 frames are 10,800 pixels."""
    serve = loaded.signatures["serving_default"]
    two_frames = gif([make_image(60, 60, seed=seed) for seed in range(2)])
    assert serve(image_bytes=tf.constant([two_frames]))["height"].numpy().tolist() == [120]
    message = "image_bytes[0] is a GIF whose frames hold 10800 pixels in all, over the limit of 10000"
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
        serve(image_bytes=tf.constant([gif([make_image(60, 60, seed=seed) for seed in range(3)])]))
