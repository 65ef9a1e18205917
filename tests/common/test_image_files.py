"""Which image files a command reads and where each result goes, planned before any work (image_files.py)."""
import os

import pytest
from PIL import Image

from srgan_tf.common.image_files import find_images, plan_outputs


def test_outputs_are_planned_before_any_work(tmp_path):
    for folder in ("a", "b"):
        os.makedirs(tmp_path / folder)
        Image.new("RGB", (4, 4)).save(tmp_path / folder / "x.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    images = find_images([str(tmp_path / "a"), str(tmp_path / "b" / "x.png")])
    assert images == [str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png")]
    with pytest.raises(ValueError, match="would both be written to .*x_sr.png"):
        plan_outputs(images, str(tmp_path / "out"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x_sr.png").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="x_sr.png already exists; pass --overwrite"):
        plan_outputs(images[:1], str(tmp_path / "out"))
    assert plan_outputs(images[:1], str(tmp_path / "out"), overwrite=True) == {
        images[0]: str(tmp_path / "out" / "x_sr.png")}
    with pytest.raises(FileNotFoundError, match="missing.png: no such file or folder"):
        find_images([str(tmp_path / "missing.png")])
