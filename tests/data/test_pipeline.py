"""The tf.data pipelines: training patches and 8-bit LR, seeds, sharding, tf.data service, eval images."""
import io
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from srgan_tf.common import imaging
from srgan_tf.config import DataConfig
from srgan_tf.data import pipeline, schema


def write_shards(directory, shards, split="train", gzip=False):
    """Writes one shard per list of uint8 images (keys "shard/index"); returns a glob matching them."""
    for s, images in enumerate(shards):
        path = os.path.join(str(directory), schema.shard_name(split, s, len(shards), gzip))
        with tf.io.TFRecordWriter(path, "GZIP" if gzip else "") as writer:
            for i, pixels in enumerate(images):
                png = io.BytesIO()
                Image.fromarray(pixels).save(png, format="PNG")
                writer.write(schema.serialize_example(png.getvalue(), "png", *pixels.shape[:2], f"{s}/{i}"))
    return os.path.join(str(directory), f"{split}-*")


def flat(colour, size=40):
    """A constant-colour image: every patch cut from it names it."""
    return np.full((size, size, 3), colour, np.uint8)


def colour_ids(hr_batch):
    """The id (red channel value) of the constant image each patch of a batch was cut from."""
    pixels = np.round(np.asarray(hr_batch) * 255).astype(int)
    assert (pixels == pixels[:, :1, :1, :]).all(), "a patch mixes images"
    return pixels[:, 0, 0, 0].tolist()


def symmetries(patch):
    """The 8 symmetries of a square patch, as (flip rows, flip columns, transpose) -> array."""
    out = {}
    for v in (0, 1):
        for h in (0, 1):
            for t in (0, 1):
                p = patch[::-1] if v else patch
                p = p[:, ::-1] if h else p
                out[(v, h, t)] = p.transpose(1, 0, 2) if t else p
    return out


def take(dataset, count):
    return list(dataset.take(count).as_numpy_iterator())


def test_training_batches_are_symmetric_crops_with_their_bicubic_lr(tmp_path, make_image):
    images = [make_image(48, 56, seed=s) for s in range(3)]
    config = DataConfig(train_records=write_shards(tmp_path, [images[:2], images[2:]]),
                        hr_patch_size=32, batch_size=8, crops_per_image=4, shuffle_buffer=16)
    dataset = pipeline.train_dataset_fn(config, 4, seed=7)(tf.distribute.InputContext())
    assert [s.shape.as_list() for s in dataset.element_spec] == [[8, 8, 8, 3], [8, 32, 32, 3]]
    crops = {image[y:y + 32, x:x + 32].tobytes()
             for image in images for y in range(48 - 31) for x in range(56 - 31)}
    seen = set()
    for lr, hr in take(dataset, 8):
        assert lr.dtype == hr.dtype == np.float32
        assert 0.0 <= hr.min() and hr.max() <= 1.0 and 0.0 <= lr.min() and lr.max() <= 1.0
        # Rounded to 8 bits, as LR read from files (evaluation's and serving's) is.
        np.testing.assert_allclose(lr, imaging.quantize(imaging.bicubic_downscale(hr, 4)).numpy(), atol=1e-6)
        for patch in np.round(hr * 255).astype(np.uint8):
            found = [s for s, p in symmetries(patch).items() if np.ascontiguousarray(p).tobytes() in crops]
            assert found, "a patch is not a flipped/rotated crop of any image"
            seen.add(found[0])
    assert len(seen) == 8, f"only these symmetries occurred in 64 patches: {sorted(seen)}"


def test_a_seed_makes_the_pipeline_repeatable(tmp_path, make_image):
    pattern = write_shards(tmp_path, [[make_image(40, 40, seed=s)] for s in range(4)])

    def batches(seed):
        config = DataConfig(train_records=pattern, hr_patch_size=16, batch_size=4, crops_per_image=2)
        dataset = pipeline.train_dataset_fn(config, 2, seed=seed)(tf.distribute.InputContext())
        return np.stack([hr for _, hr in take(dataset, 5)])

    first = batches(3)
    np.testing.assert_array_equal(first, batches(3))
    assert not np.array_equal(first, batches(4))


def test_random_shrink_keeps_the_patch_inside_and_draws_factors_from_the_whole_range():
    ramp = np.broadcast_to(np.arange(200, dtype=np.uint8)[None, :, None], (100, 200, 3))
    factors = []
    for seed in range(40):
        shrunk = pipeline.random_shrink(tf.constant(ramp), 0.5, 40, tf.constant([seed, 0])).numpy()
        assert shrunk.dtype == np.uint8 and shrunk.shape[0] >= 40
        factors.append(shrunk.shape[0] / 100)
        np.testing.assert_allclose(shrunk.shape[1] / 200, factors[-1], atol=0.01)
        middle = shrunk[0, 10:-10, 0].astype(float)  # the ramp's slope grows as the image shrinks
        np.testing.assert_allclose(np.diff(middle).mean(), 1 / factors[-1], rtol=0.05)
    assert min(factors) < 0.6 and max(factors) > 0.9 and all(0.5 <= f <= 1.0 for f in factors)
    # An image whose short side is the patch's is never shrunk below it.
    tight = pipeline.random_shrink(tf.constant(ramp[:, :60]), 0.5, 60, tf.constant([1, 0]))
    assert tight.shape[:2] == (100, 60)


def test_training_images_are_shrunk_with_min_image_scale_and_stay_repeatable(tmp_path):
    ramp = np.broadcast_to(np.arange(0, 192, 2, dtype=np.uint8)[None, :, None], (96, 96, 3)).copy()
    pattern = write_shards(tmp_path, [[ramp]])

    def slopes(min_image_scale, seed):
        config = DataConfig(train_records=pattern, hr_patch_size=32, batch_size=8, crops_per_image=8,
                            min_image_scale=min_image_scale)
        dataset = pipeline.train_dataset_fn(config, 4, seed=seed)(tf.distribute.InputContext())
        hr = np.concatenate([hr for _, hr in take(dataset, 4)]) * 255
        return np.maximum(np.abs(np.diff(hr, axis=1)).mean(axis=(1, 2, 3)),  # the ramp runs along rows or
                          np.abs(np.diff(hr, axis=2)).mean(axis=(1, 2, 3)))  # columns, after a symmetry

    np.testing.assert_allclose(slopes(1.0, 0), 2.0, atol=0.01)
    shrunk = slopes(0.5, 0)
    assert shrunk.min() > 1.95 and shrunk.max() < 4.1 and shrunk.max() > 2.5, shrunk
    np.testing.assert_array_equal(shrunk, slopes(0.5, 0))


def test_images_smaller_than_the_patch_are_skipped_and_counted(tmp_path):
    shards = [[flat(10, 40), flat(20, 12)], [flat(30, 8), flat(40, 40)], [flat(50, 40)]]
    small_ones = [[flat(60, 12)], [flat(70, 20)]]
    config = DataConfig(train_records=write_shards(tmp_path, shards), hr_patch_size=32, batch_size=4,
                        shuffle_buffer=8)
    count = pipeline.count_images(pipeline.list_record_files(config.train_records), 32)
    assert (count.smaller, count.total) == (2, 5)
    ids = {i for _, hr in take(pipeline.train_dataset_fn(config, 4, seed=1)(tf.distribute.InputContext()), 10)
           for i in colour_ids(hr)}
    assert ids == {10, 40, 50}
    (tmp_path / "small").mkdir()
    too_small = DataConfig(train_records=write_shards(tmp_path / "small", small_ones),
                           hr_patch_size=32, batch_size=4)
    with pytest.raises(ValueError, match="--train_records: input pipeline 1 of 1 needs at least 1 image"):
        pipeline.train_dataset_fn(too_small, 4)(tf.distribute.InputContext())


def test_missing_training_records_name_the_flag_and_pattern(tmp_path):
    pattern = str(tmp_path / "nothing-*.tfrecord")
    message = f"--train_records='{pattern},{pattern}x' matches no files"
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        pipeline.train_dataset_fn(DataConfig(train_records=f"{pattern},{pattern}x"), 4)


def test_gzip_and_plain_shards_are_read_together(tmp_path):
    write_shards(tmp_path, [[flat(10)], [flat(20)]], gzip=True)
    write_shards(tmp_path, [[flat(30)]])
    pattern = f"{tmp_path}/train-*.tfrecord.gz, {tmp_path}/train-*.tfrecord"
    config = DataConfig(train_records=pattern, hr_patch_size=8, batch_size=3, shuffle_buffer=1)
    dataset = pipeline.train_dataset_fn(config, 2, seed=0)(tf.distribute.InputContext())
    ids = {i for _, hr in take(dataset, 4) for i in colour_ids(hr)}
    assert ids == {10, 20, 30}
    assert sorted(int(e["hr"][0, 0, 0, 0] * 255) for e in pipeline.eval_dataset(pattern, 2)) == [10, 20, 30]


def test_eval_images_are_mod_cropped_with_8bit_bicubic_lr(tmp_path, make_image):
    images = [make_image(50, 37, seed=1), make_image(44, 60, seed=2), make_image(3, 3, seed=3)]
    pattern = write_shards(tmp_path, [images], split="val")
    elements = list(pipeline.eval_dataset(pattern, scale=4))
    assert [e["key"].numpy().tolist() for e in elements] == [[b"0/0"], [b"0/1"]]  # the 3x3 image is left out
    for element, pixels in zip(elements, images):
        hr, lr = element["hr"].numpy(), element["lr"].numpy()
        height, width = pixels.shape[0] // 4 * 4, pixels.shape[1] // 4 * 4
        assert hr.shape == (1, height, width, 3) and lr.shape == (1, height // 4, width // 4, 3)
        np.testing.assert_array_equal(np.round(hr[0] * 255), pixels[:height, :width])
        np.testing.assert_allclose(lr, imaging.quantize(imaging.bicubic_downscale(hr, 4)).numpy(), atol=1e-7)
        np.testing.assert_allclose(lr * 255, np.round(lr * 255), atol=1e-4)
    assert len(list(pipeline.eval_dataset(pattern, scale=4, max_images=1))) == 1


def test_two_replicas_get_distinct_examples(tmp_path):
    ids = [10, 11, 20, 21, 30, 31, 40, 41]
    shards = [[flat(i) for i in ids[s:s + 2]] for s in range(0, 8, 2)]
    config = DataConfig(train_records=write_shards(tmp_path, shards), hr_patch_size=32, batch_size=8,
                        shuffle_buffer=1)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    batches = iter(strategy.distribute_datasets_from_function(pipeline.train_dataset_fn(config, 4, seed=5)))
    per_replica = [colour_ids(hr) for hr in strategy.experimental_local_results(next(batches)[1])]
    assert [len(ids) for ids in per_replica] == [4, 4]
    assert not set(per_replica[0]) & set(per_replica[1])
    assert sorted(per_replica[0] + per_replica[1]) == ids


@pytest.mark.parametrize("num_files", [4, 1])  # shard files, or shard examples when files are too few
def test_input_pipelines_read_disjoint_parts_of_the_data(tmp_path, num_files):
    images = [flat(10 + i) for i in range(8)]
    pattern = write_shards(tmp_path, [images[f::num_files] for f in range(num_files)])
    config = DataConfig(train_records=pattern, hr_patch_size=32, batch_size=4, shuffle_buffer=4)
    dataset_fn = pipeline.train_dataset_fn(config, 4, seed=2)
    seen = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                             num_replicas_in_sync=2)
        seen.append({i for _, hr in take(dataset_fn(context), 8) for i in colour_ids(hr)})
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(10, 18))


def test_training_lr_is_rounded_to_8_bits_unless_asked_not_to(tiny_records):
    for quantize, expect_levels in ((True, True), (False, False)):
        config = DataConfig(train_records=tiny_records["train"], hr_patch_size=16, batch_size=4,
                            quantize_lr=quantize)
        lr, _ = next(iter(pipeline.train_dataset_fn(config, 4, seed=0)(tf.distribute.InputContext())))
        levels = lr.numpy() * 255.0
        assert np.allclose(levels, np.round(levels), atol=1e-4) == expect_levels


def test_a_seeded_run_resuming_without_its_input_position_does_not_replay_its_first_batches(tiny_records):
    config = DataConfig(train_records=tiny_records["train"], hr_patch_size=16, batch_size=4)

    def first_batch(resume_step):
        dataset_fn = pipeline.train_dataset_fn(config, 4, seed=0, resume_step=resume_step)
        lr, hr = next(iter(dataset_fn(tf.distribute.InputContext())))
        return hr.numpy()

    np.testing.assert_array_equal(first_batch(0), first_batch(0))
    assert not np.array_equal(first_batch(0), first_batch(500))


def test_the_input_pipeline_runs_on_tf_data_service_workers_without_repeats(tiny_records):
    # Unseeded, as in a run without --seed: a global seed left by an earlier test in this process would fix
    # the random ops' seeds in the graph both workers receive, and they would cut the same crops.
    tf.random.set_seed(None)
    service = tf.data.experimental.service
    dispatcher = service.DispatchServer()
    address = dispatcher.target.split("://")[1]
    workers = [service.WorkerServer(service.WorkerConfig(dispatcher_address=address)) for _ in range(2)]
    config = DataConfig(train_records=tiny_records["train"], hr_patch_size=16, batch_size=4,
                        data_service=dispatcher.target)
    dataset = pipeline.train_dataset_fn(config, 4)(tf.distribute.InputContext())
    batches = [hr.numpy() for _, hr in dataset.take(40)]
    for server in workers + [dispatcher]:
        server.stop()

    assert all(batch.shape == (4, 16, 16, 3) and 0 <= batch.min() <= batch.max() <= 1 for batch in batches)
    # Unseeded, each worker crops its own way. (Seeded, both made the same batches here: 22 and 29
    # distinct of 40 in two runs; that is why the pipeline refuses a seed on the service.)
    assert len({batch.tobytes() for batch in batches}) == 40


def test_a_seeded_input_pipeline_on_tf_data_service_is_refused(tiny_records):
    config = DataConfig(train_records=tiny_records["train"], data_service="grpc://localhost:1")
    with pytest.raises(ValueError, match="--data_service=grpc://localhost:1 needs an unseeded input"):
        pipeline.train_dataset_fn(config, 4, seed=1)
