"""Quiet by default: the runtimes' output goes to a log file, the terminal keeps edgekit's own.

onnxruntime, TensorFlow Lite and TensorFlow print from C++ straight to file descriptors 1 and 2
("Created TensorFlow Lite XNNPACK delegate", graph-optimiser warnings), and Python libraries
warn through ``warnings`` and ``logging``. In a CI log they bury the verdict. :func:`captured`
points descriptors 1 and 2 at a pipe whose reader thread appends everything to a log file in the
run's output folder (and, with ``verbose``, also shows it), sends Python warnings and library
logging to the same file, and keeps ``sys.stdout`` / ``sys.stderr`` (edgekit's progress lines and
verdict) on the terminal. Child processes inherit the descriptors, so what they print lands in the
log too; edgekit's own children (converter, profiling workers) keep logs of their own.

The log is created inside the run's staging folder, which is published whole (``edgekit.outdir``),
so a log is never half in place.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

__all__ = ["LOGS_DIR", "RUNTIME_LOG", "captured", "is_verbose"]

LOGS_DIR = "logs"
"""The folder, inside an output folder, that holds a run's logs."""
RUNTIME_LOG = "runtime.log"
"""The in-process runtimes' output (and whatever children print without a log of their own)."""

_state = {"verbose": False}


def is_verbose() -> bool:
    """Whether the current run shows everything (``--verbose``); children's loggers ask this."""
    return _state["verbose"]


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers, so a library's buffered printf lands before the switch."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).fflush(None)


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def _terminal_copy(stream: TextIO, fd: int) -> TextIO:
    """A text stream on ``fd`` (a duplicate of the terminal) with ``stream``'s encoding."""
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(raw, encoding=stream.encoding, errors=stream.errors or "strict",
                            line_buffering=True, write_through=True)


def _pump(read_fd: int, log: io.BufferedWriter, show_fd: int | None) -> None:
    """Copy the pipe into the log (and to ``show_fd``) until every writer has closed it."""
    while True:
        try:
            chunk = os.read(read_fd, 1 << 16)
        except InterruptedError:
            continue
        if not chunk:
            return
        log.write(chunk)
        log.flush()
        if show_fd is not None:
            with contextlib.suppress(OSError):
                os.write(show_fd, chunk)


class _LogHandler(logging.Handler):
    """Library logging into the run's log (the root logger's only handler for the block)."""

    def __init__(self, log: io.BufferedWriter, lock: threading.Lock) -> None:
        super().__init__(logging.WARNING)
        self._log, self._lock = log, lock
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception), self._lock:
            self._log.write((self.format(record) + "\n").encode("utf-8", "replace"))
            self._log.flush()


@contextlib.contextmanager
def captured(log_path: Path, *, verbose: bool = False) -> Iterator[Path]:
    """Send descriptors 1 and 2, Python warnings and library logging to ``log_path`` for the
    block; ``sys.stdout`` and ``sys.stderr`` stay on the terminal. With ``verbose`` the captured
    output is shown as well (and warnings and logging behave as usual)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    _flush_c_stdio()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    streams = {"stdout": sys.stdout, "stderr": sys.stderr}
    log = open(log_path, "ab")  # noqa: SIM115 - closed in the finally below, after the thread
    read_fd, write_fd = os.pipe()
    lock = threading.Lock()
    pump = threading.Thread(target=_pump, args=(read_fd, log, saved[2] if verbose else None),
                            name="edgekit-log", daemon=True)
    handler = _LogHandler(log, lock)
    root = logging.getLogger()
    was_verbose = _state["verbose"]
    try:
        # The Python streams that wrote to the terminal's descriptors keep writing there.
        for name, fd in (("stdout", 1), ("stderr", 2)):
            if _fileno(streams[name]) == fd:
                setattr(sys, name, _terminal_copy(streams[name], saved[fd]))
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        write_fd = -1
        pump.start()
        _state["verbose"] = verbose
        with warnings.catch_warnings():
            if not verbose:
                root.addHandler(handler)

                def _to_log(message: Any, category: type[Warning], filename: str, lineno: int,
                            file: Any = None, line: str | None = None) -> None:
                    text = warnings.formatwarning(message, category, filename, lineno, line)
                    with lock:
                        log.write(text.encode("utf-8", "replace"))
                        log.flush()

                warnings.showwarning = _to_log
            yield log_path
    finally:
        _state["verbose"] = was_verbose
        root.removeHandler(handler)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        _flush_c_stdio()
        for name, stream in streams.items():
            setattr(sys, name, stream)
        for fd, copy in saved.items():
            os.dup2(copy, fd)  # closes our write end on 1 and 2: the pump reads to the end
        if write_fd >= 0:
            os.close(write_fd)
        if pump.is_alive() or pump.ident is not None:
            pump.join(timeout=5.0)  # a child still holding the pipe must not hang the run
        if not pump.is_alive():
            os.close(read_fd)
            log.close()
        for copy in saved.values():
            os.close(copy)
