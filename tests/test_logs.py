"""edgekit.logs.captured: what the runtimes print reaches the log, edgekit's own lines do not."""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

import pytest

from edgekit.logs import captured, is_verbose


def _noise() -> None:
    os.write(2, b"native stderr line\n")  # as C++ code writes: straight to the descriptor
    os.write(1, b"native stdout line\n")
    subprocess.run(["sh", "-c", "echo child stderr line >&2"], check=True)
    warnings.warn("a library warning", UserWarning, stacklevel=1)
    logging.getLogger("somelib").warning("a library log record")


def test_quiet_sends_descriptors_warnings_and_logging_to_the_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "logs" / "runtime.log"
    with captured(log):
        assert not is_verbose()
        _noise()
        print("edgekit progress line")  # sys.stdout: edgekit's own, stays on the terminal
    out, err = capfd.readouterr()
    text = log.read_text()
    for line in ("native stderr line", "native stdout line", "child stderr line",
                 "a library warning", "a library log record"):
        assert line in text, line
        assert line not in out + err, line
    assert "edgekit progress line" in out and "edgekit progress line" not in text
    os.write(2, b"after the block\n")  # the descriptors are back
    assert "after the block" in capfd.readouterr().err


def test_verbose_shows_the_output_and_keeps_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "runtime.log"
    with captured(log, verbose=True):
        assert is_verbose()
        os.write(2, b"native stderr line\n")
        subprocess.run(["sh", "-c", "echo child stderr line >&2"], check=True)
    assert not is_verbose()
    err = capfd.readouterr().err
    assert "native stderr line" in err and "child stderr line" in err
    assert "native stderr line" in log.read_text() and "child stderr line" in log.read_text()


def test_an_error_in_the_block_restores_the_descriptors(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(KeyError), captured(tmp_path / "runtime.log"):
        raise KeyError("boom")
    os.write(2, b"visible again\n")
    assert "visible again" in capfd.readouterr().err
