"""The serving signatures' input checks: grey and RGBA in, sizes from headers, bad requests named."""
import re

import numpy as np
import pytest
import tensorflow as tf

from tests.tiny_models import encode


def test_grey_and_rgba_inputs_come_out_rgb(loaded, make_image):
    rgb = make_image(10, 12, seed=5)
    for mode in ("L", "LA", "RGBA", "P"):
        encoded = encode(rgb, "PNG", mode)
        expected = tf.io.decode_png(encoded, channels=3)  # grey replicated, alpha dropped
        direct = loaded.signatures["predict_pixels"](pixels=expected[None])["pixels"][0]
        png = loaded.signatures["serving_default"](image_bytes=tf.constant([encoded]))["image_bytes"][0]
        assert tf.io.decode_png(png).shape == (20, 24, 3), mode
        np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), direct.numpy())


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
