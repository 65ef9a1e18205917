"""ONNX and LiteRT exports (srgan_tf/deploy): their parity with the SavedModel they stand beside, their
operators, resizable inputs, and the errors for a generator they cannot hold or a missing extra."""
import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.config import GeneratorConfig
from srgan_tf.deploy import formats
from srgan_tf.deploy.export import export_portable
from srgan_tf.deploy.parity import parity
from srgan_tf.deploy.pixel_graph import UnconvertibleError
from srgan_tf.deploy.runtimes import load_portable
from tests.tiny_models import TILE_OVERLAP


def _saved_model_output(exported, pixels: np.ndarray) -> np.ndarray:
    return exported.saved_model.signatures["predict_pixels"](pixels=tf.constant(pixels[None]))["pixels"].numpy()[0]


def _test_images(set5_dir):
    """A random image (the hardest case for rounding) and a crop of a real photograph, both one window."""
    from PIL import Image

    with Image.open(os.path.join(set5_dir, "butterfly.png")) as image:
        real = np.asarray(image.convert("RGB"))[60:84, 80:110]
    return {"random": np.random.default_rng(0).integers(0, 256, (21, 30, 3), dtype=np.uint8), "real": real}


@pytest.mark.parametrize("model_format", ["onnx", "litert"])
def test_float32_exports_match_the_saved_model_within_one_grey_level(exported, model_format, set5_dir):
    model = load_portable(exported.files[(model_format, "none")])
    for name, image in _test_images(set5_dir).items():
        checked = parity(_saved_model_output(exported, image), model(image))
        assert checked.max_difference <= 1, (name, checked)


def test_float16_export_is_within_45_db_of_the_saved_model_and_int8_is_reported(exported, set5_dir):
    images = _test_images(set5_dir)
    for quantize, floor in (("float16", 45.0), ("dynamic_int8", 25.0)):
        model = load_portable(exported.files[("litert", quantize)])
        for name, image in images.items():
            checked = parity(_saved_model_output(exported, image), model(image))
            assert checked.psnr >= floor, (quantize, name, checked)


def test_onnx_export_has_only_standard_operators_and_dynamic_batch_and_size(exported):
    import onnx
    import onnxruntime

    path = exported.files[("onnx", "none")]
    model = onnx.load(path)
    operators = {node.op_type for node in model.graph.node}
    assert all(node.domain in ("", "ai.onnx") for node in model.graph.node)
    # Pixel shuffle and nearest upsampling both become DepthToSpace; LeakyReLU stays LeakyRelu.
    assert "DepthToSpace" in operators
    assert ("LeakyRelu" in operators) == (exported.config.generator == "rrdb")
    assert model.opset_import[0].version == 17
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(1).integers(0, 256, (2, 9, 13, 3), dtype=np.uint8)
    (output,) = session.run(None, {"pixels": batch})
    assert output.dtype == np.uint8 and output.shape == (2, 18, 26, 3)
    assert parity(_saved_model_output(exported, batch[1]), output[1]).max_difference <= 1


def test_litert_export_has_only_builtin_operators_and_resizes_its_input(exported):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=exported.files[("litert", "none")])
    operators = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "DEPTH_TO_SPACE" in operators and not any(op.startswith(("Flex", "Custom")) for op in operators)
    assert ("LEAKY_RELU" in operators) == (exported.config.generator == "rrdb")
    assert ("PRELU" in operators) == (exported.config.generator == "srresnet")
    details = interpreter.get_input_details()[0]
    assert list(details["shape_signature"]) == [-1, -1, -1, 3] and details["dtype"] == np.uint8
    batch = np.random.default_rng(2).integers(0, 256, (3, 7, 5, 3), dtype=np.uint8)
    interpreter.resize_tensor_input(details["index"], batch.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(details["index"], batch)
    interpreter.invoke()
    output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert output.shape == (3, 14, 10, 3)
    assert parity(_saved_model_output(exported, batch[2]), output[2]).max_difference <= 1


def test_exports_record_scale_and_tile_overlap_for_the_runtimes(exported):
    for path in exported.files.values():
        info = load_portable(path).info
        assert (info.scale, info.tile_overlap, info.generator) == (2, TILE_OVERLAP, exported.config.generator)


class _Lanczos(keras.layers.Layer):
    """An upsampler neither format has an operator for (TensorFlow's ScaleAndTranslate)."""

    def call(self, inputs):
        size = tf.shape(inputs)[1:3] * 2
        return tf.image.resize(inputs, size, method="lanczos3", antialias=True)


@pytest.mark.parametrize("model_format", ["onnx", "litert"])
def test_a_layer_the_format_cannot_hold_is_named_and_nothing_is_written(model_format, tmp_path):
    lr = keras.Input((None, None, 3))
    generator = keras.Model(lr, _Lanczos(name="lanczos_up")(keras.layers.Conv2D(3, 3, padding="same")(lr)))
    with pytest.raises(UnconvertibleError, match=r"ScaleAndTranslate.*'lanczos_up'"):
        export_portable(generator, GeneratorConfig(scale=2), str(tmp_path), 1, model_format, tile_overlap=4)
    assert os.listdir(tmp_path) == []


def test_existing_file_is_kept_unless_overwrite(exported, tmp_path):
    path = tmp_path / "1.onnx"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_portable(exported.generator, exported.config, str(tmp_path), 1, "onnx")
    assert path.read_bytes() == b"keep me"
    export_portable(exported.generator, exported.config, str(tmp_path), 1, "onnx", overwrite=True)
    assert load_portable(str(path)).info.scale == 2 and sorted(os.listdir(tmp_path)) == ["1.onnx"]


def test_a_missing_extra_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an import of an absent package meets
    with pytest.raises(formats.MissingExtraError, match=r"pip install 'srgan_tf\[onnx\]'"):
        formats.require_extra("onnx")
