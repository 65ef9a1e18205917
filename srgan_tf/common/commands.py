"""What every command shares: TensorFlow without its start-up chatter, and absl's `app.run` with a `--help`
that lists the command's own flags.

TensorFlow prints a dozen lines while it is imported (no CUDA driver found, oneDNN custom operations, the
CPU's instructions, absl's InitializeLog warning), and long INFO lines whenever it writes a SavedModel.
Each command calls `quiet_tensorflow()` before anything imports TensorFlow, so that a person sees the
library's own lines. `--verbosity=1` (or `-v 1`) on the command line, or `SRGAN_TF_VERBOSE=1` in the
environment, keeps all of TensorFlow's output.

Why the lines are filtered here rather than by TensorFlow's own switch: `TF_CPP_MIN_LOG_LEVEL=2` (set here
too) drops its C++ INFO and WARNING lines, but not the line absl prints before its log is initialised, nor
the ERROR lines about CUDA that every machine without a GPU prints; level 3 would drop those, and every real
error with them. So start-up lines are dropped by their form, other errors pass.

Free of TensorFlow: record-writing worker processes and the REST client import it.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import sys
import tempfile
from typing import Callable, Iterator, List, Optional, Sequence

from absl import app, flags, logging as absl_logging

# Flags defined here belong to the command that asks for them: its --help lists them.
flags.disclaim_key_flags()

VERBOSE_ENV = "SRGAN_TF_VERBOSE"
_HELP_FLAGS = {"-h", "-?", "--help", "-help", "--helpshort", "-helpshort"}
_VERBOSITY = re.compile(r"^--?(?:verbosity|v)(?:=(.*))?$")

# A line of TensorFlow's C++ logging: absl's format (`I0000 00:00:1796300526.220153   15668 port.cc:153]`)
# or TensorFlow's own (`2025-09-17 14:44:05.157831: I external/.../cudart_stub.cc:32]`).
_NATIVE_LOG_LINE = re.compile(rb"^(?:(?P<absl>[IWEF])\d{4} [\d:.]+\s+\d+ "
                              rb"|\d{4}-\d\d-\d\d [\d:.]+: (?P<tsl>[IWEF]) )(?P<file>\S+):\d+\]")
_START_UP_LINES = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"To enable the following instructions:",  # the second line of cpu_feature_guard.cc's message
)


def _is_start_up_line(line: bytes) -> bool:
    """INFO and WARNING lines of TensorFlow's start-up, and its errors about CUDA on a machine without it."""
    if line.startswith(_START_UP_LINES):
        return True
    match = _NATIVE_LOG_LINE.match(line)
    if not match:
        return False
    severity = match["absl"] or match["tsl"]
    return severity in b"IW" or (severity == b"E" and os.path.basename(match["file"]).startswith(b"cuda"))


def _command_line_verbosity(args: Sequence[str]) -> int:
    """The last `--verbosity`/`-v` value among `args` (absl's forms), 0 (INFO) if none."""
    verbosity = 0
    for index, arg in enumerate(args):
        if arg == "--":
            break
        match = _VERBOSITY.match(arg)
        if match:
            value = match[1] if match[1] is not None else (args[index + 1] if index + 1 < len(args) else "")
            with contextlib.suppress(ValueError):
                verbosity = int(value)
    return verbosity


def verbose() -> bool:
    """Whether the user asked for TensorFlow's own output: `SRGAN_TF_VERBOSE` set (not 0), or
    `--verbosity` of 1 or more (read from the command line while flags are not parsed yet)."""
    if os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off"):
        return True
    if flags.FLAGS.is_parsed():
        return flags.FLAGS.verbosity >= 1
    return _command_line_verbosity(sys.argv[1:]) >= 1


@contextlib.contextmanager
def _start_up_lines_dropped() -> Iterator[None]:
    """Runs the block with file descriptor 2 (where C++ code logs) captured, then writes back every
    captured line that is not one of TensorFlow's start-up lines."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        saved = None
    if saved is None:
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = b"".join(line for line in captured if not _is_start_up_line(line))
            while kept:
                kept = kept[os.write(2, kept):]


class _TensorFlowInfoFilter(logging.Filter):
    """Drops the INFO (and DEBUG) records that TensorFlow's and Keras's own modules log through absl, as
    the SavedModel writer does; the library's own INFO lines pass."""

    def __init__(self):
        super().__init__()
        self._prefixes = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if self._prefixes is None:  # found without importing them
            specs = [importlib.util.find_spec(name) for name in ("tensorflow", "keras")]
            self._prefixes = tuple(os.path.join(location, "") for spec in specs if spec
                                   for location in spec.submodule_search_locations or ())
        return not record.pathname.startswith(self._prefixes)


_TENSORFLOW_INFO_FILTER = _TensorFlowInfoFilter()


def _level_tensorflow_logging() -> None:
    """TensorFlow's Python logging (SavedModel writing, tracing), through its own logger or absl's, shows
    warnings and errors only, unless verbose."""
    quiet = not verbose()
    logging.getLogger("tensorflow").setLevel(logging.WARNING if quiet else logging.NOTSET)
    if quiet:
        absl_logging.get_absl_logger().addFilter(_TENSORFLOW_INFO_FILTER)
    else:
        absl_logging.get_absl_logger().removeFilter(_TENSORFLOW_INFO_FILTER)


def quiet_tensorflow() -> None:
    """Imports TensorFlow without its start-up lines, and keeps its C++ INFO and WARNING lines and its
    Python INFO lines (from its and Keras's modules) out of the output, unless `verbose()`. Call before
    anything imports TensorFlow.

    Environment variables TensorFlow reads are only read when it is imported; a TF_CPP_MIN_LOG_LEVEL
    already set is kept.
    """
    _level_tensorflow_logging()
    if verbose() or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _start_up_lines_dropped():
        import tensorflow as tf

        tf.config.list_physical_devices()  # looks for GPUs: on a machine without any, one more error line


def _parse_flags(argv: List[str]) -> List[str]:
    """absl's parsing, except that --help (-h) prints the usage and flags on stdout and exits with 0."""
    args = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    if _HELP_FLAGS.intersection(args):
        app.usage(shorthelp=True, writeto_stdout=True)
        sys.exit(0)
    argv = app.parse_flags_with_usage(argv)
    _level_tensorflow_logging()  # --verbosity may have come from a --flagfile
    return argv


def run(main: Callable[[List[str]], Optional[int]]) -> None:
    """`absl.app.run(main)` for a command whose flags are defined by `main`'s module.

    absl's usage text describes the `__main__` module: for an installed command (a console script that
    imports the command's module) the command's docstring and flags are lent to it, so `--help` and the
    message after a bad flag show them as they do with `python -m srgan_tf.<command>`.
    """
    module_name = main.__module__
    if module_name != "__main__":
        for flag in flags.FLAGS.get_key_flags_for_module(module_name):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
        main_module = sys.modules["__main__"]
        if not getattr(main_module, "__doc__", None):
            main_module.__doc__ = sys.modules[module_name].__doc__
    app.run(main, flags_parser=_parse_flags)
