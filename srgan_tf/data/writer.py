"""Writes a source's images as sharded TFRecords plus one JSON manifest per split.

Files are read and validated by worker processes (`record_images`, no TensorFlow); this process skips
PNGs whose bytes would be kept though TensorFlow's decoder refuses their chunks, serializes the examples and
deals them round-robin to the shards, so shards differ by at most one example and the output depends only
on the input, not on the number of workers.

A split is replaced atomically enough for readers: its new shards are written into a temporary folder and
renamed into place only once all are complete; the split's old shards are removed after that, and the
manifest is written last.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import multiprocessing
import os
import shutil
import tempfile
from typing import Callable, Dict, Iterable, Iterator, List, Optional, TextIO, Tuple, Union

import tensorflow as tf
from absl import logging

from srgan_tf.common.console import ProgressBar
from srgan_tf.common.files import write_text_atomic
from srgan_tf.common.image_files import png_chunks_tensorflow_refuses
from srgan_tf.data import schema
from srgan_tf.data.images import RecordImage, Skipped, read_record_image
from srgan_tf.data.sources import ImageFile, SourceError, list_source


def manifest_name(split: str) -> str:
    return f"{split}.json"


@dataclasses.dataclass
class _SplitStats:
    """What the manifest says about the images written: counts, sizes, formats and every file skipped."""

    num_examples: int = 0
    total_pixels: int = 0
    min_height: Optional[int] = None
    max_height: Optional[int] = None
    min_width: Optional[int] = None
    max_width: Optional[int] = None
    formats: Dict[str, int] = dataclasses.field(default_factory=dict)
    converted_to_png: int = 0
    skipped: List[Dict[str, str]] = dataclasses.field(default_factory=list)

    def add(self, image: RecordImage) -> None:
        self.num_examples += 1
        self.total_pixels += image.height * image.width
        self.min_height = min(image.height, self.min_height or image.height)
        self.max_height = max(image.height, self.max_height or 0)
        self.min_width = min(image.width, self.min_width or image.width)
        self.max_width = max(image.width, self.max_width or 0)
        self.formats[image.image_format] = self.formats.get(image.image_format, 0) + 1
        self.converted_to_png += image.converted

    def skip(self, skipped: Skipped) -> None:
        self.skipped.append({"path": skipped.path, "reason": skipped.reason})


class _ShardSet:
    """The shards of one split, written under temporary names and renamed into place by `commit`."""

    def __init__(self, output_dir: str, split: str, num_shards: int, gzip: bool):
        self._output_dir, self._split, self._gzip = output_dir, split, gzip
        self._tmp_dir = tempfile.mkdtemp(prefix=f".tmp-{split}-", dir=output_dir)
        options = tf.io.TFRecordOptions(compression_type="GZIP" if gzip else "")
        self._writers = [tf.io.TFRecordWriter(self._tmp_path(i), options) for i in range(num_shards)]
        self._count = 0

    def _tmp_path(self, index: int) -> str:
        return os.path.join(self._tmp_dir, str(index))

    def write(self, serialized: bytes) -> None:
        self._writers[self._count % len(self._writers)].write(serialized)
        self._count += 1

    def _close(self) -> None:
        for writer in self._writers:
            writer.close()

    def commit(self) -> List[str]:
        """Renames the non-empty shards into place, then removes the split's older shards; returns names."""
        self._close()
        num_shards = min(self._count, len(self._writers))  # fewer images than shards: no empty shards
        names = [schema.shard_name(self._split, i, num_shards, self._gzip) for i in range(num_shards)]
        for index, name in enumerate(names):
            os.replace(self._tmp_path(index), os.path.join(self._output_dir, name))
        for name in os.listdir(self._output_dir):
            if schema.is_shard_of(self._split, name) and name not in names:
                os.remove(os.path.join(self._output_dir, name))
        shutil.rmtree(self._tmp_dir)
        return names

    def discard(self) -> None:
        self._close()
        shutil.rmtree(self._tmp_dir, ignore_errors=True)


@contextlib.contextmanager
def _image_reader(num_workers: int, min_size: int) -> Iterator[Callable[[List[ImageFile]], Iterable]]:
    """Yields `read(files)`: the files' RecordImage/Skipped results in input order, read by `num_workers`."""
    read_one = functools.partial(read_record_image, min_size=min_size)
    if num_workers <= 1:
        yield lambda files: map(read_one, files)
        return
    # "spawn", not "fork": forking a process that has loaded TensorFlow is unsafe, and spawned workers
    # import only Pillow, NumPy and the TensorFlow-free modules they need. An executor, unlike a Pool,
    # fails instead of waiting forever if a worker dies (a decoder crashing on a malicious file).
    spawn = multiprocessing.get_context("spawn")
    executor = concurrent.futures.ProcessPoolExecutor(num_workers, mp_context=spawn)
    try:
        yield lambda files: executor.map(read_one, files,
                                         chunksize=max(1, min(16, len(files) // (8 * num_workers))))
    finally:
        executor.shutdown(cancel_futures=True)


def _decodable_in_training(image_file: ImageFile,
                           result: Union[RecordImage, Skipped]) -> Union[RecordImage, Skipped]:
    """`result`, or Skipped if it keeps PNG bytes whose chunks Pillow read but TensorFlow's decoder refuses:
    training would stop at that record."""
    if isinstance(result, RecordImage) and result.image_format == "png" and not result.converted:
        refused = png_chunks_tensorflow_refuses(result.encoded)
        if refused:
            return Skipped(image_file.path, f"a PNG TensorFlow cannot decode: {refused}")
    return result


def _write_split(split: str, files: List[ImageFile], results: Iterable, output_dir: str, num_shards: int,
                 gzip: bool, stream: Optional[TextIO]) -> Tuple[List[str], _SplitStats]:
    """Writes one split's shards; returns (shard names, stats). Changes nothing if no image is usable."""
    stats = _SplitStats()
    progress = ProgressBar(len(files), label=split, stream=stream)
    shards = _ShardSet(output_dir, split, num_shards, gzip)
    try:
        for image_file, result in zip(files, results):
            result = _decodable_in_training(image_file, result)
            if isinstance(result, Skipped):
                progress.break_line()
                logging.warning("Skipped %s: %s", result.path, result.reason)
                stats.skip(result)
            else:
                shards.write(schema.serialize_example(result.encoded, result.image_format, result.height,
                                                       result.width, result.key))
                stats.add(result)
            progress.advance()
        progress.break_line()
        if not stats.num_examples:
            first = stats.skipped[0]
            raise SourceError(f"No usable image for split {split!r}: all {len(files)} files were skipped "
                              f"(the first, {first['path']}: {first['reason']}).")
        return shards.commit(), stats
    except BaseException:
        shards.discard()
        raise


def write_records(source: str, input_dir: str, output_dir: str, num_shards: int = 16, num_workers: int = 1,
                  min_size: int = 0, gzip: bool = False, stream: Optional[TextIO] = None) -> Dict[str, dict]:
    """Writes every split of `source` to `output_dir`; returns each split's manifest.

    Files that can't be used (unreadable, not an image, truncated, shorter side below `min_size`) are
    skipped with a warning and listed in the manifest. Raises SourceError, naming the path, when the source
    is missing or a split has no usable image (that split's old shards are then left untouched).
    """
    if num_shards < 1 or num_workers < 1 or min_size < 0:
        raise ValueError(f"num_shards={num_shards} and num_workers={num_workers} must be >= 1 and "
                         f"min_size={min_size} >= 0.")
    splits = list_source(source, input_dir)
    os.makedirs(output_dir, exist_ok=True)
    manifests = {}
    with _image_reader(num_workers, min_size) as read:
        for split, files in splits.items():
            shards, stats = _write_split(split, files, read(files), output_dir, num_shards, gzip, stream)
            manifest = {
                "schema_version": schema.SCHEMA_VERSION,
                "split": split,
                "source": source,
                "input_dir": os.path.abspath(input_dir) if input_dir else "",
                "min_size": min_size,
                "shards": shards,
                "compression": "GZIP" if gzip else "",
                **dataclasses.asdict(stats),
                "num_skipped": len(stats.skipped),
            }
            write_text_atomic(os.path.join(output_dir, manifest_name(split)),
                              json.dumps(manifest, indent=2) + "\n")
            manifests[split] = manifest
    return manifests
