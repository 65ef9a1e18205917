"""The tiny model the serving tests share: its model directory, one export of it, the loaded SavedModel."""
import pytest
import tensorflow as tf

from tests.tiny_models import export_tiny, make_model_dir


@pytest.fixture(scope="package")
def model_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model"))
    return path, make_model_dir(path)


@pytest.fixture(scope="package")
def version_dir(model_dir, tmp_path_factory):
    return export_tiny(model_dir[1], str(tmp_path_factory.mktemp("exports")))


@pytest.fixture(scope="package")
def loaded(version_dir):
    return tf.saved_model.load(version_dir)
