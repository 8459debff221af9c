"""``edgekit emulate --symlink``: only a missing path, a dangling link or the emulator's own link
is replaced, and the link is gone on every way out (a normal end, an error, a signal)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from edgekit.cli import emulate_cmd, main
from edgekit.emulator.symlink import place_link, remove_link
from edgekit.errors import UsageError
from tests.outdir_snapshot import snapshot

RUN = ["--duration", "0.2", "--power-period-ms", "0"]


def _refused(args: list[str], capsys: pytest.CaptureFixture[str], needle: str) -> None:
    assert main(["emulate", *args, *RUN]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_a_regular_file_is_refused_and_kept(tmp_path: Path, capsys) -> None:
    path = tmp_path / "scanner"
    path.write_text("someone's data")
    before = snapshot(tmp_path)
    _refused(["--symlink", str(path)], capsys, "is a file")
    assert snapshot(tmp_path) == before


def test_a_folder_is_refused_and_kept(tmp_path: Path, capsys) -> None:
    path = tmp_path / "scanner"
    path.mkdir()
    (path / "f").write_text("x")
    before = snapshot(tmp_path)
    _refused(["--symlink", str(path)], capsys, "is a folder")
    assert snapshot(tmp_path) == before


def test_someone_elses_live_symlink_is_refused_and_kept(tmp_path: Path, capsys) -> None:
    (tmp_path / "real-device").write_text("")
    path = tmp_path / "scanner"
    path.symlink_to(tmp_path / "real-device")
    before = snapshot(tmp_path)
    _refused(["--symlink", str(path)], capsys, "live symlink")
    assert snapshot(tmp_path) == before


def test_a_dangling_symlink_is_replaced_then_removed(tmp_path: Path, capsys) -> None:
    path = tmp_path / "scanner"
    path.symlink_to("/dev/pts/edgekit-gone")  # what a killed emulator leaves
    assert main(["emulate", "--symlink", str(path), *RUN]) == 0
    assert f"(symlink {path})" in capsys.readouterr().out
    assert not os.path.lexists(path)
    assert os.listdir(tmp_path) == []  # no temporary link left beside it


def test_truth_naming_a_folder_is_refused_and_no_link_is_left(tmp_path: Path, capsys) -> None:
    path = tmp_path / "scanner"
    (tmp_path / "truth").mkdir()
    _refused(["--symlink", str(path), "--truth", str(tmp_path / "truth")], capsys, "--truth")
    assert not os.path.lexists(path)


def test_an_error_after_the_link_exists_removes_it(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "scanner"
    seen: list[bool] = []

    def failing_run(*_args, **_kw):
        seen.append(path.is_symlink() and os.path.exists(path))  # placed, pointing at the pty
        raise RuntimeError("the scanner loop failed")

    monkeypatch.setattr(emulate_cmd, "run", failing_run)
    assert main(["emulate", "--symlink", str(path), *RUN]) == 70  # a bug: exit 70, traceback shown
    assert seen == [True] and not os.path.lexists(path)


def test_sigterm_before_the_loop_takes_over_signals_removes_the_link(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    path = tmp_path / "scanner"

    def terminated_run(*_args, **_kw):
        assert path.is_symlink()
        os.kill(os.getpid(), signal.SIGTERM)  # handled by the CLI: raises where we are
        pytest.fail("SIGTERM did not stop the command")

    monkeypatch.setattr(emulate_cmd, "run", terminated_run)
    assert main(["emulate", "--symlink", str(path), *RUN]) == 143
    assert capsys.readouterr().err.strip().splitlines() == ["edgekit: terminated"]
    assert not os.path.lexists(path)


def test_place_link_swaps_only_its_own_link(tmp_path: Path) -> None:
    path = tmp_path / "scanner"
    (tmp_path / "a").write_text("")
    (tmp_path / "b").write_text("")
    place_link(path, str(tmp_path / "a"))
    assert os.readlink(path) == str(tmp_path / "a")
    with pytest.raises(UsageError):  # live, and not known as ours
        place_link(path, str(tmp_path / "b"))
    place_link(path, str(tmp_path / "b"), ours={str(tmp_path / "a")})
    assert os.readlink(path) == str(tmp_path / "b")
    assert not remove_link(path, str(tmp_path / "a"))  # not pointing there any more: kept
    assert remove_link(path, str(tmp_path / "b")) and not os.path.lexists(path)
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]
