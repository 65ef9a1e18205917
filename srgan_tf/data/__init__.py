"""Image folders to sharded TFRecords (sources, images, schema, writer), and records to training batches
(pipeline). The record-writing side imports no TensorFlow."""
