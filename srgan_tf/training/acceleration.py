"""Choosing the numeric precision and XLA compilation for the devices found.

`auto` follows what `tools/benchmark_train.py` measured (docs/benchmarks.md):
- GPUs: mixed_float16 (tensor cores) with XLA, as the field trains.
- CPUs with native bfloat16 (AVX512_BF16 or AMX): mixed_bfloat16, which trains to the float32 PSNR
  (`tools/benchmark_precision.py`) at up to twice its speed.
- CPUs with AVX-512: no XLA. TensorFlow's oneDNN convolutions are faster there than XLA's CPU ones (the GAN
  step ran slower with XLA); on CPUs without AVX-512 XLA doubled the step, so it stays on.
"""
from __future__ import annotations

import dataclasses
import os
import platform
from typing import FrozenSet

import keras
import tensorflow as tf

NATIVE_BFLOAT16 = frozenset({"avx512_bf16", "amx_bf16"})


@dataclasses.dataclass(frozen=True)
class Acceleration:
    """The resolved choice: a Keras precision policy, whether to XLA-compile, and why, for the log."""

    precision: str
    jit_compile: bool
    reason: str = ""

    @property
    def loss_scaling(self) -> bool:
        """float16 needs a loss scale to keep small gradients; bfloat16 has float32's range."""
        return self.precision == "mixed_float16"

    def describe(self) -> str:
        return f"precision {self.precision}, XLA {'on' if self.jit_compile else 'off'}" + (
            f" ({self.reason})" if self.reason else "")


def _cpuinfo_field(name: str, cpuinfo: str) -> str:
    """The first processor's `name` line of /proc/cpuinfo (Linux); empty where there is none."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return ""


def cpu_features(cpuinfo: str = "/proc/cpuinfo") -> FrozenSet[str]:
    """The instruction-set flags the kernel reports for this CPU."""
    return frozenset(_cpuinfo_field("flags", cpuinfo).split())


def cpu_description(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model and the features the choices depend on, for benchmark reports."""
    model = _cpuinfo_field("model name", cpuinfo) or platform.processor() or "unknown CPU"
    features = cpu_features(cpuinfo)
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return f"{model} ({os.cpu_count()} cores; {' '.join(f for f in wanted if f in features) or 'no AVX-512'})"


def choose(precision: str = "auto", jit_compile: str = "auto", has_gpu=None, features=None) -> Acceleration:
    """Resolves `--precision` and `--jit_compile` (auto|on|off) for this machine's devices and CPU."""
    if has_gpu is None:
        has_gpu = bool(tf.config.list_logical_devices("GPU"))
    if features is None:
        features = cpu_features()
    reasons = []
    if precision == "auto":
        if has_gpu:
            precision, why = "mixed_float16", "GPU"
        elif features & NATIVE_BFLOAT16:
            precision, why = "mixed_bfloat16", "CPU with native bfloat16"
        else:
            precision, why = "float32", "CPU without native bfloat16"
        reasons.append(f"precision auto: {why}")
    if jit_compile == "auto":
        if has_gpu:
            jit, why = True, "GPU"
        elif "avx512f" in features:
            jit, why = False, "oneDNN's AVX-512 convolutions beat XLA's"
        else:
            jit, why = True, "CPU without AVX-512"
        reasons.append(f"XLA auto: {why}")
    else:
        jit = jit_compile == "on"
    return Acceleration(precision, jit, "; ".join(reasons))


def without_xla(acceleration: Acceleration, jit_compile: str, why: str) -> Acceleration:
    """`acceleration` with XLA turned off because the step does something XLA-compiled steps cannot (`why`);
    a run that asked for XLA (`jit_compile="on"`) is refused instead, naming the flag."""
    if not acceleration.jit_compile:
        return acceleration
    if jit_compile == "on":
        raise ValueError(f"--jit_compile=on: {why}; use --jit_compile=off or auto.")
    reason = "; ".join(filter(None, [acceleration.reason, f"XLA off: {why}"]))
    return dataclasses.replace(acceleration, jit_compile=False, reason=reason)


def apply(acceleration: Acceleration) -> Acceleration:
    """Makes the precision the global Keras policy, for the networks built from now on."""
    keras.mixed_precision.set_global_policy(acceleration.precision)
    return acceleration
