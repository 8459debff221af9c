"""``edgekit`` under SIGINT and SIGTERM: cleanup runs, one line, exit 130 / 143."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from edgekit.cli import emulate_cmd, main


def _emulate(tmp_path: Path) -> list[str]:
    return ["emulate", "--symlink", str(tmp_path / "s"), "--duration", "0.1"]


@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [(signal.SIGINT, 130, "edgekit: interrupted"), (signal.SIGTERM, 143, "edgekit: terminated")],
)
def test_a_signal_unwinds_the_command_and_prints_one_line(
    tmp_path: Path, monkeypatch, capsys, sig: int, code: int, line: str
) -> None:
    cleaned: list[str] = []

    def command(*_a, **_kw):
        try:
            os.kill(os.getpid(), sig)
            pytest.fail("the signal did not stop the command")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # a second signal must not cut the cleanup short
            cleaned.append("done")

    monkeypatch.setattr(emulate_cmd, "run", command)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    assert main(_emulate(tmp_path)) == code
    assert cleaned == ["done"]
    assert capsys.readouterr().err.strip().splitlines() == [line]  # no "Aborted!", no traceback
    assert {s: signal.getsignal(s) for s in before} == before  # handlers given back


def test_a_signal_the_parent_ignored_stays_ignored(tmp_path: Path, monkeypatch, capsys) -> None:
    def command(*_a, **_kw):
        os.kill(os.getpid(), signal.SIGINT)  # as for a background job started by a shell
        raise SystemExit(0)

    monkeypatch.setattr(emulate_cmd, "run", command)
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert main(_emulate(tmp_path)) == 0
    finally:
        signal.signal(signal.SIGINT, saved)
    assert "interrupted" not in capsys.readouterr().err
