"""The TFRecord schema: one example per image, original encoded bytes kept when lossless to keep.

Bump SCHEMA_VERSION whenever a feature is added, removed or changes meaning; manifests record it.
"""
from __future__ import annotations

import re

import tensorflow as tf

SCHEMA_VERSION = 1
GZIP_SUFFIX = ".tfrecord.gz"
PLAIN_SUFFIX = ".tfrecord"

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/format": tf.io.FixedLenFeature([], tf.string),  # "png" or "jpeg"
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "image/channels": tf.io.FixedLenFeature([], tf.int64),  # of the decoded image: always 3
    "image/key": tf.io.FixedLenFeature([], tf.string),  # path relative to the source folder
}


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def serialize_example(encoded: bytes, image_format: str, height: int, width: int, key: str) -> bytes:
    example = tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": _bytes(encoded),
        "image/format": _bytes(image_format.encode()),
        "image/height": _int(height),
        "image/width": _int(width),
        "image/channels": _int(3),
        "image/key": _bytes(key.encode()),
    }))
    return example.SerializeToString()


def parse_example(serialized: tf.Tensor) -> dict:
    """Parses one serialized example into the FEATURES dict (bytes still encoded)."""
    return tf.io.parse_single_example(serialized, FEATURES)


def compression_of(path: str) -> str:
    """The TFRecord compression type a shard's name implies ("GZIP" or "")."""
    return "GZIP" if path.endswith(GZIP_SUFFIX) else ""


def shard_name(split: str, index: int, num_shards: int, gzip: bool = False) -> str:
    suffix = GZIP_SUFFIX if gzip else PLAIN_SUFFIX
    return f"{split}-{index:05d}-of-{num_shards:05d}{suffix}"


def is_shard_of(split: str, filename: str) -> bool:
    """Whether `filename` is a shard `shard_name` makes for `split` (any shard count, either compression)."""
    suffixes = "|".join(re.escape(s) for s in (GZIP_SUFFIX, PLAIN_SUFFIX))
    return re.fullmatch(rf"{re.escape(split)}-\d{{5}}-of-\d{{5}}(?:{suffixes})", filename) is not None
