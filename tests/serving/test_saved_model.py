"""The SavedModel for TF Serving: its signatures, equal to Keras, warm-up requests, atomic versions."""
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from srgan_tf.serving import saved_model
from tests.tiny_models import (TILE_SIZE, encode, export_tiny, keras_upscale, run_like_tf_serving,
                               saved_model_cli)


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


@pytest.mark.slow
def test_saved_model_cli_lists_the_signatures(version_dir):
    shown = subprocess.run([saved_model_cli(), "show", "--all", "--dir", version_dir],
                           capture_output=True, text=True, check=True).stdout
    serving_default = shown.split("signature_def['serving_default']")[1]
    predict_pixels = shown.split("signature_def['predict_pixels']")[1].split("signature_def[")[0]
    assert "inputs['image_bytes']" in serving_default and "DT_STRING" in serving_default
    for output in ("outputs['image_bytes']", "outputs['height']", "outputs['width']"):
        assert output in serving_default
    assert "inputs['pixels']" in predict_pixels and "outputs['pixels']" in predict_pixels
    assert predict_pixels.count("DT_UINT8") == 2 and predict_pixels.count("shape: (-1, -1, -1, 3)") == 2
    predict_pixels16 = shown.split("signature_def['predict_pixels16']")[1].split("signature_def[")[0]
    assert predict_pixels16.count("DT_UINT16") == 2 and predict_pixels16.count("shape: (-1, -1, -1, 3)") == 2


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


def test_warmup_requests_parse_and_replay_through_tf_serving_loading(version_dir):
    path = os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests")
    logs = [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(path)]
    signatures = sorted(log.predict_log.request.model_spec.signature_name for log in logs)
    assert signatures == ["predict_pixels", "predict_pixels16", "serving_default"]
    for log in logs:
        outputs = run_like_tf_serving(version_dir, log.predict_log.request)
        assert outputs and all(value.shape[0] == 1 for value in outputs.values())


@pytest.mark.slow
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
