"""When training has diverged, and how often it may be rolled back to the last good checkpoint.

Under mixed_float16, a step whose gradients overflow is skipped by loss scaling and needs no help. Weights
that are no longer finite never heal, so they are rolled back at once. Losses that stay non-finite, or
above `max_loss`, for `patience` log intervals in a row are rolled back too. After `max_recoveries`
roll-backs the run stops: something other than bad luck is wrong.
"""
from __future__ import annotations

import math
from typing import Dict, Optional


class TrainingDivergedError(RuntimeError):
    """Training kept diverging after every roll-back allowed."""


def _unhealthy_losses(metrics: Dict[str, float], max_loss: float) -> Dict[str, float]:
    return {name: value for name, value in metrics.items()
            if name.endswith("_loss") and not (math.isfinite(value) and value <= max_loss)}


class DivergenceGuard:
    """Decides, once per log interval, whether to restore the last good checkpoint."""

    def __init__(self, patience: int, max_recoveries: int, max_loss: float = math.inf):
        self.patience = patience
        self.max_recoveries = max_recoveries
        self.max_loss = max_loss
        self.recoveries = 0
        self._bad_intervals = 0

    def reason_to_recover(self, metrics: Dict[str, float], weights_finite: bool,
                          final: bool) -> Optional[str]:
        """Why the run must roll back now, or None. `final`: no later interval can show it recovering.

        Raises TrainingDivergedError once `max_recoveries` roll-backs have not helped.
        """
        bad = _unhealthy_losses(metrics, self.max_loss)
        self._bad_intervals = self._bad_intervals + 1 if bad else 0
        if not weights_finite:
            reason = "the weights are no longer finite"
        elif bad and (self._bad_intervals >= self.patience or final):
            shown = ", ".join(f"{name}={value:.4g}" for name, value in bad.items())
            bound = f" or above --max_loss={self.max_loss:g}" if math.isfinite(self.max_loss) else ""
            reason = f"losses non-finite{bound} for {self._bad_intervals} log interval(s) ({shown})"
        else:
            return None
        if self.recoveries >= self.max_recoveries:
            raise TrainingDivergedError(
                f"Training diverged: {reason}, after {self.recoveries} roll-back(s) to the last good "
                f"checkpoint (--max_recoveries={self.max_recoveries}). Lower --learning_rate, check the "
                f"data, or raise --nan_patience.")
        self.recoveries += 1
        self._bad_intervals = 0
        return reason
