"""What a person reads on the console: a progress bar, and TensorFlow errors cut down to their message."""
from __future__ import annotations

import re
import sys
import time
from typing import Optional, TextIO

import tensorflow as tf


class ProgressBar:
    """Redraws itself in place on stderr, at most ten times a second (and always at the end)."""

    def __init__(self, total: int, label: str = "", unit: str = "images", width: int = 30,
                 stream: Optional[TextIO] = None):
        self.total, self.label, self.unit, self.width = total, label, unit, width
        self.done = 0
        self._stream = stream or sys.stderr
        self._last_draw = 0.0
        self._on_line = False

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last_draw >= 0.1 or self.done >= self.total:
            self._last_draw = now
            filled = self.width * self.done // max(self.total, 1)
            bar = "#" * filled + " " * (self.width - filled)
            self._stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {self.unit}")
            self._stream.flush()
            self._on_line = True

    def break_line(self) -> None:
        """Ends the bar's line so that a message printed next starts on its own line."""
        if self._on_line:
            self._stream.write("\n")
            self._stream.flush()
            self._on_line = False


def describe_error(error: Exception) -> str:
    """The message of `error` without the traceback, function and op names TensorFlow wraps it in."""
    if not isinstance(error, tf.errors.OpError):
        return str(error)
    text = error.message.split("\n\t [[")[0]  # graph errors end with the failing node
    text = text.strip().split("\n\n")[-1]  # and start with where the op was defined
    text = re.sub(r"\{\{[^}]*\}\}\s*|\s*\[Op:.*$", "", text, flags=re.DOTALL).strip()
    return re.sub(r"^assertion failed: \[(.*)\]$", r"\1", text, flags=re.DOTALL)  # tf.debugging.Assert's
