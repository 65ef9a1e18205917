"""Image files saved for the record writer, and the records it wrote read back through their manifest."""
import json
import os

import tensorflow as tf
from PIL import Image

from srgan_tf.data import schema


def save(path, pixels, image_format=None, **options):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path, format=image_format, **options)
    return path


def read_split(output_dir, split):
    """{key: parsed features as numpy} of every record in the split's shards (listed by its manifest)."""
    with open(os.path.join(output_dir, f"{split}.json")) as f:
        manifest = json.load(f)
    examples = {}
    for name in manifest["shards"]:
        path = os.path.join(output_dir, name)
        for serialized in tf.data.TFRecordDataset(path, compression_type=schema.compression_of(path)):
            features = {k: v.numpy() for k, v in schema.parse_example(serialized).items()}
            key = features["image/key"].decode()
            assert key not in examples, f"{key} written twice"
            examples[key] = features
    return manifest, examples
