"""Serving under concurrent load: `tools/benchmark_serve.py --concurrency` at a small scale."""
import os
import re
import subprocess
import sys

import pytest

BENCHMARK = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "benchmark_serve.py")


@pytest.mark.slow
def test_concurrent_requests_give_the_sequential_outputs_within_the_memory_bound():
    """Four threads send 48 requests (the 18 of the mix in turn, most of them tiled): each output must be the
    one the same request gave on its own, none may fail, and the peak RSS must stay within the bound the tool
    prints. A number of requests, not a time, so that any machine sends them all."""
    command = [sys.executable, BENCHMARK, "--concurrency=4", "--requests=48", "--seconds=3600",
               "--load_sizes=16x16,40x30,100x70", "--load_tile_size=32"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^memory bound: .* = \d+\.\d\d GB$", run.stdout, re.MULTILINE), run.stdout
    assert re.search(r"^peak RSS \d+\.\d\d GB, within the bound", run.stdout, re.MULTILINE), run.stdout
    assert re.fullmatch(r"concurrency 4: 48 requests, \d+\.\d\d/s, p50 \d+ ms, p99 \d+ ms, "
                        r"peak RSS \d+\.\d\d GB, mismatches 0, errors 0", lines[-1]), lines[-1]
