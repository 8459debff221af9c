"""``edgekit run`` / ``status``: operator mistakes are one line on stderr and exit code 2."""

from __future__ import annotations

import sqlite3

import pytest

from edgekit.cli import main
from tests.runtime.bundles import write_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return write_bundle(tmp_path_factory.mktemp("b") / "bundle")


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_port_that_is_not_there(bundle, tmp_path, capsys):
    args = [
        "run",
        str(bundle),
        "--port",
        str(tmp_path / "nope"),
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--metrics-addr",
        "off",
        "--meter",
        "none",
    ]
    assert main(args) == 2
    assert "--port" in _one_line_error(capsys)


def test_an_unknown_variant(bundle, tmp_path, capsys):
    args = [
        "run",
        str(bundle),
        "--port",
        "loop://",
        "--variant",
        "tflite-int9",
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--metrics-addr",
        "off",
    ]
    assert main(args) == 2
    assert "no variant 'tflite-int9'" in _one_line_error(capsys)


def test_a_bad_config_key(bundle, tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text("[runtime.journal]\ncommit_every = 3\n")
    assert main(["run", str(bundle), "--port", "loop://", "--config", str(cfg)]) == 2
    assert "runtime.journal.commit_every: unknown key" in _one_line_error(capsys)


def test_a_journal_path_holding_another_database_is_refused(bundle, tmp_path, capsys):
    other = tmp_path / "app.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE x (y)")
    db.commit()
    db.close()
    args = [
        "run",
        str(bundle),
        "--port",
        "loop://",
        "--journal",
        str(other),
        "--metrics-addr",
        "off",
        "--meter",
        "none",
    ]
    assert main(args) == 2
    assert "another application" in _one_line_error(capsys)


def test_a_tampered_bundle_is_refused_before_loading(bundle, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    model = next((bad / "variants").iterdir())
    model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    assert main(["run", str(bad), "--port", "loop://", "--metrics-addr", "off"]) == 2
    assert "fails verification" in _one_line_error(capsys)


def test_status_without_a_daemon(capsys):
    assert main(["status", "--addr", "127.0.0.1:1"]) == 2
    assert "no edgekit run answering" in _one_line_error(capsys)
