"""A tiny SRResNet (PReLU, pixel shuffle) and a tiny RRDBNet (LeakyReLU, nearest upsampling), each with its
SavedModel, exported once per test session to every portable format."""
import dataclasses

import keras
import pytest
import tensorflow as tf

from srgan_tf.config import GeneratorConfig
from srgan_tf.deploy.export import export_portable
from srgan_tf.modeling.generator import build_generator
from srgan_tf.serving.saved_model import export_saved_model
from tests.tiny_models import RRDB_GENERATOR, TILE_OVERLAP, TILE_SIZE, TINY

NETWORKS = {"srresnet": TINY, "rrdb": GeneratorConfig(generator="rrdb", scale=2, **RRDB_GENERATOR)}
EXPORTS = [("onnx", "none"), ("litert", "none"), ("litert", "float16"), ("litert", "dynamic_int8")]


@dataclasses.dataclass
class Exported:
    generator: keras.Model
    config: GeneratorConfig
    saved_model: object  # the loaded SavedModel: the reference every export is compared with
    files: dict  # (format, quantize) -> path


@pytest.fixture(scope="package", params=sorted(NETWORKS))
def exported(request, tmp_path_factory) -> Exported:
    config = NETWORKS[request.param]
    keras.utils.set_random_seed(1)
    generator = build_generator(config)
    root = tmp_path_factory.mktemp(f"deploy_{request.param}")
    tiling = dict(tile_size=TILE_SIZE, tile_overlap=TILE_OVERLAP)
    saved_model = export_saved_model(generator, config, str(root), 1, **tiling)
    files = {(model_format, quantize): export_portable(generator, config, str(root), 1, model_format,
                                                        quantize=quantize, **tiling)[0]
             for model_format, quantize in EXPORTS}
    return Exported(generator, config, tf.saved_model.load(saved_model), files)

