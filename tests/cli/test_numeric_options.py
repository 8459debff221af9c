"""Numeric options where 0, a negative value, NaN or inf means nothing: one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.cli import main

_BENCH = ["bench", "no-such-bundle"]
_AUDIT = ["audit", "no-such-bundle", "--members", "m.npz", "--non-members", "n.npz"]
_EMULATE = ["emulate", "--symlink", "scanner"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        ([*_BENCH, "--duty", "0"], "--duty"),
        ([*_BENCH, "--duty", "-1"], "--duty"),
        ([*_BENCH, "--duty", "nan"], "--duty"),
        ([*_BENCH, "--duty", "inf"], "--duty"),
        ([*_BENCH, "--threads", "0"], "--threads"),
        ([*_BENCH, "--runs", "0"], "--runs"),
        ([*_BENCH, "--batch", "-2"], "--batch"),
        ([*_BENCH, "--window-s", "nan"], "--window-s"),
        ([*_AUDIT, "--max-advantage", "nan"], "--max-advantage"),
        ([*_AUDIT, "--max-advantage", "-0.1"], "--max-advantage"),
        ([*_AUDIT, "--max-advantage", "1.5"], "--max-advantage"),
        ([*_AUDIT, "--bootstrap", "-1"], "--bootstrap"),
        ([*_AUDIT, "--max-rows", "0"], "--max-rows"),
        ([*_EMULATE, "--duration", "0"], "--duration"),
        ([*_EMULATE, "--linger", "-1"], "--linger"),
        ([*_EMULATE, "--linger", "nan"], "--linger"),
        ([*_EMULATE, "--unplug-every", "inf"], "--unplug-every"),
    ],
)
def test_a_meaningless_number_is_one_line_and_exit_2(
    args: list[str], option: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"edgekit: error: {option}: must be "), err[0]
    assert not list(tmp_path.iterdir())  # refused before any folder was made


def test_the_duty_message_names_the_accepted_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_BENCH, "--duty", "0"]) == 2
    line = capsys.readouterr().err.strip()
    assert line == "edgekit: error: --duty: must be a finite number > 0 (captures per second), got 0"
