"""Where each dataset's images are and which split each is in: folders, CelebA, DIV2K, samples."""
import os
import re

import pytest

from srgan_tf.data import sources
from srgan_tf.data.sources import SourceError
from srgan_tf.data.writer import write_records
from tests.data.record_files import read_split, save


def test_missing_sources_are_errors_naming_the_path(tmp_path, monkeypatch):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(SourceError, match=missing):
        write_records("folder", missing, str(tmp_path / "out"))
    (tmp_path / "celeba" / "img_align_celeba").mkdir(parents=True)
    with pytest.raises(SourceError, match="list_eval_partition.txt"):
        sources.list_source("celeba", str(tmp_path / "celeba"))
    (tmp_path / "div2k" / "DIV2K_train_HR").mkdir(parents=True)
    with pytest.raises(SourceError, match="DIV2K_valid_HR"):
        sources.list_source("div2k", str(tmp_path / "div2k"))
    monkeypatch.setattr(sources.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SourceError, match=re.escape("pip install '.[samples]'")):
        sources.list_source("samples", "")
    assert not os.path.exists(tmp_path / "out")


def test_celeba_partition_decides_the_split(tmp_path, make_image):
    root = tmp_path / "celeba"
    partition = {"000001.jpg": 0, "000002.jpg": 1, "000003.jpg": 2, "000004.jpg": 0, "000005.jpg": 2}
    for i, name in enumerate(partition):
        save(str(root / "img_align_celeba" / name), make_image(22, 18, seed=i))
    (root / "list_eval_partition.txt").write_text("".join(f"{n} {s}\n" for n, s in partition.items()))

    manifests = write_records("celeba", str(root), str(tmp_path / "out"), min_size=8)

    keys = {split: sorted(read_split(str(tmp_path / "out"), split)[1]) for split in manifests}
    assert keys == {"train": ["img_align_celeba/000001.jpg", "img_align_celeba/000004.jpg"],
                    "val": ["img_align_celeba/000002.jpg"],
                    "test": ["img_align_celeba/000003.jpg", "img_align_celeba/000005.jpg"]}
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg train\n")
    with pytest.raises(SourceError, match="list_eval_partition.txt:2"):
        sources.list_source("celeba", str(root))


def test_div2k_folders_become_train_and_val(tmp_path, make_image):
    root = tmp_path / "DIV2K"
    for name, folder in (("0001.png", "DIV2K_train_HR"), ("0002.png", "DIV2K_train_HR"),
                         ("0801.png", "DIV2K_valid_HR")):
        save(str(root / folder / name), make_image(24, 30))
    manifests = write_records("div2k", str(root), str(tmp_path / "out"), min_size=8)
    keys = {split: sorted(read_split(str(tmp_path / "out"), split)[1]) for split in manifests}
    assert keys == {"train": ["DIV2K_train_HR/0001.png", "DIV2K_train_HR/0002.png"],
                    "val": ["DIV2K_valid_HR/0801.png"]}
