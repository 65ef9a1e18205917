"""What training wrote for TensorBoard, read back from its event files."""
import os

import tensorflow as tf


def summary_tags(event_dir) -> set:
    """Every summary tag written to the TensorBoard event files in `event_dir`."""
    tags = set()
    for name in os.listdir(event_dir):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(event_dir, name)):
            tags.update(value.tag for value in event.summary.value)
    return tags
