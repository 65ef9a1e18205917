"""Export for TF Serving: signatures, equality with Keras, tiling, bad requests, versions and warm-up."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from srgan_tf.serving import saved_model
from srgan_tf.config import ModelConfig
from srgan_tf.modeling.generator import build_generator
from srgan_tf.modeling.generator import receptive_radius
from srgan_tf.serving.tiling import TilingConfig, tiling_for, upscale_in_tiles
from tests.tiny_models import (MAX_PIXELS, STEP, TILE_OVERLAP, TILE_SIZE, TINY, encode, export_tiny, keras_upscale,
                         make_model_dir, run_like_tf_serving, saved_model_cli)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model"))
    return path, make_model_dir(path)


@pytest.fixture(scope="module")
def version_dir(model_dir, tmp_path_factory):
    return export_tiny(model_dir[1], str(tmp_path_factory.mktemp("exports")))


@pytest.fixture(scope="module")
def loaded(version_dir):
    return tf.saved_model.load(version_dir)


def predict_request(signature: str, name: str, value: np.ndarray) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = signature
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def call(loaded, request: predict_pb2.PredictRequest) -> dict:
    """Calls a signature with a request's tensors and returns outputs as a response would carry them."""
    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    outputs = loaded.signatures[request.model_spec.signature_name](**inputs)
    return {name: tf.make_ndarray(tf.make_tensor_proto(value.numpy())) for name, value in outputs.items()}


def test_saved_model_cli_lists_both_signatures(version_dir):
    shown = subprocess.run([saved_model_cli(), "show", "--all", "--dir", version_dir],
                           capture_output=True, text=True, check=True).stdout
    serving_default = shown.split("signature_def['serving_default']")[1]
    predict_pixels = shown.split("signature_def['predict_pixels']")[1].split("signature_def[")[0]
    assert "inputs['image_bytes']" in serving_default and "DT_STRING" in serving_default
    for output in ("outputs['image_bytes']", "outputs['height']", "outputs['width']"):
        assert output in serving_default
    assert "inputs['pixels']" in predict_pixels and "outputs['pixels']" in predict_pixels
    assert predict_pixels.count("DT_UINT8") == 2 and predict_pixels.count("shape: (-1, -1, -1, 3)") == 2


def test_both_signatures_take_predict_request_tensors(loaded, version_dir, model_dir, make_image):
    """Through tf.saved_model.load and through a TF1 session (TF Serving's way of restoring variables)."""
    generator = model_dir[1]
    small, wide = make_image(9, 11, seed=1), make_image(6, 15, seed=2)
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = "serving_default"
    request.inputs["image_bytes"].CopyFrom(
        tf.make_tensor_proto([encode(small), encode(wide, "JPEG")], dtype=tf.string))
    for outputs in (call(loaded, request), run_like_tf_serving(version_dir, request)):
        assert outputs["height"].tolist() == [18, 12] and outputs["width"].tolist() == [22, 30]
        first = tf.io.decode_png(outputs["image_bytes"][0]).numpy()
        np.testing.assert_allclose(first / 255.0, keras_upscale(generator, small), atol=1 / 255)
        second = tf.io.decode_png(outputs["image_bytes"][1]).numpy()
        assert second.shape == (12, 30, 3)

    request = predict_request("predict_pixels", "pixels", np.stack([small, make_image(9, 11, seed=3)]))
    for outputs in (call(loaded, request), run_like_tf_serving(version_dir, request)):
        assert outputs["pixels"].dtype == np.uint8 and outputs["pixels"].shape == (2, 18, 22, 3)
        reference = keras_upscale(generator, small)
        np.testing.assert_allclose(outputs["pixels"][0] / 255.0, reference, atol=1 / 255)


def test_export_equals_keras_generator_on_a_tiled_image(loaded, model_dir, make_image):
    pixels = make_image(80, 70)  # 3 x 3 tiles of 32 pixels
    assert pixels.shape[0] > 2 * TILE_SIZE and pixels.shape[1] > 2 * TILE_SIZE
    upscaled = loaded.signatures["predict_pixels"](pixels=tf.constant(pixels[None]))["pixels"].numpy()[0]
    reference = keras_upscale(model_dir[1], pixels)
    assert upscaled.shape == reference.shape == (160, 140, 3)
    assert np.abs(upscaled / 255.0 - reference).max() <= 1 / 255


def tiled(generator, pixels: np.ndarray, tiling: TilingConfig) -> np.ndarray:
    def upscale_window(window):
        return generator(tf.cast(window, tf.float32)[None] / 255.0, training=False)[0]

    return upscale_in_tiles(upscale_window, tf.constant(pixels), TINY.scale, tiling, tf.float32).numpy()


def test_tiles_with_receptive_field_overlap_equal_untiled_and_smaller_overlaps_do_not(model_dir, make_image):
    generator, pixels = model_dir[1], make_image(61, 75, seed=4)
    reference = keras_upscale(generator, pixels)
    assert 2 * receptive_radius(TINY) == TILE_OVERLAP
    exact = tiled(generator, pixels, tiling_for(TINY, tile_size=TILE_SIZE))
    assert np.abs(exact - reference).max() < 1e-4
    seams = tiled(generator, pixels, TilingConfig(TILE_SIZE, 0))
    assert np.abs(seams - reference).max() > 1 / 255  # the comparison above can fail


@pytest.mark.parametrize("variant", [
    dict(generator_batch_norm=False, bicubic_residual=True),
    dict(generator_batch_norm=False, residual_scaling=0.1),
])
def test_every_generator_variant_exports_and_tiles_exactly(variant, tmp_path, make_image):
    config = ModelConfig(**{**TINY.__dict__, **variant})
    generator = build_generator(config)
    rng = np.random.default_rng(0)  # no zero-initialised layer: every path must reach the output
    generator.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32) for w in generator.get_weights()])
    path = saved_model.export_saved_model(generator, config, str(tmp_path), 1, tile_size=TILE_SIZE)
    pixels = make_image(70, 66, seed=3)
    upscaled = tf.saved_model.load(path).signatures["predict_pixels"](pixels=tf.constant(pixels[None]))
    reference = np.clip(keras_upscale(generator, pixels), 0, 1)
    assert np.abs(upscaled["pixels"].numpy()[0] / 255.0 - reference).max() <= 1 / 255
    seams = np.clip(tiled(generator, pixels, TilingConfig(TILE_SIZE, 0)), 0, 1)
    assert np.abs(seams - reference).max() > 2 / 255  # tiles without overlap differ: the check above can fail


def test_tile_settings_are_checked(model_dir, tmp_path):
    with pytest.raises(ValueError, match="--tile_overlap=32 must be >= 0 and smaller than --tile_size=32"):
        TilingConfig(32, 32)
    with pytest.raises(ValueError, match="--tile_size=16 leaves no room for the 20-pixel overlap"):
        export_tiny(model_dir[1], str(tmp_path), tile_size=16, tile_overlap=None)


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


def test_warmup_requests_parse_and_replay_through_tf_serving_loading(version_dir):
    path = os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests")
    logs = [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(path)]
    signatures = sorted(log.predict_log.request.model_spec.signature_name for log in logs)
    assert signatures == ["predict_pixels", "serving_default"]
    for log in logs:
        outputs = run_like_tf_serving(version_dir, log.predict_log.request)
        assert outputs and all(value.shape[0] == 1 for value in outputs.values())


def test_versions_are_written_atomically_and_never_overwritten_silently(model_dir, tmp_path, monkeypatch):
    generator, exports = model_dir[1], str(tmp_path)
    first = export_tiny(generator, exports, version=3)
    assert first == os.path.join(exports, "3") and sorted(os.listdir(exports)) == ["3"]
    with open(os.path.join(first, "saved_model.pb"), "rb") as f:
        original = f.read()

    with pytest.raises(FileExistsError, match=f"{first} already exists; pass --overwrite"):
        export_tiny(generator, exports, version=3)

    def fail(path):
        assert os.path.basename(path).startswith(".tmp-3-")  # a name TF Serving ignores
        raise OSError("disk full")

    monkeypatch.setattr(saved_model, "_write_warmup_requests", fail)
    with pytest.raises(OSError, match="disk full"):
        export_tiny(generator, exports, version=3, overwrite=True)
    assert sorted(os.listdir(exports)) == ["3"]  # no half-written version, no leftovers
    with open(os.path.join(first, "saved_model.pb"), "rb") as f:
        assert f.read() == original
    monkeypatch.undo()

    assert export_tiny(generator, exports, version=3, overwrite=True) == first
    assert sorted(os.listdir(exports)) == ["3"]
    assert tf.saved_model.contains_saved_model(first)

    with pytest.raises(ValueError, match="--version=-1"):
        export_tiny(generator, exports, version=-1)


def test_command_line_exports_the_checkpoint_step_as_version(model_dir, tmp_path):
    exports = str(tmp_path / "exports")
    command = [sys.executable, "-m", "srgan_tf.export", f"--model_dir={model_dir[0]}",
               f"--export_dir={exports}", f"--tile_size={TILE_SIZE}", f"--max_pixels={MAX_PIXELS}"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.listdir(exports) == [str(STEP)]
    assert f"to {os.path.join(exports, str(STEP))}" in result.stdout
