"""The divergence guard: bad log intervals counted in a row, the last one rolled back at once."""
import math

import pytest

from srgan_tf.training.divergence import DivergenceGuard, TrainingDivergedError


def test_divergence_guard_counts_bad_intervals_in_a_row():
    guard = DivergenceGuard(patience=2, max_recoveries=1, max_loss=10.0)
    nan, high, fine = {"g_loss": math.nan}, {"g_loss": 11.0}, {"g_loss": 1.0, "d_accuracy_real": math.nan}
    assert guard.reason_to_recover(nan, True, final=False) is None
    assert guard.reason_to_recover(fine, True, final=False) is None  # the run healed: the count restarts
    assert guard.reason_to_recover(high, True, final=False) is None
    assert "--max_loss=10" in guard.reason_to_recover(high, True, final=False)
    with pytest.raises(TrainingDivergedError, match="--max_recoveries=1"):
        guard.reason_to_recover(fine, False, final=False)  # non-finite weights roll back at once


def test_last_interval_rolls_back_without_waiting_for_patience():
    guard = DivergenceGuard(patience=5, max_recoveries=1)
    assert guard.reason_to_recover({"g_loss": math.inf}, True, final=True)
