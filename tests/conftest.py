"""Test set-up: two logical CPU devices (so multi-replica code runs here), images, tiny records and model.

The benchmark images some tests read (Set5, NIQE's test image) are looked for in `../shared/data` beside the
project, or in the folder `SRGAN_TF_SHARED_DATA` names; tests that need them are skipped, saying so, where
they are absent (`shared_data`). `SRGAN_TF_SHARED_DATA=/nonexistent pytest` shows which tests those are.
"""
import importlib.metadata
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _fast_compiling_xla_flags() -> str:
    """XLA's CPU compiler without LLVM's optimisations and, on the TensorFlow known to have the flag, without
    the MLIR fusion emitters. The tests compile each step once and run it once or twice, so compiling is
    most of their time, and these flags halve it (the tiny GAN step on two replicas: 23 CPU seconds down to
    10). The HLO compiled, which the tests compare with the plain step, is the same either way. An unknown
    flag in XLA_FLAGS aborts the process, hence the version check."""
    flags = ["--xla_backend_optimization_level=0"]
    if importlib.metadata.version("tensorflow").startswith("2.21."):
        flags.append("--xla_cpu_use_fusion_emitters=false")
    return " ".join(flags)


# Before TensorFlow is imported; child processes the tests start inherit it. A value already set wins.
os.environ.setdefault("XLA_FLAGS", _fast_compiling_xla_flags())

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must run before anything touches a device: afterwards the configuration can no longer change.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

SHARED_DATA = os.environ.get("SRGAN_TF_SHARED_DATA") or os.path.join(os.path.dirname(__file__), "..", "..",
                                                                    "shared", "data")


def shared_data(name: str) -> str:
    """The absolute path of `<name>` in the shared data (`../shared/data` beside the project, or
    $SRGAN_TF_SHARED_DATA); skips the test where it is absent."""
    path = os.path.abspath(os.path.join(SHARED_DATA, name))
    if not os.path.exists(path):
        pytest.skip(f"needs {path} (the benchmark data beside the project, or in $SRGAN_TF_SHARED_DATA), "
                    f"which is absent here")
    return path


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A natural-looking uint8 RGB image (smooth gradients plus texture), cheap to make at any size."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.01, 0.2, 2).tolist() + [rng.uniform(0, 6.28)]
        channels.append(0.5 + 0.35 * np.sin(fx * x + fy * y + phase))
    image = np.stack(channels, axis=-1) + rng.normal(0, 0.05, (height, width, 3))
    return np.clip(image * 255, 0, 255).astype(np.uint8)


@pytest.fixture
def make_image():
    return smooth_image


@pytest.fixture(scope="session")
def set5_dir():
    return shared_data("Set5")


@pytest.fixture(scope="session")
def tiny_records(tmp_path_factory):
    """Train and val TFRecords made by the library's own writer from a few small generated photos."""
    from PIL import Image

    from srgan_tf.data.writer import write_records

    root = tmp_path_factory.mktemp("tiny_records")
    patterns = {}
    for split, count, seed in (("train", 6, 0), ("val", 2, 100)):
        folder = root / f"{split}_images"
        folder.mkdir()
        for i in range(count):
            Image.fromarray(smooth_image(48 + 8 * i, 56, seed=seed + i)).save(folder / f"img{i}.png")
        write_records("folder", str(folder), str(root / split), num_shards=2)
        patterns[split] = str(root / split / "train-*")
    return patterns


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A model directory holding a 1-block, 8-filter x4 generator at step 5, and that generator."""
    from srgan_tf.config import GeneratorConfig
    from tests.tiny_models import make_model_dir

    model_dir = str(tmp_path_factory.mktemp("model"))
    config = GeneratorConfig(num_residual_blocks=1, num_filters=8, scale=4)
    return model_dir, make_model_dir(model_dir, config, step=5)


# ------------------------------------------------------------------------------------------ slow tests


def pytest_collection_modifyitems(items):
    """Marks `slow` (left out by `make test-fast`) every test of tests/slow/ (whole training runs, in child
    processes or in this one) and every test of the exports to all formats (their `exported` fixture takes
    about 20 s); other tests are marked where they are defined."""
    for item in items:
        if item.nodeid.startswith("tests/slow/") or "exported" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


# ------------------------------------------------------------------------ worker processes (pytest-xdist)

# Split test by test across the workers: files whose tests share no fixture costlier than a strategy.
SPLIT_FILES = ("tests/training/test_trainer.py", "tests/slow/")
# Kept in one worker as a whole: packages whose conftest makes package-scoped fixtures (exports, models).
WHOLE_PACKAGES = ("tests/deploy/", "tests/serving/")


def work_unit(nodeid: str) -> str:
    """What one worker runs together: a test of SPLIT_FILES alone, a package of WHOLE_PACKAGES whole, any
    other file whole, so that its module-scoped fixtures are made once rather than once per worker."""
    path = nodeid.split("::", 1)[0]
    if path.startswith(SPLIT_FILES):
        return nodeid
    return next((package for package in WHOLE_PACKAGES if path.startswith(package)), path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`-n` (`--dist load`): xdist's scheduling by work unit, as `work_unit` defines them. Larger units go
    first; a worker is sent the next unit when it has two tests left to run."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)
