"""Precision and XLA chosen for the machine (training/acceleration.py)."""
import pytest

from srgan_tf.training import acceleration
from srgan_tf.training.acceleration import Acceleration

NO_AVX512 = frozenset({"avx", "avx2", "fma"})
AVX512 = NO_AVX512 | {"avx512f", "avx512bw"}
AVX512_BF16 = AVX512 | {"avx512_bf16"}
AMX = AVX512 | {"amx_bf16", "amx_tile"}


@pytest.mark.parametrize("has_gpu,features,expected", [
    (True, AVX512_BF16, Acceleration("mixed_float16", True)),
    (False, AVX512_BF16, Acceleration("mixed_bfloat16", False)),
    (False, AMX, Acceleration("mixed_bfloat16", False)),
    (False, AVX512, Acceleration("float32", False)),
    (False, NO_AVX512, Acceleration("float32", True)),
    (False, frozenset(), Acceleration("float32", True)),
])
def test_auto_follows_the_devices_and_the_cpu_features(has_gpu, features, expected):
    chosen = acceleration.choose("auto", "auto", has_gpu=has_gpu, features=features)
    assert (chosen.precision, chosen.jit_compile) == (expected.precision, expected.jit_compile)
    assert "precision auto" in chosen.reason and "XLA auto" in chosen.reason


def test_explicit_settings_win_over_the_machine():
    chosen = acceleration.choose("float32", "on", has_gpu=False, features=AVX512_BF16)
    assert (chosen.precision, chosen.jit_compile, chosen.reason) == ("float32", True, "")
    assert not chosen.loss_scaling and acceleration.choose("mixed_float16", "off").loss_scaling
    assert chosen.describe() == "precision float32, XLA on"


def test_cpu_features_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx512f amx_bf16\nbugs\t\t: x\n")
    assert acceleration.cpu_features(str(cpuinfo)) == {"fpu", "avx512f", "amx_bf16"}
    assert acceleration.cpu_features(str(tmp_path / "missing")) == frozenset()
    assert acceleration.cpu_description(str(cpuinfo)).startswith("Some CPU (")
    assert "avx512f amx_bf16" in acceleration.cpu_description(str(cpuinfo))
