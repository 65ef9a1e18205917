"""Truncated and bit-flipped TFRecord shards: named before training, skipped on request, caught mid-run."""
import os
import shutil

import pytest
import tensorflow as tf

from srgan_tf.config import DataConfig
from srgan_tf.data import pipeline
from srgan_tf.training.controller import TrainingController
from tests.training.tiny_trainers import batches, short_run_trainer


def corrupt_copy(tiny_records, tmp_path, damage):
    """The tiny training shards copied into tmp_path, the second one damaged; returns (pattern, shard)."""
    shards = pipeline.list_record_files(tiny_records["train"])
    for shard in shards:
        shutil.copy(shard, tmp_path)
    bad = str(tmp_path / os.path.basename(shards[1]))
    raw = bytearray(open(bad, "rb").read())
    if damage == "truncated":
        raw = raw[:len(raw) * 2 // 3]
    else:
        raw[len(raw) // 2] ^= 0x20  # one bit in the middle of a record
    open(bad, "wb").write(bytes(raw))
    return str(tmp_path / "train-*"), bad


@pytest.mark.parametrize("damage", ["truncated", "bit_flipped"])
def test_a_corrupt_shard_stops_the_run_before_training_and_is_named(tiny_records, tmp_path, damage):
    pattern, bad = corrupt_copy(tiny_records, tmp_path, damage)
    config = DataConfig(train_records=pattern, hr_patch_size=16, batch_size=4)
    with pytest.raises(pipeline.CorruptRecordsError, match=f"{bad} is corrupt .*--skip_corrupt_records"):
        pipeline.train_dataset_fn(config, 4, seed=0)(tf.distribute.InputContext())
    with pytest.raises(pipeline.CorruptRecordsError, match=bad):
        pipeline.eval_dataset(pattern, 4)


@pytest.mark.parametrize("damage", ["truncated", "bit_flipped"])
def test_skip_corrupt_records_uses_what_precedes_the_damage(tiny_records, tmp_path, damage):
    pattern, bad = corrupt_copy(tiny_records, tmp_path, damage)
    files = pipeline.list_record_files(pattern)
    count = pipeline.count_images(files, 16, skip_corrupt=True)
    assert list(count.corrupt) == [bad]
    assert count.total < 6  # the tiny set holds 6 images, 3 per shard; the damage cost the bad shard some
    assert count.total >= 3

    config = DataConfig(train_records=pattern, hr_patch_size=16, batch_size=4, crops_per_image=1,
                        shuffle_buffer=2, skip_corrupt_records=True)
    dataset = pipeline.train_dataset_fn(config, 4, seed=0)(tf.distribute.InputContext())
    # 8 batches of 4 patches, one per image: several passes over both shards, and no error or hang.
    assert len(list(dataset.take(8))) == 8
    images = pipeline.eval_dataset(pattern, 4, skip_corrupt=True)
    assert len(list(images)) == count.total


def test_a_shard_damaged_during_training_stops_it_with_a_clear_error(tiny_records, tmp_path):
    _, bad = corrupt_copy(tiny_records, tmp_path, "truncated")
    fixed = next(iter(batches()))
    dataset = tf.data.TFRecordDataset(bad).repeat().map(lambda record: fixed)
    trainer = short_run_trainer(tmp_path / "model")
    with pytest.raises(pipeline.CorruptRecordsError, match="became unreadable during training.*truncated record"):
        TrainingController(trainer, dataset).run()
