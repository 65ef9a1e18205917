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


def scalars(event_dir, tag):
    """[(step, value)] of one scalar written to TensorBoard, in the order written."""
    (name,) = os.listdir(event_dir)
    return [(event.step, float(tf.make_ndarray(value.tensor)))
            for event in tf.compat.v1.train.summary_iterator(os.path.join(event_dir, name))
            for value in event.summary.value if value.tag == tag]
