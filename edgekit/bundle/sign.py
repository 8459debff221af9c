"""``edgekit sign`` and ``edgekit keygen``: signing a bundle folder or archive, making a key pair.

A bundle is signed only when it verifies (every hash matches, nothing unlisted), so a signature
never blesses a bundle that was already damaged. An archive is unpacked into a private temporary
folder, signed there, and re-packed beside the original, which it then replaces atomically.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgekit.bundle.archive import ArchiveLimits, file_mode, pack_archive, unpack_archive
from edgekit.bundle.manifest import SIGNATURE
from edgekit.bundle.signature import key_id, load_private_key, signature_document
from edgekit.bundle.verify import check_files
from edgekit.errors import BundleError, UsageError

__all__ = ["KeyPair", "Signed", "generate_key_pair", "sign_bundle"]


@dataclass(frozen=True)
class Signed:
    """What ``sign_bundle`` did: the bundle (folder or archive), its ID, and the signing key's ID."""

    path: Path
    bundle_id: str
    key_id: str


def _write_signature(root: Path, text: str) -> None:
    """Write ``root/manifest.sig`` atomically; an existing one is replaced only if it is a file."""
    target = root / SIGNATURE
    if os.path.lexists(target) and not stat.S_ISREG(os.lstat(target).st_mode):
        raise BundleError(f"{target}: exists and is not a file; refusing to replace it")
    fd, part = tempfile.mkstemp(prefix=".manifest-", suffix=".sig.part", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(part, file_mode())
        os.replace(part, target)
    finally:
        if os.path.exists(part):
            os.unlink(part)


def _sign_folder(root: Path, source: Path, private: Ed25519PrivateKey) -> str:
    _, bid, problems = check_files(root, source)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BundleError(f"{source}: refusing to sign a bundle that fails verification: {problems[0]}{more}")
    _write_signature(root, json.dumps(signature_document(bid, private), indent=2) + "\n")
    return bid


def sign_bundle(path: str | Path, key: Path, *, limits: ArchiveLimits | None = None) -> Signed:
    """Sign the bundle folder or archive at ``path`` with the Ed25519 private key file ``key``."""
    private = load_private_key(Path(key))
    p = Path(path)
    try:
        if p.is_file():
            with tempfile.TemporaryDirectory(prefix="edgekit-sign-") as tmp:
                root = unpack_archive(p, Path(tmp), limits)
                bid = _sign_folder(root, p, private)
                pack_archive(root, p, root.name)
        elif p.is_dir():
            bid = _sign_folder(p, p, private)
        else:
            raise BundleError(f"{p}: no such bundle (a folder or a .tar.gz archive)")
    except OSError as e:
        raise BundleError(f"{p}: cannot write the signed bundle ({e.strerror or e})") from e
    return Signed(p, bid, key_id(private.public_key()))


@dataclass(frozen=True)
class KeyPair:
    """The files ``generate_key_pair`` wrote and the public key's ID."""

    private: Path
    public: Path
    key_id: str


def _create(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def generate_key_pair(prefix: str | Path) -> KeyPair:
    """Write a new Ed25519 key pair: ``PREFIX.key`` (PKCS#8 PEM, 0600) and ``PREFIX.pub`` (0644).

    Existing files are never overwritten: a lost signing key cannot be recovered.
    """
    private_path, public_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for p in (private_path, public_path):
        if os.path.lexists(p):
            raise UsageError(f"{p}: already exists; refusing to overwrite a key")
    if not private_path.parent.is_dir():
        raise UsageError(f"{private_path.parent}: no such folder for the key pair")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        _create(private_path, pem, 0o600)
        os.chmod(private_path, 0o600)
    except OSError as e:
        raise UsageError(f"{private_path}: cannot write the private key ({e.strerror or e})") from e
    try:
        _create(public_path, public_pem, 0o644)
    except OSError as e:
        private_path.unlink()  # ours: created just above with O_EXCL
        raise UsageError(f"{public_path}: cannot write the public key ({e.strerror or e})") from e
    return KeyPair(private_path, public_path, key_id(private.public_key()))
