"""What an evaluation upscales with: SavedModel versions against the checkpoint, bad arguments named."""
import shutil

import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.common import imaging
from srgan_tf.evaluation.upscalers import Upscaler, load_upscaler, self_ensemble


class PixelModule(tf.Module):
    """A SavedModel with a `predict_pixels` signature whose keys are not the serving module's."""

    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="lr_pixels")])
    def predict_pixels(self, lr_pixels):
        sr = imaging.to_uint8(self.generator(imaging.to_float(lr_pixels), training=False))
        return {"upscaled": sr, "height": tf.shape(sr)[1]}


def test_saved_model_matches_checkpoint(tmp_path, tiny_model, make_image):
    model_dir, generator = tiny_model
    export_dir = str(tmp_path / "export" / "7")
    module = PixelModule(generator)
    tf.saved_model.save(module, export_dir, signatures={"predict_pixels": module.predict_pixels})
    lr = make_image(9, 13)
    assert load_upscaler(export_dir, 4).name == export_dir
    shutil.copytree(export_dir, tmp_path / "export" / "10")
    from_export = load_upscaler(str(tmp_path / "export"), 4)  # a TF Serving base directory: latest version
    assert from_export.name == str(tmp_path / "export" / "10")
    from_checkpoint = load_upscaler(model_dir, 4)
    np.testing.assert_array_equal(from_export(lr), from_checkpoint(lr))
    assert from_export.run16 is None  # exported without `predict_pixels16`
    sixteen_bit = from_checkpoint.upscale16(lr.astype(np.uint16) * 257)  # the same levels, in 16 bits
    assert sixteen_bit.dtype == np.uint16
    assert np.abs(sixteen_bit / 257.0 - from_checkpoint(lr)).max() <= 0.5 + 1 / 257

    other_dir = str(tmp_path / "other")
    tf.saved_model.save(module, other_dir, signatures={"serving_default": module.predict_pixels})
    with pytest.raises(ValueError, match=f"{other_dir}: the SavedModel has no 'predict_pixels'"):
        load_upscaler(other_dir, 4)


def test_model_argument_errors_are_named(tiny_model, make_image):
    model_dir, _ = tiny_model
    with pytest.raises(ValueError, match="x4 generator, but the evaluation is at x2"):
        load_upscaler(model_dir, 2)
    with pytest.raises(FileNotFoundError, match="/no/such/model: no such SavedModel"):
        load_upscaler("/no/such/model", 4)
    same_size = Upscaler("identity", 4, lambda lr: lr)
    with pytest.raises(RuntimeError, match="identity turned a"):
        same_size(make_image(8, 8))
    with pytest.raises(ValueError, match="identity has no 16-bit path"):
        same_size.upscale16(make_image(8, 8).astype(np.uint16))


def _nearest_x2(lr):
    return lr.repeat(2, axis=0).repeat(2, axis=1)


def test_self_ensemble_turns_every_output_back():
    """A model that commutes with flips and rotations (nearest neighbour) gives its own output: each of the 8
    outputs was turned back to the input's orientation (a non-square image would not even fit otherwise)."""
    lr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    ensemble = self_ensemble(Upscaler("nearest", 2, _nearest_x2, label="nearest"))
    np.testing.assert_array_equal(ensemble(lr), _nearest_x2(lr))
    assert (ensemble.name, ensemble.label) == ("nearest+", "nearest+")


def test_self_ensemble_averages_what_depends_on_orientation():
    """A model that brightens its output's top-left pixel by 80: averaged over the 8 orientations, each of the
    4 corners gets 2 of them, +20."""
    def marked(lr):
        sr = _nearest_x2(lr)
        sr[0, 0] += 80
        return sr

    lr = np.full((3, 4, 3), 100, np.uint8)
    sr = self_ensemble(Upscaler("marked", 2, marked))(lr)
    expected = np.full((6, 8, 3), 100, np.uint8)
    expected[[0, 0, -1, -1], [0, -1, 0, -1]] = 120
    np.testing.assert_array_equal(sr, expected)
