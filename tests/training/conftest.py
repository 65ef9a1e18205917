"""The one-device strategy of the training tests that need no replicas."""
import pytest
import tensorflow as tf


@pytest.fixture(scope="module")
def one_device():
    return tf.distribute.OneDeviceStrategy("/cpu:0")
