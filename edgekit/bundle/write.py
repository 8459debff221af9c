"""Writing a bundle: variant files plus ``manifest.json``, as a folder and a single archive.

The manifest carries a schema version, the SHA-256 of every file, the input/output spec, labels,
the preprocessing spec, the OOD threshold, reference statistics for drift monitoring, the budgets
and the measured figures with provenance, and tool versions. Writes are atomic: a bundle is built
in a temporary folder and renamed into place; folders are 0755 and files 0644 under the umask, so
a bundle copied by root stays readable by a service user.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit._json import json_safe
from edgekit.bundle.archive import dir_mode, file_mode, pack_archive
from edgekit.bundle.context_section import context_section
from edgekit.bundle.manifest import (
    MANIFEST,
    MANIFEST_SCHEMA_VERSION,
    bundle_id,
    parse_manifest,
    read_manifest_file,
)
from edgekit.bundle.schema import check_relpath, validate_manifest
from edgekit.bundle.verify import sha256_file
from edgekit.errors import BundleError

if TYPE_CHECKING:
    from edgekit.config import BuildConfig
    from edgekit.model_info import ModelInfo
    from edgekit.results import BuildResult

__all__ = ["pack_bundle", "read_bundle_id", "write_bundle"]


def write_bundle(
    result: BuildResult,
    cfg: BuildConfig,
    build_dir: Path,
    *,
    labels: list[str],
    input_name: str,
    out_index: int,
    info: ModelInfo,
    input_shape: list[int] | None = None,
    fixed_batch: int | None = None,
    backend_options: dict[str, dict[str, Any]],
    reference_stats: dict[str, Any],
    sections: Mapping[str, Any] | None = None,
    extra_sources: Mapping[str, Path] | None = None,
) -> tuple[Path, Path]:
    """Write ``<build_dir>/bundle/`` and ``<build_dir>/<name>.bundle.tar.gz``; return both paths.

    The bundle holds the selected variant and every other passing one; with no passing variant
    (a rejected build) it holds every built variant, so the rejection can be inspected.
    ``sections`` are further manifest sections (the ``baseline``) and ``extra_sources`` the files
    they name (bundle path -> source), hashed like every other file.
    """
    from edgekit import __version__

    shipped = [v for v in result.variants if v.passed] or [v for v in result.variants if v.status == "built"]
    if not shipped:
        raise BundleError(f"{build_dir}: no variant was built, so there is no bundle to write")
    name = result.model_name
    sources: dict[str, Path] = {}
    variants = []
    for v in shipped:
        src = build_dir / v.path
        rel = f"variants/{src.name}"
        sources[rel] = src
        extra = []
        for e in v.meta.get("extra_files", []):
            erel = f"variants/{e}"
            sources[erel] = build_dir / "variants" / e
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
                "ood_threshold": v.accuracy.ood.threshold if v.accuracy and v.accuracy.ood else None,
                "latency": dataclasses.asdict(v.latency) if v.latency else None,
                # the chosen OOD score's cost per capture, timed with the model (latency is the
                # model's; score_cost carries the score's and the per-run totals)
                "score_cost": dataclasses.asdict(v.score_cost) if v.score_cost else None,
                "energy": dataclasses.asdict(v.energy) if v.energy else None,
                "checks": [dataclasses.asdict(c) for c in v.checks],
                # the variant's OOD rule (edgekit.builder.stages.ood): score, threshold,
                # temperature, features output, statistics file, input guard
                "ood": v.meta.get("ood"),
                "meta": {k: val for k, val in v.meta.items() if k != "ood"},
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
            # The shape the build validated (batch first: the fixed batch, else 1); bench, the
            # daemon and profiling feed this shape. fixed_batch: null when any batch runs.
            **({"concrete_shape": list(input_shape)} if input_shape else {}),
            "fixed_batch": fixed_batch,
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
            "threshold": sel.accuracy.ood.threshold if sel and sel.accuracy and sel.accuracy.ood else None,
            "target_in_distribution_accept": cfg.ood.target_in_distribution_accept,
            # the selected variant's rule, when the ood stage measured one (overrides "score")
            **((sel.meta.get("ood") or {}) if sel else {}),
        },
        "capture": dataclasses.asdict(cfg.capture),  # what the daemon accepts from a scanner
        "reference_statistics": reference_stats,
        "budgets": dataclasses.asdict(cfg.budgets),
        "battery": dataclasses.asdict(cfg.battery),
        "versions": result.versions,
        "host": result.host,
        **(sections or {}),
    }
    context = context_section(shipped, cfg)  # precision per label and on-device condition
    if context is not None:
        manifest["context"] = context
    return pack_bundle(build_dir, name, manifest, {**sources, **(extra_sources or {})})


def _chmod_tree(root: Path) -> None:
    """Folders 0755, files 0644, under the umask (links are left alone)."""
    dmode, fmode = dir_mode(), file_mode()
    os.chmod(root, dmode)
    for top, dirs, names in os.walk(root):
        for d in dirs:
            if not os.path.islink(os.path.join(top, d)):
                os.chmod(os.path.join(top, d), dmode)
        for n in names:
            if not os.path.islink(os.path.join(top, n)):
                os.chmod(os.path.join(top, n), fmode)


def pack_bundle(
    parent: Path, name: str, manifest: Mapping[str, Any], sources: Mapping[str, Path]
) -> tuple[Path, Path]:
    """Write ``parent/bundle/`` and ``parent/<name>.bundle.tar.gz``; return both paths.

    ``manifest`` is everything but ``files``, which is computed here from the copied ``sources``
    (bundle-relative path -> file to copy). The manifest is checked against the schema before it
    is written, so a build never ships a bundle that edgekit itself would refuse. An existing
    ``parent/bundle`` is replaced only when it is a bundle (it holds a manifest).
    """
    final = parent / "bundle"
    if os.path.lexists(final) and not (final.is_dir() and (final / MANIFEST).is_file()):
        raise BundleError(f"{final}: exists and is not a bundle; refusing to replace it")
    tmp = Path(tempfile.mkdtemp(prefix=".bundle-", dir=parent))
    try:
        files: dict[str, str] = {}
        for rel, src in sources.items():
            check_relpath(rel, f"bundle file {rel!r}")
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            files[rel] = sha256_file(dst)
        text = json.dumps(json_safe({**manifest, "files": files}), indent=2, allow_nan=False)
        validate_manifest(parse_manifest(text.encode("utf-8")), f"{final / MANIFEST} (as built)")
        (tmp / MANIFEST).write_text(text + "\n", encoding="utf-8")
        _chmod_tree(tmp)
        if os.path.lexists(final):
            shutil.rmtree(final)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    archive = parent / f"{name}.bundle.tar.gz"
    pack_archive(final, archive, f"{name}.bundle")
    return final, archive


def read_bundle_id(folder: Path) -> str:
    """The bundle ID of the bundle folder ``folder`` (its manifest is read, not verified)."""
    return bundle_id(read_manifest_file(folder)[0])
