"""Running a training phase from configs: a seeded pipeline on the tf.data service is refused (job.py)."""
import pytest

from srgan_tf.config import DataConfig, TrainConfig
from srgan_tf.training import job
from tests.tiny_models import MODEL


def test_a_seeded_input_pipeline_on_tf_data_service_is_refused(tiny_records, tmp_path):
    data_config = DataConfig(train_records=tiny_records["train"], data_service="grpc://localhost:1", seed=1)
    with pytest.raises(ValueError, match="--data_service=grpc://localhost:1 needs an unseeded input"):
        job.run_training(data_config, MODEL, TrainConfig(model_dir=str(tmp_path), seed=1))
