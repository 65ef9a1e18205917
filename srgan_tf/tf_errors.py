"""TensorFlow error messages, cut down to the part a user can act on."""
from __future__ import annotations

import re

import tensorflow as tf


def describe(error: Exception) -> str:
    """The message of `error` without the traceback, function and op names TensorFlow wraps it in."""
    if not isinstance(error, tf.errors.OpError):
        return str(error)
    text = error.message.split("\n\t [[")[0]  # graph errors end with the failing node
    text = text.strip().split("\n\n")[-1]  # and start with where the op was defined
    return re.sub(r"\{\{[^}]*\}\}\s*|\s*\[Op:.*$", "", text, flags=re.DOTALL).strip()
