"""``manifest.json``: strict parsing, the canonical form, and the bundle ID.

**Canonical manifest.** The JSON Canonicalization Scheme of RFC 8785 (JCS) applied to the parsed
manifest: keys sorted by UTF-16 code units, no whitespace, numbers written as ECMAScript does
(``1.0`` -> ``1``), UTF-8. The signature is never part of it: it lives in its own file
(``manifest.sig``, see :mod:`edgekit.bundle.signing`). JCS is a published standard with
implementations in most languages, so a tool that is not edgekit can recompute the ID.

**Bundle ID.** The lowercase hex SHA-256 of the canonical manifest. The manifest lists the SHA-256
of every file, so the ID names the exact bytes of every model the bundle can load; re-indenting
or re-ordering the manifest keeps it, changing any file (and its hash) changes it.

Parsing is strict so that every reader agrees on what the manifest says: duplicate keys,
``NaN``/``Infinity``, numbers that overflow a double, integers beyond 2**53, lone surrogates and
nesting deeper than :data:`MAX_DEPTH` are refused, as is a manifest larger than
:data:`MAX_MANIFEST_BYTES`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import rfc8785

from edgekit.errors import BundleError

__all__ = [
    "MANIFEST",
    "MANIFEST_SCHEMA_VERSION",
    "MAX_DEPTH",
    "MAX_MANIFEST_BYTES",
    "SIGNATURE",
    "bundle_id",
    "canonical_manifest",
    "parse_manifest",
    "read_manifest_file",
]

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MANIFEST_SCHEMA_VERSION = 1

MAX_MANIFEST_BYTES = 16 << 20
"""A real manifest is tens of KiB; 16 MiB leaves room for large reference statistics."""
MAX_DEPTH = 32
"""Deepest nesting of tables and lists accepted (edgekit writes at most 6 levels)."""
_MAX_SAFE_INT = 2**53 - 1  # JCS numbers are IEEE 754 doubles


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (write null for a missing number)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} overflows a double")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k[:60]!r}")
        out[k] = v
    return out


def _check_domain(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what JCS cannot write, naming the key: deep nesting, huge ints, lone surrogates."""
    if depth > MAX_DEPTH:
        raise BundleError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, f"{where} key")
            _check_domain(v, f"{where}.{k}" if where != "$" else k, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_domain(v, f"{where}[{i}]", depth + 1)
    elif isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INT:
        raise BundleError(f"{where}: integer beyond 2**53 cannot be stored exactly; write it as a string")


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise BundleError(f"{where}: string holds a lone surrogate (\\u{ord(text[e.start]):04x})") from e


def parse_manifest(data: bytes, source: str = MANIFEST) -> dict[str, Any]:
    """Parse manifest bytes strictly (see the module docstring); the result is a JSON object.

    This checks the JSON only; :func:`edgekit.bundle.schema.validate_manifest` checks the fields.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise BundleError(f"{source}: {len(data)} bytes; a manifest may have at most {MAX_MANIFEST_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(f"{source}: not UTF-8 at byte offset {e.start}") from e
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constants,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as e:
        raise BundleError(f"{source}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    except RecursionError as e:
        raise BundleError(f"{source}: nested deeper than {MAX_DEPTH} levels") from e
    except ValueError as e:  # from the hooks, or int() on a number of more than 4300 digits
        raise BundleError(f"{source}: {str(e).splitlines()[0]}") from e
    if not isinstance(value, dict):
        raise BundleError(
            f"{source}: the manifest must be a JSON object, got {type(value).__name__}; "
            "not an edgekit manifest"
        )
    try:
        _check_domain(value, "$")
    except BundleError as e:
        raise BundleError(f"{source}: {e}") from e
    return value


def read_manifest_file(root: Path, display: str | None = None) -> tuple[dict[str, Any], bytes]:
    """Read ``root/manifest.json`` (a regular file, not a link) and parse it; return it and its bytes.

    ``display`` names the manifest in messages (an archive's path instead of where it was unpacked).
    """
    mpath: Path | str = root / MANIFEST
    if display is not None:
        mpath = display
    try:
        st = os.lstat(root / MANIFEST)
    except FileNotFoundError as e:
        # the likeliest mistake: the build's output folder named instead of its bundle/ in it
        hint = ""
        if display in (None, str(root / MANIFEST)) and (root / "bundle" / MANIFEST).is_file():
            hint = f"; the bundle of a build output is {root / 'bundle'}"
        raise BundleError(f"{display or root}: no {MANIFEST}; not an edgekit bundle{hint}") from e
    except OSError as e:
        raise BundleError(f"{mpath}: cannot read ({e.strerror or e})") from e
    if not stat.S_ISREG(st.st_mode):
        raise BundleError(f"{mpath}: not a regular file (a manifest may not be a link or a folder)")
    if st.st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{mpath}: {st.st_size} bytes; a manifest may have at most {MAX_MANIFEST_BYTES}")
    try:
        fd = os.open(root / MANIFEST, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as e:
        raise BundleError(f"{mpath}: cannot read ({e.strerror or e})") from e
    return parse_manifest(data, str(mpath)), data


def canonical_manifest(manifest: dict[str, Any]) -> bytes:
    """The RFC 8785 (JCS) canonical bytes of a parsed manifest."""
    try:
        return bytes(rfc8785.dumps(manifest))
    except rfc8785.CanonicalizationError as e:
        raise BundleError(f"{MANIFEST}: cannot be canonicalised (RFC 8785): {e}") from e


def bundle_id(manifest: dict[str, Any]) -> str:
    """The bundle ID: hex SHA-256 of :func:`canonical_manifest`."""
    return hashlib.sha256(canonical_manifest(manifest)).hexdigest()
