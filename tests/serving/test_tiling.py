"""Overlapping tiles: exact for every generator variant at the receptive-field overlap, settings checked."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from srgan_tf.config import GeneratorConfig
from srgan_tf.modeling.generator import build_generator, receptive_radius
from srgan_tf.serving import saved_model
from srgan_tf.serving.tiling import (DEFAULT_MAX_OVERLAP, TilingConfig, _axis_plan, tiling_for,
                                     upscale_in_tiles)
from tests.tiny_models import TILE_OVERLAP, TILE_SIZE, TINY, export_tiny, keras_upscale


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
    dict(generator_batch_norm=False, bicubic_residual=True, light_upsampler=True),
    dict(generator="rrdb", growth_channels=4),
])
def test_every_generator_variant_exports_and_tiles_exactly(variant, tmp_path, make_image):
    config = dataclasses.replace(TINY, **variant)
    generator = build_generator(config)
    rng = np.random.default_rng(0)  # no zero-initialised layer: every path must reach the output
    generator.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32) for w in generator.get_weights()])
    # Tiles sharing twice the receptive radius (derived from the layers; RRDB's exceeds the default cap).
    path = saved_model.export_saved_model(generator, config, str(tmp_path), 1, tile_size=64,
                                          tile_overlap=2 * receptive_radius(config))
    pixels = make_image(70, 66, seed=3)
    upscaled = tf.saved_model.load(path).signatures["predict_pixels"](pixels=tf.constant(pixels[None]))
    reference = np.clip(keras_upscale(generator, pixels), 0, 1)
    assert np.abs(upscaled["pixels"].numpy()[0] / 255.0 - reference).max() <= 1 / 255
    seams = np.clip(tiled(generator, pixels, TilingConfig(TILE_SIZE, 0)), 0, 1)
    assert np.abs(seams - reference).max() > 2 / 255  # tiles without overlap differ: the check above can fail


def test_tile_settings_are_checked(model_dir, tmp_path):
    with pytest.raises(ValueError, match="--tile_overlap=32 must be >= 0 and smaller than --tile_size=32"):
        TilingConfig(32, 32)
    with pytest.raises(ValueError, match="--tile_size=16 leaves no room for the default 20-pixel overlap"):
        export_tiny(model_dir[1], str(tmp_path), tile_size=16, tile_overlap=None)


@pytest.mark.parametrize("tile_size,tile_overlap", [(384, 32), (256, 80), (64, 20), (33, 32)])
def test_windows_are_few_equal_no_larger_than_a_tile_and_overlap_enough(tile_size, tile_overlap):
    for length in [1, 31, 64, 100, 255, 256, 257, 511, 512, 513, 1000]:
        window, starts, cuts = (t.numpy() for t in _axis_plan(tf.constant(length), tile_size, tile_overlap))
        stride = tile_size - tile_overlap
        assert len(starts) == 1 + max(0, -(-(length - tile_size) // stride))  # no more windows than needed
        assert window <= min(length, tile_size) and starts[0] == 0 and starts[-1] + window == length
        assert np.all(starts[:-1] + window - starts[1:] >= tile_overlap)  # neighbours share the overlap
        assert cuts[0] == 0 and cuts[-1] == length and np.all(np.diff(cuts) > 0)
        assert np.all(cuts[:-1] >= starts) and np.all(cuts[1:] <= starts + window)


def test_windows_of_a_very_long_side_start_inside_it():
    window, starts, cuts = (t.numpy() for t in _axis_plan(tf.constant(1_000_000), 256, 32))
    assert window == 256 and starts[0] == 0 and starts[-1] == 1_000_000 - 256 and np.all(np.diff(starts) > 0)


def test_the_default_overlap_is_twice_the_receptive_radius_up_to_its_cap():
    assert tiling_for(TINY).tile_overlap == 2 * receptive_radius(TINY) < DEFAULT_MAX_OVERLAP
    paper = GeneratorConfig()
    assert 2 * receptive_radius(paper) > DEFAULT_MAX_OVERLAP == tiling_for(paper).tile_overlap


def test_an_image_a_little_larger_than_a_tile_costs_a_little_more_than_one_tile():
    window, starts, _ = _axis_plan(tf.constant(512), 384, 32)
    assert (int(window), starts.numpy().tolist()) == (272, [0, 240])  # 544 pixels computed, not 768
