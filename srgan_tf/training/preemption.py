"""SIGTERM and SIGINT during training: finish the loop being run, save a checkpoint, then stop.

Schedulers announce preemption with SIGTERM and a grace period; Ctrl-C sends SIGINT. While a
`StopRequests` block is active, either signal only records the request; the training controller checks
it between `tf.function` calls (every `--steps_per_loop` steps at most), saves and raises
`TrainingInterrupted`. A second Ctrl-C stops at once, as Python normally does; the last checkpoint
still restores.
"""
from __future__ import annotations

import signal
import threading
from typing import Optional

from absl import logging

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingInterrupted(Exception):
    """Training stopped on a signal after saving a checkpoint; rerunning the same command resumes it.

    `signum` is None on a worker that stopped because another worker of the cluster was signalled.
    """

    def __init__(self, signum: Optional[int], step: int, checkpoint: Optional[str]):
        self.signum = signum
        self.step = step
        self.checkpoint = checkpoint
        cause = f"{signal.Signals(signum).name} received" if signum else "Another worker was signalled"
        saved = f", saved {checkpoint}" if checkpoint else ""
        super().__init__(f"{cause}: stopped at step {step}{saved}; run the same command again to resume.")

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process ended by that signal (143 for SIGTERM,
        130 for SIGINT; 143 where another worker was signalled): schedulers that restart on such codes
        resume the run."""
        return 128 + (self.signum or signal.SIGTERM)


class StopRequests:
    """A context in which SIGTERM and SIGINT ask training to stop at the next loop boundary."""

    def __init__(self):
        self.signum: Optional[int] = None
        self._previous = {}

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is not threading.main_thread():
            logging.warning("Training outside the main thread: SIGTERM and SIGINT won't save a checkpoint.")
            return self
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._request)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _request(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without the checkpoint
        if self.signum is None:
            self.signum = signum
            logging.warning("%s received: stopping after the current loop of steps, with a checkpoint.",
                            signal.Signals(signum).name)
