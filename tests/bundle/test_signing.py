"""Ed25519 signatures: round trip, wrong and missing signatures refused with --trusted-key, and a
bundle edited and re-hashed after signing refused; keygen, archives, the environment variable."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgekit.bundle import load_bundle, pack_bundle, resolve_trusted_keys
from edgekit.errors import BundleError
from tests.bundle.conftest import (
    assert_one_line_error,
    key_id_of,
    rehash,
    run_cli,
    write_key_pair,
)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _sign(bundle: Path, key: Path) -> dict:
    run = run_cli("sign", bundle, "--key", key)
    assert run.code == 0, run.stderr
    return run.json


def _tamper(bundle: Path) -> None:
    """An attacker's edit: change a model and write its new hash into the manifest."""
    victim = bundle / "variants" / "onnx-a.onnx"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x55
    victim.write_bytes(bytes(data))
    rehash(bundle)


def test_sign_and_verify_round_trip(bundle: Path, keys: dict[str, Path]) -> None:
    signed = _sign(bundle, keys["good"])
    assert signed["signed_by"] == key_id_of(keys["good.pub"])
    run = run_cli("verify", bundle, "--trusted-key", keys["good.pub"])
    assert run.code == 0, run.stderr
    assert run.json["verified"] is True
    assert run.json["signed_by"] == key_id_of(keys["good.pub"])
    assert run.json["signature"] == "trusted"
    assert run.json["bundle_id"] == signed["bundle_id"]
    assert (
        load_bundle(bundle, trusted_keys=resolve_trusted_keys([keys["good.pub"]])).signature.status
        == "trusted"
    )


def test_signature_verifies_with_cryptography_alone(bundle: Path, keys: dict[str, Path]) -> None:
    """The documented format: Ed25519 over b'edgekit-bundle-signature/1\\0' + bundle ID."""
    signed = _sign(bundle, keys["good"])
    doc = json.loads((bundle / "manifest.sig").read_text())
    public = serialization.load_pem_public_key(keys["good.pub"].read_bytes())
    public.verify(  # type: ignore[union-attr]  # raises InvalidSignature if not
        base64.b64decode(doc["signature"]),
        b"edgekit-bundle-signature/1\0" + signed["bundle_id"].encode("ascii"),
    )


def test_a_key_that_did_not_sign_is_refused(bundle: Path, keys: dict[str, Path]) -> None:
    _sign(bundle, keys["good"])
    run = run_cli("verify", bundle, "--trusted-key", keys["other.pub"])
    assert_one_line_error(run, 1, "not a trusted key", key_id_of(keys["good.pub"]))
    assert run.json["verified"] is False and run.json["signed_by"] is None
    with pytest.raises(BundleError, match="refusing a bundle that fails verification: signed by"):
        load_bundle(bundle, trusted_keys=resolve_trusted_keys([keys["other.pub"]]))


def test_any_of_several_trusted_keys_will_do(bundle: Path, keys: dict[str, Path]) -> None:
    _sign(bundle, keys["good"])
    run = run_cli("verify", bundle, "--trusted-key", keys["other.pub"], "--trusted-key", keys["good.pub"])
    assert run.code == 0 and run.json["signed_by"] == key_id_of(keys["good.pub"])


def test_unsigned_bundle_is_refused_with_a_trusted_key(bundle: Path, keys: dict[str, Path]) -> None:
    assert run_cli("verify", bundle).json["signature"] == "none"  # fine without a key: hashes only
    run = run_cli("verify", bundle, "--trusted-key", keys["good.pub"])
    assert_one_line_error(run, 1, "not signed (no manifest.sig)")


def test_edited_and_rehashed_bundle_is_refused(bundle: Path, keys: dict[str, Path]) -> None:
    """The acceptance case: model and hash edited together verify by hashes, not by signature."""
    _sign(bundle, keys["good"])
    _tamper(bundle)
    (bundle / "manifest.sig").rename(bundle.parent / "saved.sig")
    assert run_cli("verify", bundle).code == 0  # hashes alone cannot see it: the README says so
    (bundle.parent / "saved.sig").rename(bundle / "manifest.sig")
    run = run_cli("verify", bundle, "--trusted-key", keys["good.pub"])
    assert_one_line_error(run, 1, "the manifest changed after signing")
    run = run_cli("verify", bundle)  # a stale signature is reported even without a key
    assert run.code == 1


def test_edited_rehashed_and_resigned_by_another_key_is_refused(bundle: Path, keys: dict[str, Path]) -> None:
    _sign(bundle, keys["good"])
    _tamper(bundle)
    _sign(bundle, keys["other"])
    assert run_cli("verify", bundle).code == 0  # valid, but by nobody the device trusts
    run = run_cli("verify", bundle, "--trusted-key", keys["good.pub"])
    assert_one_line_error(run, 1, "not a trusted key")


def test_signature_with_a_forged_bundle_id_does_not_verify(bundle: Path, keys: dict[str, Path]) -> None:
    _sign(bundle, keys["good"])
    _tamper(bundle)
    new_id = run_cli("verify", bundle, "--trusted-key", keys["good.pub"]).json["bundle_id"]
    doc = json.loads((bundle / "manifest.sig").read_text())
    doc["bundle_id"] = new_id
    (bundle / "manifest.sig").write_text(json.dumps(doc))
    run = run_cli("verify", bundle, "--trusted-key", keys["good.pub"])
    assert_one_line_error(run, 1, "does not verify")


@pytest.mark.parametrize(
    "content",
    ["not json", '{"format": "other"}', '{"format": "edgekit-bundle-signature/1", "algorithm": "rsa"}'],
)
def test_malformed_signature_file_fails_verification(bundle: Path, content: str) -> None:
    (bundle / "manifest.sig").write_text(content)
    assert_one_line_error(run_cli("verify", bundle), 1, "manifest.sig: malformed")


def test_signing_an_archive_repacks_it_in_place(bundle: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    m = json.loads((bundle / "manifest.json").read_text())
    _, archive = pack_bundle(
        out, "tiny", {k: v for k, v in m.items() if k != "files"}, {r: bundle / r for r in m["files"]}
    )
    signed = _sign(archive, keys["good"])
    assert sorted(p.name for p in out.iterdir()) == ["bundle", "tiny.bundle.tar.gz"]  # no leftovers
    assert stat.S_IMODE(archive.stat().st_mode) == 0o644 & ~_umask()
    with tarfile.open(archive) as tar:
        assert "tiny.bundle/manifest.sig" in tar.getnames()
        assert {n.split("/")[0] for n in tar.getnames()} == {"tiny.bundle"}
    run = run_cli("verify", archive, "--trusted-key", keys["good.pub"])
    assert run.code == 0 and run.json["bundle_id"] == signed["bundle_id"]


def test_a_bundle_failing_verification_is_not_signed(bundle: Path, keys: dict[str, Path]) -> None:
    (bundle / "variants" / "onnx-b.onnx").write_bytes(b"garbage")
    run = run_cli("sign", bundle, "--key", keys["good"])
    assert_one_line_error(run, 2, "refusing to sign a bundle that fails verification")
    assert not (bundle / "manifest.sig").exists()


def test_environment_variable_adds_trusted_keys(
    bundle: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGEKIT_TRUSTED_KEYS", f"{keys['other.pub']}:{keys['good.pub']}")
    assert_one_line_error(run_cli("verify", bundle), 1, "not signed")
    _sign(bundle, keys["good"])
    assert run_cli("verify", bundle).json["signed_by"] == key_id_of(keys["good.pub"])


def test_keygen_writes_a_usable_pair_with_modes(tmp_path: Path) -> None:
    run = run_cli("keygen", "--out", tmp_path / "release")
    assert run.code == 0, run.stderr
    key, pub = tmp_path / "release.key", tmp_path / "release.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub.stat().st_mode) == 0o644 & ~_umask()
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    assert run.json["key_id"] == key_id_of(pub)
    before = key.read_bytes()
    assert_one_line_error(run_cli("keygen", "--out", tmp_path / "release"), 2, "refusing to overwrite")
    assert key.read_bytes() == before


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_keys_work(bundle: Path, tmp_path: Path) -> None:
    key, pub = tmp_path / "o.pem", tmp_path / "o.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True)
    _sign(bundle, key)
    assert run_cli("verify", bundle, "--trusted-key", pub).json["signed_by"] == key_id_of(pub)


def test_bad_key_files_are_one_line(bundle: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    assert_one_line_error(run_cli("sign", bundle, "--key", keys["good.pub"]), 2, "not a PEM private key")
    assert_one_line_error(
        run_cli("verify", bundle, "--trusted-key", keys["good"]), 2, "a private key; give the public key"
    )
    assert_one_line_error(run_cli("verify", bundle, "--trusted-key", tmp_path / "nope.pub"), 2, "cannot read")
    encrypted = tmp_path / "enc.key"
    encrypted.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    assert_one_line_error(run_cli("sign", bundle, "--key", encrypted), 2, "encrypted private keys")
    other_pub = write_key_pair(tmp_path / "x")[1]
    other_pub.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert_one_line_error(
        run_cli("verify", bundle, "--trusted-key", other_pub), 2, "not an Ed25519 public key"
    )
