"""The deployable bundle: variant files plus ``manifest.json``, as a folder and a single archive.

The manifest carries a schema version, the SHA-256 of every file, the input/output spec, labels,
the preprocessing spec, the OOD threshold, reference statistics for drift monitoring, the budgets
and the measured figures with provenance, and tool versions. :func:`verify_bundle` re-checks every
hash; :func:`load_bundle` refuses a bundle that fails it, so a tampered model is never loaded.
Writes are atomic: a bundle is built in a temporary folder and renamed into place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit._json import json_safe
from edgekit.errors import BundleError

if TYPE_CHECKING:
    from edgekit.config import BuildConfig
    from edgekit.model_info import ModelInfo
    from edgekit.results import BuildResult

__all__ = [
    "MANIFEST",
    "MANIFEST_SCHEMA_VERSION",
    "Bundle",
    "load_bundle",
    "verify_bundle",
    "write_bundle",
]

MANIFEST = "manifest.json"
MANIFEST_SCHEMA_VERSION = 1


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_bundle(
    result: BuildResult,
    cfg: BuildConfig,
    build_dir: Path,
    *,
    labels: list[str],
    input_name: str,
    out_index: int,
    info: ModelInfo,
    backend_options: dict[str, dict[str, Any]],
    reference_stats: dict[str, Any],
) -> tuple[Path, Path]:
    """Write ``<build_dir>/bundle/`` and ``<build_dir>/<name>.bundle.tar.gz``; return both paths.

    The bundle holds the selected variant and every other passing one; with no passing variant
    (a rejected build) it holds every built variant, so the rejection can be inspected.
    """
    from edgekit import __version__

    shipped = [v for v in result.variants if v.passed] or [
        v for v in result.variants if v.status == "built"
    ]
    name = result.model_name
    final = build_dir / "bundle"
    tmp = Path(tempfile.mkdtemp(prefix=".bundle-", dir=build_dir))
    try:
        (tmp / "variants").mkdir()
        files: dict[str, str] = {}
        variants = []
        for v in shipped:
            src = build_dir / v.path
            rel = f"variants/{src.name}"
            shutil.copy2(src, tmp / rel)
            files[rel] = sha256_file(tmp / rel)
            extra = []
            for e in v.meta.get("extra_files", []):
                erel = f"variants/{e}"
                shutil.copy2(build_dir / "variants" / e, tmp / erel)
                files[erel] = sha256_file(tmp / erel)
                extra.append(erel)
            variants.append(
                {
                    "name": v.name,
                    "file": rel,
                    "extra_files": extra,
                    "runtime": v.runtime,
                    "precision": v.precision,
                    "passed": v.passed,
                    "size_bytes": v.size_bytes,
                    "backend_options": backend_options.get(v.name, {}),
                    "accuracy": v.accuracy.accuracy if v.accuracy else None,
                    "ood_threshold": v.accuracy.ood.threshold
                    if v.accuracy and v.accuracy.ood
                    else None,
                    "latency": dataclasses.asdict(v.latency) if v.latency else None,
                    "energy": dataclasses.asdict(v.energy) if v.energy else None,
                    "checks": [dataclasses.asdict(c) for c in v.checks],
                    "meta": v.meta,
                }
            )
        selected = result.selected
        sel = next((v for v in shipped if v.name == selected), None)
        manifest = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "name": name,
            "description": cfg.model.description,
            "created_by": f"edgekit {__version__}",
            "created_at": result.started_at,
            "verdict": result.verdict,
            "selected": selected,
            "selection_reason": result.selection_reason,
            "variants": variants,
            "input": {
                "name": input_name,
                "shape": next(i.shape for i in info.inputs if i.name == input_name),
                "dtype": next(i.dtype for i in info.inputs if i.name == input_name),
            },
            "output": {
                "index": out_index,
                "kind": cfg.model.output,
                "name": info.outputs[out_index].name,
                "shape": info.outputs[out_index].shape,
            },
            "labels": labels,
            "preprocess": cfg.preprocess,
            "ood": {
                "score": cfg.ood.score,
                "threshold": sel.accuracy.ood.threshold
                if sel and sel.accuracy and sel.accuracy.ood
                else None,
                "target_in_distribution_accept": cfg.ood.target_in_distribution_accept,
            },
            "reference_statistics": reference_stats,
            "budgets": dataclasses.asdict(cfg.budgets),
            "battery": dataclasses.asdict(cfg.battery),
            "versions": result.versions,
            "host": result.host,
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(json_safe(manifest), indent=2, allow_nan=False))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    archive = build_dir / f"{name}.bundle.tar.gz"
    fd, part = tempfile.mkstemp(prefix=".bundle-", suffix=".tar.gz", dir=build_dir)
    os.close(fd)
    try:
        with tarfile.open(part, "w:gz") as tar:
            tar.add(final, arcname=f"{name}.bundle")
        os.replace(part, archive)
    finally:
        if os.path.exists(part):
            os.unlink(part)
    return final, archive


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its folder and parsed manifest."""

    root: Path
    manifest: dict[str, Any]

    def variant(self, name: str | None = None) -> dict[str, Any]:
        """The named variant (default: the selected one)."""
        want = name or self.manifest.get("selected")
        for v in self.manifest["variants"]:
            if v["name"] == want:
                return dict(v)
        names = [v["name"] for v in self.manifest["variants"]]
        raise BundleError(f"{self.root}: no variant {want!r} in the bundle; it has {names}")

    def path(self, rel: str) -> Path:
        return self.root / rel


def _unpack(path: Path, dest: Path) -> Path:
    try:
        with tarfile.open(path, "r:*") as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise BundleError(f"{path}: not a readable bundle archive: {e}") from e
    found = [p.parent for p in dest.rglob(MANIFEST)]
    if len(found) != 1:
        raise BundleError(f"{path}: archive holds {len(found)} manifests, expected 1")
    return found[0]


def _read_manifest(root: Path) -> dict[str, Any]:
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{root}: no {MANIFEST}; not an edgekit bundle")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{mpath}: malformed JSON: {e}") from e
    if not isinstance(manifest, dict) or "files" not in manifest or "variants" not in manifest:
        raise BundleError(f"{mpath}: missing 'files' or 'variants'; not an edgekit manifest")
    version = manifest.get("schema_version")
    if version != MANIFEST_SCHEMA_VERSION:
        raise BundleError(
            f"{mpath}: manifest schema {version!r}; this edgekit reads {MANIFEST_SCHEMA_VERSION}"
        )
    return manifest


def verify_bundle(path: str | Path) -> list[str]:
    """Problems found (empty when every file matches its SHA-256 and no file is unlisted)."""
    p = Path(path)
    if p.is_file():
        with tempfile.TemporaryDirectory(prefix="edgekit-verify-") as tmp:
            return verify_bundle(_unpack(p, Path(tmp)))
    if not p.is_dir():
        raise BundleError(f"{p}: no such bundle (a folder or a .tar.gz archive)")
    manifest = _read_manifest(p)
    problems = []
    listed = manifest["files"]
    for rel, digest in listed.items():
        f = (p / rel).resolve()
        if not f.is_relative_to(p.resolve()):
            problems.append(f"{rel}: path escapes the bundle")
        elif not f.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(f) != digest:
            problems.append(f"{rel}: SHA-256 does not match the manifest")
    for f in p.rglob("*"):
        rel = f.relative_to(p).as_posix()
        if f.is_file() and rel != MANIFEST and rel not in listed:
            problems.append(f"{rel}: not listed in the manifest")
    return problems


def load_bundle(path: str | Path, *, extract_to: Path | None = None) -> Bundle:
    """Verify and open a bundle folder or archive; refuse it if any hash does not match.

    An archive is unpacked into ``extract_to`` (a new temporary folder by default).
    """
    p = Path(path)
    if p.is_file():
        dest = extract_to or Path(tempfile.mkdtemp(prefix="edgekit-bundle-"))
        p = _unpack(p, dest)
    problems = verify_bundle(p)
    if problems:
        raise BundleError(
            f"{p}: refusing a bundle that fails verification: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    return Bundle(p, _read_manifest(p))
