"""``edgekit audit``: the membership-inference audit of a bundle that was already built.

The same attacks and figures as the build's ``audit`` stage, on the bundle's variants, with the
preprocessing, labels and output kind its manifest records.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgekit.builder.stages.audit import load_group, score_groups, score_references
from edgekit.builder.stages.data import preprocess
from edgekit.bundle import load_bundle
from edgekit.errors import UsageError
from edgekit.privacy.audit import audit_outputs
from edgekit.privacy.hygiene import scan_onnx
from edgekit.privacy.hygiene_elf import scan_elf
from edgekit.results import PrivacyResult
from edgekit.signals.preprocess import Pipeline

__all__ = ["BundleAudit", "audit_bundle"]


@dataclass
class BundleAudit:
    """Each audited variant's result, by name, and the bundle it came from."""

    bundle: str
    bundle_id: str
    variants: dict[str, PrivacyResult]


def audit_bundle(
    bundle_path: str | Path,
    members: str,
    non_members: str,
    *,
    variants: Sequence[str] = (),
    max_rows: int = 2000,
    bootstrap: int = 200,
    threads: int = 1,
    references: Sequence[str] = (),
) -> BundleAudit:
    """Audit ``variants`` (default: all) of the bundle on ``members`` against ``non_members``;
    ``references``: reference models (.onnx or .onnx.gz) for the calibrated attacks. Each ONNX
    variant is also scanned for training-environment text and member rows, each compiled-tree
    library for build-environment text (reported only: a built bundle is signed and is not
    rewritten)."""
    if max_rows < 10:
        raise UsageError(f"--max-rows: must be >= 10, got {max_rows}")
    if bootstrap < 0:
        raise UsageError(f"--bootstrap: must be >= 0, got {bootstrap}")
    with tempfile.TemporaryDirectory(prefix="edgekit-audit-bundle-") as tmp:
        b = load_bundle(bundle_path, extract_to=Path(tmp))
        m = b.manifest
        labels = [str(x) for x in m["labels"]]
        pipe = Pipeline.from_spec(m.get("preprocess") or [])
        m_ds, m_y = load_group(members, "members", labels, max_rows, 1, None)
        n_ds, n_y = load_group(non_members, "non_members", labels, max_rows, 2, None)
        m_x = preprocess(pipe, m_ds.x, f"{members} (--members)")
        n_x = preprocess(pipe, n_ds.x, f"{non_members} (--non-members)")
        input_name, out_index = m["input"]["name"], int(m["output"]["index"])
        names = list(variants) or [v["name"] for v in m["variants"]]
        # each reference model read through its own input and score output (as the build does)
        m_ref, n_ref = score_references(
            list(references), Path.cwd(), Path(tmp), m_x, n_x,
            output_name=str(m["output"]["name"]), n_classes=len(labels), threads=threads, key="--reference",
        )
        out: dict[str, PrivacyResult] = {}
        for name in names:
            v = b.variant(name)
            path = b.root / v["file"]
            opts = v.get("backend_options") or {}
            m_s, n_s = score_groups(path, m_x, n_x, input_name, out_index, threads, opts)
            out[name] = audit_outputs(
                member_scores=m_s,
                member_y=m_y,
                non_member_scores=n_s,
                non_member_y=n_y,
                output=str(m["output"]["kind"]),
                members=members,
                non_members=non_members,
                bootstrap=bootstrap,
                member_reference=m_ref,
                non_member_reference=n_ref,
                reference_note=f"{len(references)} reference model(s): {', '.join(references)}",
            )
            if path.suffix == ".onnx":
                out[name].hygiene = scan_onnx(path, m_x)
            elif path.suffix == ".so":
                libs = sorted({path.name, *(opts.get("libraries") or {}).values()})
                out[name].hygiene = [f"{lib} section {sec}: {line}" for lib in libs
                                     for sec, lines in scan_elf(b.root / Path(v["file"]).parent / lib).items()
                                     for line in lines]
        return BundleAudit(str(bundle_path), b.bundle_id, out)
