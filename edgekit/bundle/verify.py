"""Checking a bundle, and loading one so that only verified files are ever opened.

A bundle (a folder, or an archive unpacked by :mod:`edgekit.bundle.archive`) passes when its
manifest is well formed (:mod:`edgekit.bundle.schema`), every file listed in ``files`` resolves
inside the bundle to a regular file with the listed SHA-256, nothing else is in the folder, and
``manifest.sig``, when present or required by a trusted key, holds. :func:`load_bundle` is the only
way bench (and the daemon) get a model: :meth:`Bundle.model_path` re-checks, right before the
model is opened, the hash of every file the variant loads.

What is left: a folder bundle that another user can write may be changed between that check and
the runtime opening the file; unpack an archive into a private folder (as ``edgekit bench`` does)
or keep the folder writable by its owner only.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.bundle.archive import ArchiveLimits, unpack_archive
from edgekit.bundle.manifest import MANIFEST, SIGNATURE, bundle_id, read_manifest_file
from edgekit.bundle.schema import tflite_sidecar, validate_manifest
from edgekit.bundle.signature import SignatureCheck, TrustedKey, check_signature
from edgekit.errors import BundleError

__all__ = [
    "Bundle",
    "Verification",
    "check_bundle",
    "check_files",
    "load_bundle",
    "sha256_file",
    "verify_bundle",
]

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256_regular(path: Path) -> str | None:
    """SHA-256 of ``path`` if it is a regular file (opened without following a link or blocking)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        h = hashlib.sha256()
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_file(root: Path, rel: str, digest: str) -> str | None:
    """Why ``root/rel`` is not the file the manifest lists, or None when it is."""
    try:
        real = (root / rel).resolve(strict=True)
    except FileNotFoundError:
        return f"{rel}: missing"
    except (OSError, RuntimeError) as e:  # a link loop is RuntimeError in Python 3.11
        return f"{rel}: cannot be resolved ({e})"
    if not real.is_relative_to(root.resolve()):
        return f"{rel}: resolves to {real}, outside the bundle"
    try:
        actual = _sha256_regular(real)
    except OSError as e:
        return f"{rel}: cannot be read ({e.strerror or e})"
    if actual is None:
        return f"{rel}: not a regular file"
    if actual != digest:
        return f"{rel}: SHA-256 does not match the manifest"
    return None


def _unlisted(root: Path, files: dict[str, str]) -> list[str]:
    problems = []
    for top, dirs, names in os.walk(root, followlinks=False):
        here = Path(top)
        for d in dirs:
            if (here / d).is_symlink():
                problems.append(f"{(here / d).relative_to(root).as_posix()}: a link to a folder; not allowed")
        for n in names:
            rel = (here / n).relative_to(root).as_posix()
            if rel not in files and rel not in (MANIFEST, SIGNATURE):
                problems.append(f"{rel}: not listed in the manifest")
    return sorted(problems)


@dataclass(frozen=True)
class Verification:
    """The outcome of checking one bundle: its ID, signature status, and every problem found."""

    source: Path
    bundle_id: str
    signature: SignatureCheck
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def refusal(self) -> str:
        """One line for a loader that refuses this bundle."""
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{self.source}: refusing a bundle that fails verification: {self.problems[0]}{more}"


def check_files(root: Path, source: Path | None = None) -> tuple[dict[str, Any], str, list[str]]:
    """Manifest, bundle ID and file problems of the bundle folder ``root`` (no signature check).

    ``source`` names the bundle in messages (an archive unpacked at ``root``).
    """
    source = source or root
    if not root.is_dir():
        raise BundleError(f"{source}: no such bundle (a folder or a .tar.gz archive)")
    display = str(root / MANIFEST) if source == root else f"{source}: {MANIFEST}"
    manifest, _ = read_manifest_file(root, display)
    validate_manifest(manifest, display)
    files: dict[str, str] = manifest["files"]
    problems = [p for rel, digest in files.items() if (p := _check_file(root, rel, digest))]
    problems += _unlisted(root, files)
    if not problems:  # only then are the model files worth parsing
        for var in manifest["variants"]:
            problems += _undeclared_reads(root, var)
    return manifest, bundle_id(manifest), problems


def _check_folder(
    root: Path, source: Path, trusted: Sequence[TrustedKey]
) -> tuple[dict[str, Any], Verification]:
    manifest, bid, problems = check_files(root, source)
    signature = check_signature(root, bid, trusted)
    if signature.problem:
        problems.append(signature.problem)
    return manifest, Verification(source, bid, signature, tuple(problems))


def check_bundle(
    path: str | Path, *, trusted_keys: Sequence[TrustedKey] = (), limits: ArchiveLimits | None = None
) -> Verification:
    """Check a bundle folder or archive. Raises :class:`BundleError` for input that is not a
    bundle (no or malformed manifest, unreadable or unsafe archive); returns the problems of a
    well-formed bundle that fails (hashes, missing or unlisted files, signature)."""
    p = Path(path)
    if p.is_file():
        with tempfile.TemporaryDirectory(prefix="edgekit-verify-") as tmp:
            return _check_folder(unpack_archive(p, Path(tmp), limits), p, trusted_keys)[1]
    return _check_folder(p, p, trusted_keys)[1]


def verify_bundle(
    path: str | Path, *, trusted_keys: Sequence[TrustedKey] = (), limits: ArchiveLimits | None = None
) -> list[str]:
    """Problems found (empty when the bundle verifies); see :func:`check_bundle`."""
    return list(check_bundle(path, trusted_keys=trusted_keys, limits=limits).problems)


def _onnx_external_files(model_path: Path) -> set[str]:
    """Locations of the external tensor data an ONNX model names (relative to its folder)."""
    import onnx
    from onnx import TensorProto

    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception as e:  # protobuf's DecodeError and friends: the runtime would refuse it too
        raise BundleError(f"{model_path.name}: not a readable ONNX model: {str(e)[:200]}") from e
    found: set[str] = set()

    def tensor(t: TensorProto) -> None:
        if t.data_location == TensorProto.EXTERNAL:
            found.update(e.value for e in t.external_data if e.key == "location")

    def graph(g: onnx.GraphProto) -> None:
        for t in g.initializer:
            tensor(t)
        for s in g.sparse_initializer:
            tensor(s.values)
            tensor(s.indices)
        nodes(g.node)

    def nodes(ns: Sequence[onnx.NodeProto]) -> None:
        for n in ns:
            for a in n.attribute:
                tensor(a.t)
                for t in a.tensors:
                    tensor(t)
                graph(a.g)
                for g in a.graphs:
                    graph(g)

    graph(model.graph)
    for f in model.functions:
        nodes(f.node)
    return found


def _undeclared_reads(root: Path, var: dict[str, Any]) -> list[str]:
    """Files loading ``var`` would read beyond its ``file`` and ``extra_files``: the TFLite layout
    sidecar beside the model, an ONNX model's external tensor data."""
    rel: str = var["file"]
    extras = set(var.get("extra_files") or [])
    where = f"variant {var['name']!r}"
    if var["runtime"] == "tl2cgen":  # a shared library reads nothing; its siblings are extra_files
        return []
    if var["runtime"] == "tflite":
        sidecar = tflite_sidecar(rel)
        if sidecar not in extras and os.path.lexists(root / sidecar):
            return [f"{where}: the TFLite backend would read {sidecar}, which is not in its extra_files"]
        return []
    try:
        locations = _onnx_external_files(root / rel)
    except BundleError as e:
        return [f"{where}: {e}"]
    problems = []
    for loc in sorted(locations):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), loc))
        if loc.startswith("/") or target not in extras:
            problems.append(
                f"{where}: the model reads external data {loc!r}, which is not in its extra_files"
            )
    return problems


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its folder, parsed manifest, bundle ID and signature status."""

    root: Path
    manifest: dict[str, Any]
    bundle_id: str = ""
    signature: SignatureCheck = field(default_factory=lambda: SignatureCheck("none"))

    def variant(self, name: str | None = None) -> dict[str, Any]:
        """The named variant (default: the selected one)."""
        want = name or self.manifest.get("selected")
        for v in self.manifest["variants"]:
            if v["name"] == want:
                return dict(v)
        names = [v["name"] for v in self.manifest["variants"]]
        raise BundleError(f"{self.root}: no variant {want!r} in the bundle; it has {names}")

    def model_path(self, name: str) -> Path:
        """The model file of variant ``name``, after checking, now, every file loading it reads.

        Those are ``file``, ``extra_files``, the TFLite layout sidecar and an ONNX model's
        external data: each must be listed, inside the bundle and match its SHA-256.
        """
        var = self.variant(name)
        rel: str = var["file"]
        files: dict[str, str] = self.manifest["files"]
        for r in (rel, *(var.get("extra_files") or [])):
            problem = _check_file(self.root, r, files[r])
            if problem:
                raise BundleError(f"{self.root}: refusing to load variant {name!r}: {problem}")
        undeclared = _undeclared_reads(self.root, var)
        if undeclared:
            raise BundleError(f"{self.root}: refusing to load {undeclared[0]}")
        return self.root / rel

    def file_path(self, rel: str) -> Path:
        """Any other file the manifest lists (a baseline model, say), checked now like a variant's."""
        files: dict[str, str] = self.manifest["files"]
        if rel not in files:
            raise BundleError(f"{self.root}: refusing to load {rel!r}: not listed in the manifest's files")
        problem = _check_file(self.root, rel, files[rel])
        if problem:
            raise BundleError(f"{self.root}: refusing to load {problem}")
        return self.root / rel


def load_bundle(
    path: str | Path,
    *,
    extract_to: Path | None = None,
    trusted_keys: Sequence[TrustedKey] = (),
    limits: ArchiveLimits | None = None,
) -> Bundle:
    """Verify and open a bundle folder or archive; refuse it (``BundleError``) if it fails.

    An archive is unpacked into ``extract_to`` (an empty folder; a new temporary one by default).
    With ``trusted_keys`` the bundle must carry a signature by one of them.
    """
    p = Path(path)
    root = p
    if p.is_file():
        dest = extract_to or Path(tempfile.mkdtemp(prefix="edgekit-bundle-"))
        root = unpack_archive(p, dest, limits)
    manifest, result = _check_folder(root, p, trusted_keys)
    if not result.ok:
        raise BundleError(result.refusal())
    return Bundle(root, manifest, result.bundle_id, result.signature)
