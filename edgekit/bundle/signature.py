"""Ed25519 signatures of bundles: keys, the ``manifest.sig`` format, and checking it.

Hashes in the manifest catch corruption and accidents; anyone who edits a model can edit its hash
too. A signature catches that, but only when checked against a key the device trusts: the
signature file carries its own public key, which proves nothing by itself.

``manifest.sig`` (beside ``manifest.json``, never listed in ``files``) is a JSON object::

    {"format": "edgekit-bundle-signature/1", "algorithm": "ed25519",
     "bundle_id": "<hex SHA-256 of the canonical manifest>", "key_id": "ed25519:<16 hex>",
     "public_key": "<base64 of the 32-byte raw key>", "signature": "<base64 of 64 bytes>"}

The signed message is ``b"edgekit-bundle-signature/1\\0" + bundle_id`` (ASCII hex): the bundle ID
covers the manifest, whose ``files`` cover every file, and the prefix keeps the signature from
meaning anything outside edgekit. Keys are PEM files as written by ``edgekit keygen``, the
``cryptography`` package or ``openssl genpkey -algorithm ed25519`` (public: ``openssl pkey
-pubout``); a trusted key may also be an OpenSSH ``ssh-ed25519`` public key line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgekit.bundle.manifest import SIGNATURE
from edgekit.errors import UsageError

__all__ = [
    "ENV_TRUSTED_KEYS",
    "SIGNATURE_FORMAT",
    "SignatureCheck",
    "TrustedKey",
    "check_signature",
    "key_id",
    "load_private_key",
    "load_trusted_key",
    "resolve_trusted_keys",
    "signature_document",
]

SIGNATURE_FORMAT = "edgekit-bundle-signature/1"
ENV_TRUSTED_KEYS = "EDGEKIT_TRUSTED_KEYS"
"""Trusted public key files, separated by ':' (os.pathsep); added to any --trusted-key."""
_MAX_KEY_BYTES = 64 << 10
_MAX_SIGNATURE_BYTES = 64 << 10


def _message(bundle_id: str) -> bytes:
    return SIGNATURE_FORMAT.encode("ascii") + b"\0" + bundle_id.encode("ascii")


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: ``ed25519:`` and 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(_raw(public)).hexdigest()[:16]


@dataclass(frozen=True)
class TrustedKey:
    """A public key the device trusts, and the file it was read from."""

    public: Ed25519PublicKey
    source: str

    @property
    def key_id(self) -> str:
        return key_id(self.public)


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > _MAX_KEY_BYTES:
            raise UsageError(f"{path}: too large to be an Ed25519 {what} key")
        return path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read the {what} key ({e.strerror or e})") from e


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted Ed25519 private key in PEM (PKCS#8); UsageError naming the file otherwise."""
    data = _read_key_file(path, "private")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as e:  # cryptography's way of saying the key is encrypted
        raise UsageError(f"{path}: encrypted private keys are not supported; decrypt it first") from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise UsageError(
            f"{path}: not a PEM private key (expected '-----BEGIN PRIVATE KEY-----', Ed25519, "
            "as written by 'edgekit keygen' or 'openssl genpkey -algorithm ed25519')"
        ) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(
            f"{path}: a {type(key).__name__.removesuffix('PrivateKey')} key; bundles are signed with Ed25519"
        )
    return key


def load_trusted_key(path: Path) -> TrustedKey:
    """An Ed25519 public key in PEM or OpenSSH form; UsageError naming the file otherwise."""
    data = _read_key_file(path, "public")
    if b"PRIVATE KEY" in data:
        raise UsageError(f"{path}: a private key; give the public key (edgekit keygen writes PREFIX.pub)")
    try:
        if data.lstrip().startswith(b"ssh-"):
            key: Any = serialization.load_ssh_public_key(data.strip())
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise UsageError(
            f"{path}: not an Ed25519 public key "
            "(expected PEM '-----BEGIN PUBLIC KEY-----' or 'ssh-ed25519 ...')"
        ) from e
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(
            f"{path}: a {type(key).__name__.removesuffix('PublicKey')} key; bundles are signed with Ed25519"
        )
    return TrustedKey(key, str(path))


def resolve_trusted_keys(
    paths: Sequence[Path], environ: Mapping[str, str] | None = None
) -> tuple[TrustedKey, ...]:
    """The keys of ``--trusted-key`` plus those named in ``$EDGEKIT_TRUSTED_KEYS``, without repeats.

    The variable adds to the option rather than yielding to it, so a policy set for a service
    (systemd ``Environment=``) cannot be dropped by a command line.
    """
    env = os.environ if environ is None else environ
    named = [Path(p) for p in paths]
    named += [Path(p) for p in env.get(ENV_TRUSTED_KEYS, "").split(os.pathsep) if p.strip()]
    keys: dict[str, TrustedKey] = {}
    for p in named:
        k = load_trusted_key(p)
        keys.setdefault(k.key_id, k)
    return tuple(keys.values())


def signature_document(bundle_id: str, private: Ed25519PrivateKey) -> dict[str, str]:
    """The ``manifest.sig`` object signing ``bundle_id`` with ``private``."""
    public = private.public_key()
    return {
        "format": SIGNATURE_FORMAT,
        "algorithm": "ed25519",
        "bundle_id": bundle_id,
        "key_id": key_id(public),
        "public_key": base64.b64encode(_raw(public)).decode("ascii"),
        "signature": base64.b64encode(private.sign(_message(bundle_id))).decode("ascii"),
    }


@dataclass(frozen=True)
class SignatureCheck:
    """What ``manifest.sig`` says: ``status`` none / untrusted (valid, no trusted key to check
    against) / trusted (valid, by ``key_id``, a trusted key); ``problem`` when it fails."""

    status: Literal["none", "untrusted", "trusted"]
    key_id: str | None = None
    problem: str | None = None


def _b64(doc: dict[str, Any], key: str, size: int) -> bytes:
    try:
        raw = base64.b64decode(str(doc.get(key, "")), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"'{key}' is not base64") from e
    if len(raw) != size:
        raise ValueError(f"'{key}' must hold {size} bytes, got {len(raw)}")
    return raw


def _read_document(path: Path) -> dict[str, Any]:
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_SIGNATURE_BYTES:
        raise ValueError("not a regular file of at most 64 KiB")
    doc = json.loads(path.read_bytes().decode("utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != SIGNATURE_FORMAT:
        raise ValueError(f"not an edgekit signature (format {SIGNATURE_FORMAT!r} expected)")
    if doc.get("algorithm") != "ed25519":
        raise ValueError(f"algorithm {doc.get('algorithm')!r}; only 'ed25519' is accepted")
    return doc


def check_signature(root: Path, bundle_id: str, trusted: Sequence[TrustedKey]) -> SignatureCheck:
    """Check ``root/manifest.sig`` against ``bundle_id`` and, when given, the trusted keys.

    With trusted keys a bundle must be signed by one of them; without, a signature that is present
    must still be intact and for this manifest (a stale one is reported), but proves nothing.
    """
    path = root / SIGNATURE
    names = ", ".join(f"{k.key_id} ({k.source})" for k in trusted)
    if not os.path.lexists(path):
        if trusted:
            return SignatureCheck("none", problem=f"not signed (no {SIGNATURE}); trusted keys: {names}")
        return SignatureCheck("none")
    try:
        doc = _read_document(path)
        public = Ed25519PublicKey.from_public_bytes(_b64(doc, "public_key", 32))
        signature = _b64(doc, "signature", 64)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
        return SignatureCheck(
            "none", problem=f"{SIGNATURE}: malformed: {str(e).splitlines()[0] if str(e) else e!r}"
        )
    signer = key_id(public)
    if doc.get("bundle_id") != bundle_id:
        return SignatureCheck(
            "none",
            signer,
            f"{SIGNATURE}: signs bundle ID {str(doc.get('bundle_id'))[:64]}, but this manifest's ID is "
            f"{bundle_id}: the manifest changed after signing",
        )
    try:
        public.verify(signature, _message(bundle_id))
    except InvalidSignature:
        return SignatureCheck(
            "none", signer, f"{SIGNATURE}: the signature does not verify (damaged or forged)"
        )
    if not trusted:
        return SignatureCheck("untrusted", signer)
    if not any(_raw(k.public) == _raw(public) for k in trusted):
        return SignatureCheck(
            "untrusted", signer, f"signed by {signer}, which is not a trusted key (trusted: {names})"
        )
    return SignatureCheck("trusted", signer)
