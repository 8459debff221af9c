"""Running the real CLI on a corpus case and checking the promise for bad input.

The promise: exit code 2, exactly one non-empty line on stderr (``edgekit: error: ...``), no
``Traceback`` anywhere, and no file outside the output folder created, changed or removed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgekit.cli import main

__all__ = ["Outcome", "assert_refused", "run_in_process", "run_subprocess", "snapshot"]


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


# Python hides these by default outside __main__; any other warning reaches a user's stderr.
_HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def run_in_process(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """``edgekit.cli.main(argv)`` in this process, with stdout and stderr captured.

    pytest swallows warnings that a user would see on stderr, so they are recorded here and
    added to stderr as Python would print them."""
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(list(argv))
    got = capsys.readouterr()
    shown = "".join(
        warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
        for w in caught
        if not issubclass(w.category, _HIDDEN)
    )
    return Outcome(code, got.out, got.err + shown)


def run_subprocess(argv: Sequence[str], cwd: Path, *, preexec: Callable[[], None] | None = None) -> Outcome:
    """``python -m edgekit argv`` in a fresh interpreter (as a user runs it)."""
    env = {**os.environ, "COLUMNS": "120", "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, "-m", "edgekit", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=300,
        preexec_fn=preexec,  # only resource limits, for the disk-full case
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def snapshot(root: Path, output: Path) -> dict[str, tuple[str, int, str]]:
    """Every path under ``root`` except inside ``output``: kind, size and content hash."""
    seen: dict[str, tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == output or output in here.parents:
            dirnames[:] = []
            continue
        for name in dirnames:
            if here / name != output:
                seen[str(here / name)] = ("dir", 0, "")
        for name in filenames:
            p = here / name
            if p.is_symlink() or not p.is_file():
                seen[str(p)] = ("other", 0, "")
                continue
            seen[str(p)] = ("file", p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
    return seen


def assert_refused(outcome: Outcome, *, mentions: Sequence[str] = ()) -> str:
    """The bad-input promise; returns the error line."""
    lines = [line for line in outcome.err.splitlines() if line.strip()]
    detail = f"exit {outcome.code}\nstderr:\n{outcome.err}\nstdout:\n{outcome.out[-2000:]}"
    assert "Traceback" not in outcome.err and "Traceback" not in outcome.out, detail
    assert outcome.code == 2, detail
    assert len(lines) == 1, detail
    line = lines[0]
    assert line.startswith("edgekit: error: "), detail
    for text in mentions:
        assert text in line, f"{text!r} not named in: {line}"
    return line
