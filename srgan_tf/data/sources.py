"""Where the images of each dataset live and which split each belongs to.

Listing only: nothing here opens an image, so a missing folder or a malformed partition file is reported
before any work starts. Free of TensorFlow (see `pil_images`).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
from typing import Callable, Dict, List


class SourceError(ValueError):
    """The input cannot give records: a missing folder or list, a malformed list, no usable image."""


@dataclasses.dataclass(frozen=True)
class ImageFile:
    path: str
    key: str  # path relative to the source's root, with "/" separators: stable across machines


Splits = Dict[str, List[ImageFile]]

CELEBA_IMAGES = "img_align_celeba"
CELEBA_PARTITION = "list_eval_partition.txt"
CELEBA_SPLITS = {"0": "train", "1": "val", "2": "test"}
DIV2K_FOLDERS = {"train": "DIV2K_train_HR", "val": "DIV2K_valid_HR"}
# Colour photographs inside scikit-image's wheel; the others there are grey, synthetic or tiny.
SAMPLE_SPLITS = {
    "train": ("astronaut.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png",
              "hubble_deep_field.jpg", "retina.jpg", "ihc.png"),
    "val": ("chelsea.png",),
}


def _image_file(root: str, path: str) -> ImageFile:
    return ImageFile(path=path, key=os.path.relpath(path, root).replace(os.sep, "/"))


def _require_dir(path: str, what: str) -> str:
    if not os.path.isdir(path):
        raise SourceError(f"{what} not found: {path} is not a directory.")
    return path


def walk_files(directory: str, root: str = "") -> List[ImageFile]:
    """Every non-hidden file below `directory`, sorted, keyed relative to `root` (default: `directory`).

    Which of them are images is decided by reading them, so stray files are reported, not silently ignored.
    """
    files = []
    for parent, subdirs, names in os.walk(directory):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        files.extend(_image_file(root or directory, os.path.join(parent, n))
                     for n in sorted(names) if not n.startswith("."))
    return files


def folder_source(input_dir: str) -> Splits:
    """Any folder of images, searched recursively: all of it is training data."""
    return {"train": walk_files(_require_dir(input_dir, "--input_dir"))}


def celeba_source(input_dir: str) -> Splits:
    """CelebA: `img_align_celeba/` split by `list_eval_partition.txt` (0 train, 1 val, 2 test)."""
    images = _require_dir(os.path.join(input_dir, CELEBA_IMAGES), "CelebA image folder")
    nested = os.path.join(images, CELEBA_IMAGES)  # some mirrors unpack the archive one level deeper
    if os.path.isdir(nested):
        images = nested
    partition = os.path.join(input_dir, CELEBA_PARTITION)
    if not os.path.isfile(partition):
        raise SourceError(f"CelebA partition list not found: {partition}")
    splits: Splits = {split: [] for split in CELEBA_SPLITS.values()}
    with open(partition) as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or fields[1] not in CELEBA_SPLITS:
                raise SourceError(f"{partition}:{number}: expected '<image> <0|1|2>', got {line.strip()!r}")
            splits[CELEBA_SPLITS[fields[1]]].append(_image_file(input_dir, os.path.join(images, fields[0])))
    return splits


def div2k_source(input_dir: str) -> Splits:
    """DIV2K high-resolution images: `DIV2K_train_HR/` is train, `DIV2K_valid_HR/` is val."""
    what = "DIV2K folder (for a single folder use --source=folder)"
    return {split: walk_files(_require_dir(os.path.join(input_dir, folder), what), input_dir)
            for split, folder in DIV2K_FOLDERS.items()}


def samples_source(input_dir: str = "") -> Splits:
    """Real photographs shipped with scikit-image (`input_dir` is not used)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise SourceError("--source=samples reads the photographs shipped with scikit-image, which is not "
                          "installed: pip install '.[samples]' in the srgan_tf source tree, or "
                          "pip install scikit-image.")
    data_dir = os.path.join(os.path.dirname(spec.origin), "data")
    return {split: [_image_file(data_dir, os.path.join(data_dir, name)) for name in names]
            for split, names in SAMPLE_SPLITS.items()}


SOURCES: Dict[str, Callable[[str], Splits]] = {
    "folder": folder_source,
    "celeba": celeba_source,
    "div2k": div2k_source,
    "samples": samples_source,
}


def list_source(source: str, input_dir: str) -> Splits:
    """The files of each split of `source`; raises SourceError naming the path at fault."""
    if source not in SOURCES:
        raise SourceError(f"--source={source!r} is not one of {sorted(SOURCES)}.")
    splits = SOURCES[source](input_dir)
    for split, files in splits.items():
        if not files:
            raise SourceError(f"No files found for split {split!r} of --source={source} in "
                              f"{input_dir or '(none)'}.")
    return splits
