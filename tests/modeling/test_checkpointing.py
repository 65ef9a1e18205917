"""Loading a generator back from a checkpoint: one without generator weights is refused by name."""
import pytest
import tensorflow as tf

from srgan_tf.modeling import checkpointing
from tests.tiny_models import FAST, generator_of


def test_a_checkpoint_without_a_generator_is_refused_by_name(tmp_path):
    checkpointing.write_model_config(str(tmp_path), generator_of(FAST))
    prefix = tf.train.Checkpoint(step=tf.Variable(3, dtype=tf.int64)).save(str(tmp_path / "ckpt"))
    with pytest.raises(ValueError, match=f"{prefix} holds no generator weights"):
        checkpointing.load_generator(prefix)
