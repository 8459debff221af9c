"""The last boundary of the CLI: environment failures are one line, bugs say they are bugs."""

from __future__ import annotations

import errno

import pytest

from edgekit.cli import _errors, main


def test_disk_full_names_the_path_and_exits_2() -> None:
    line, code = _errors.describe(OSError(errno.ENOSPC, "No space left on device", "/data/out.npz")) or (
        "",
        0,
    )
    assert (line, code) == ("disk full: /data/out.npz", 2)


def test_read_only_and_permission_denied() -> None:
    assert _errors.describe(OSError(errno.EROFS, "x", "/ro/f")) == ("read-only file system: /ro/f", 2)
    assert _errors.describe(PermissionError(errno.EACCES, "x", "/a", None, "/b")) == (
        "permission denied: /a -> /b",
        2,
    )


def test_memory_and_eof_are_input_errors() -> None:
    assert (_errors.describe(MemoryError()) or ("", 0))[1] == 2
    line, _ = _errors.describe(EOFError("Compressed file ended")) or ("", 0)
    assert "truncated" in line and "Compressed file ended" in line


def test_other_exceptions_are_bugs() -> None:
    assert _errors.describe(ZeroDivisionError("x")) is None


def test_one_line_joins_lines_and_shows_control_characters() -> None:
    assert _errors.one_line("a\n\n  b\r\nc\x1b[31m") == "a; b; c\\x1b[31m"


def test_a_bug_keeps_its_traceback_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("edgekit.cli.inspect_cmd.inspect_model", boom)
    assert main(["inspect", "whatever.onnx"]) == _errors.BUG_EXIT
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("edgekit: internal error (a bug in edgekit")


def test_argument_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "synth", "--n", "1e12", "--seed", "1", "--out", "x.npz"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--n" in err and "edgekit data synth --help" in err
