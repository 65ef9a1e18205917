"""Writing a split: no usable image leaves the old split in place, a rewrite replaces it (writer.py)."""
import os

import pytest

from srgan_tf.data import schema
from srgan_tf.data.sources import SourceError
from srgan_tf.data.writer import write_records
from tests.data.record_files import read_split, save


def test_empty_results_are_errors_and_leave_the_old_split_in_place(tmp_path, make_image):
    out = str(tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="No files found .*empty"):
        write_records("folder", str(tmp_path / "empty"), out)
    save(str(tmp_path / "good" / "a.png"), make_image(16, 16))
    write_records("folder", str(tmp_path / "good"), out)
    before = sorted(os.listdir(out))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(SourceError, match="No usable image .*broken.jpg"):
        write_records("folder", str(tmp_path / "bad"), out)
    assert sorted(os.listdir(out)) == before
    assert list(read_split(out, "train")[1]) == ["a.png"]


def test_rewriting_a_split_replaces_it_cleanly(tmp_path, make_image):
    out = str(tmp_path / "out")
    for i in range(5):
        save(str(tmp_path / "first" / f"{i}.png"), make_image(16, 16, seed=i))
    for i in range(3):
        save(str(tmp_path / "second" / f"new{i}.png"), make_image(16, 16, seed=10 + i))
    write_records("folder", str(tmp_path / "first"), out, num_shards=4)
    other_split = os.path.join(out, schema.shard_name("val", 0, 1))
    with open(other_split, "wb") as f:
        f.write(b"another split's shard")

    manifest = write_records("folder", str(tmp_path / "second"), out, num_shards=4, gzip=True)["train"]

    assert manifest["shards"] == [schema.shard_name("train", i, 3, gzip=True) for i in range(3)]
    expected_files = manifest["shards"] + ["train.json", os.path.basename(other_split)]
    assert sorted(os.listdir(out)) == sorted(expected_files)  # no temporary files, no old shards
    assert sorted(read_split(out, "train")[1]) == ["new0.png", "new1.png", "new2.png"]
