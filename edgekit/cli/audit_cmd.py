"""``edgekit audit BUNDLE``: the membership-inference audit of a bundle already built."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer

from edgekit.cli import app

__all__ = ["audit"]


@app.command()
def audit(
    bundle: Path = typer.Argument(..., help="A bundle folder or .tar.gz archive."),
    members: str = typer.Option(
        ..., "--members", help="Data the model was trained on: an .npz or a synthetic:rf?... recipe."
    ),
    non_members: str = typer.Option(
        ..., "--non-members", help="Data of the same distribution the model never saw."
    ),
    variants: str = typer.Option(
        "", "--variants", help="Comma-separated variants to audit (default: all in the bundle)."
    ),
    max_rows: int = typer.Option(2000, "--max-rows", help="At most this many rows per group."),
    bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples for the AUC's interval."),
    reference: list[str] = typer.Option(
        [], "--reference", help="A reference model (.onnx/.onnx.gz) trained without the members; "
        "repeat it: one enables reference_loss, two or more the offline LiRA."
    ),
    max_advantage: float | None = typer.Option(
        None, "--max-advantage", help="Exit 1 when a variant's strongest attack exceeds this."
    ),
) -> None:
    """Membership-inference attacks (loss and confidence thresholds; with --reference the
    calibrated ones) on every variant of the bundle: ROC AUC, membership advantage (max TPR - FPR),
    TPR at 1 % and 0.1 % FPR, each with a 95 % interval (AUC: bootstrap; advantage: DKW band;
    TPR: order statistics and Clopper-Pearson); ONNX files are scanned for training-environment
    text and member rows, compiled-tree libraries for build-environment text. Prints JSON
    {"bundle", "bundle_id", "variants": {name: audit}}.

    An empirical test of these attacks on this data, not a proof of privacy. Exit codes: 0 done
    (and within --max-advantage if given); 1 a variant exceeds --max-advantage; 2 bad input.

    Example: `edgekit audit out/rfclass-cnn/bundle --members 'synthetic:rf?n=2000&seed=1'
    --non-members 'synthetic:rf?n=2000&seed=404' --max-advantage 0.1`
    """
    from edgekit.builder.audit_bundle import audit_bundle
    from edgekit.cli._options import check_number

    check_number("--max-advantage", max_advantage, at_least=0, at_most=1,
                 what="an advantage, max TPR - FPR")  # fmt: skip
    check_number("--max-rows", max_rows, at_least=10, what="rows per group")
    check_number("--bootstrap", bootstrap, at_least=0, what="resamples; 0 for no AUC interval")
    names = [v.strip() for v in variants.split(",") if v.strip()]
    got = audit_bundle(
        bundle, members, non_members, variants=names, max_rows=max_rows, bootstrap=bootstrap,
        references=reference,
    )
    typer.echo(
        json.dumps(
            {
                "bundle": got.bundle,
                "bundle_id": got.bundle_id,
                "variants": {k: dataclasses.asdict(v) for k, v in got.variants.items()},
            },
            indent=2,
        )
    )
    if max_advantage is not None:
        over = [
            f"{k} {w.advantage:.3f} ({w.attack})"
            for k, v in got.variants.items()
            if (w := v.worst) is not None and w.advantage > max_advantage
        ]
        if over:
            typer.echo(f"membership advantage above {max_advantage:g}: {', '.join(over)}", err=True)
            raise typer.Exit(1)
