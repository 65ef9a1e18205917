"""Training batches whose position in the input pipeline can be saved in a checkpoint.

Iterators of `strategy.distribute_datasets_from_function` are not trackable (TF 2.21: tf.train.Checkpoint
refuses them). On one host this reads the same per-replica batches, in the same order, from one local
iterator, which is trackable, and hands replica i the i-th batch of each step as distributed values. The
price: no prefetching onto accelerators.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf


class ResumableInput:
    """An iterator of distributed batches; checkpoint `.iterator` to save and restore its position."""

    def __init__(self, strategy: tf.distribute.Strategy,
                 dataset_fn: Callable[[tf.distribute.InputContext], tf.data.Dataset]):
        self._strategy = strategy
        context = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0,
                                             num_replicas_in_sync=strategy.num_replicas_in_sync)
        self.iterator = iter(dataset_fn(context))

    def __iter__(self) -> "ResumableInput":
        return self

    def __next__(self):
        batches = [next(self.iterator) for _ in range(self._strategy.num_replicas_in_sync)]
        return self._strategy.experimental_distribute_values_from_function(
            lambda context: batches[context.replica_id_in_sync_group])
