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


def _public_key(tmp_path, name: str = "ops"):
    """An Ed25519 key pair written with cryptography itself (not edgekit's keygen)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    key = tmp_path / f"{name}.key"
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pub = tmp_path / f"{name}.pub"
    pub.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pub


def _run_args(bundle, tmp_path) -> list[str]:
    return [
        "run",
        str(bundle),
        "--port",
        str(tmp_path / "no-such-port"),
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--metrics-addr",
        "off",
        "--meter",
        "none",
    ]


def test_an_unsigned_bundle_is_refused_when_a_key_is_trusted(bundle, tmp_path, capsys):
    _, pub = _public_key(tmp_path)
    assert main([*_run_args(bundle, tmp_path), "--trusted-key", str(pub)]) == 2
    err = _one_line_error(capsys)
    assert "sign" in err.lower() and str(bundle) in err
    assert not (tmp_path / "j.sqlite").exists()  # refused before anything was opened


def test_an_unsigned_bundle_is_refused_when_the_environment_trusts_a_key(
    bundle, tmp_path, capsys, monkeypatch
):
    _, pub = _public_key(tmp_path)
    monkeypatch.setenv("EDGEKIT_TRUSTED_KEYS", str(pub))
    assert main(_run_args(bundle, tmp_path)) == 2
    assert "sign" in _one_line_error(capsys).lower()


def test_a_bundle_signed_by_a_trusted_key_gets_past_verification(tmp_path, capsys):
    from edgekit.bundle.sign import sign_bundle

    signed = write_bundle(tmp_path / "signed")
    key, pub = _public_key(tmp_path)
    _, other_pub = _public_key(tmp_path, "other")
    sign_bundle(signed, key)
    assert main([*_run_args(signed, tmp_path), "--trusted-key", str(other_pub)]) == 2
    assert "--port" not in _one_line_error(capsys)  # signed, but by a key nobody trusts
    assert main([*_run_args(signed, tmp_path), "--trusted-key", str(pub)]) == 2
    assert "--port" in _one_line_error(capsys)  # verified; it is the missing port that stops it
