"""`python -m srgan_tf.make_records`: the sample photographs with worker processes, and a missing folder."""
import glob
import os
import subprocess
import sys

import pytest

from srgan_tf.data import schema, sources
from tests.data.record_files import read_split

MAKE_RECORDS = [sys.executable, "-m", "srgan_tf.make_records"]
pytestmark = pytest.mark.slow  # every test runs the command in a child process


def test_tool_writes_the_sample_photographs_with_worker_processes(tmp_path):
    out = str(tmp_path / "samples")
    done = subprocess.run([*MAKE_RECORDS, "--source=samples", f"--output_dir={out}", "--num_workers=2",
                           "--num_shards=3", "--gzip"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Wrote train 8 images in 3 shards (0 skipped); val 1 images in 1 shards (0 skipped)" in done.stdout
    assert "8/8 images" in done.stderr
    manifest, examples = read_split(out, "train")
    assert manifest["shards"] == [schema.shard_name("train", i, 3, gzip=True) for i in range(3)]
    data_dir = os.path.dirname(sources.samples_source()["train"][0].path)
    with open(os.path.join(data_dir, "rocket.jpg"), "rb") as f:
        assert examples["rocket.jpg"]["image/encoded"] == f.read()
    assert sorted(examples) == sorted(sources.SAMPLE_SPLITS["train"])
    assert not glob.glob(os.path.join(out, ".tmp*"))


def test_tool_exits_with_an_error_naming_a_missing_folder(tmp_path):
    missing = str(tmp_path / "no_such_folder")
    done = subprocess.run([*MAKE_RECORDS, "--source=folder", f"--input_dir={missing}",
                           f"--output_dir={tmp_path / 'out'}"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert missing in done.stderr and "Traceback" not in done.stderr
