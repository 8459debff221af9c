"""``edgekit verify``, ``edgekit sign`` and ``edgekit keygen``: checking and signing bundles."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from edgekit.cli import app

__all__ = ["MAX_SIZE_HELP", "TRUSTED_KEY_HELP", "keygen", "sign", "verify"]

TRUSTED_KEY_HELP = (
    "An Ed25519 public key (PEM, or an ssh-ed25519 line) the bundle must be signed by; repeatable. "
    "Keys named in $EDGEKIT_TRUSTED_KEYS (':'-separated files) are added. Without any, hashes "
    "catch corruption but not tampering."
)
MAX_SIZE_HELP = (
    "Most bytes an archive may unpack to, e.g. 512M or 2G (default 1G, or $EDGEKIT_BUNDLE_MAX_SIZE)."
)


@app.command()
def verify(
    bundle: Path = typer.Argument(..., help="A bundle folder or .tar.gz archive."),
    trusted_key: list[Path] | None = typer.Option(
        None, "--trusted-key", metavar="PUB", help=TRUSTED_KEY_HELP
    ),
    max_size: str | None = typer.Option(None, "--max-size", metavar="SIZE", help=MAX_SIZE_HELP),
) -> None:
    """Check a bundle: the manifest is well formed, every file a variant loads is listed and lies
    inside the bundle, every listed file matches its SHA-256, no file is unlisted, and the
    signature (manifest.sig) holds; with --trusted-key it must be signed by one of those keys.

    Prints {"bundle", "verified", "bundle_id", "signed_by", "signature", ...} as JSON; the bundle
    ID is the SHA-256 of the canonical manifest (RFC 8785), so it names every file's bytes.

    Exit codes: 0 verified; 1 a well-formed bundle fails (a hash mismatch, a missing or unlisted
    file, a bad, stale, missing or untrusted signature), with one line on stderr and every problem
    in the JSON; 2 input that is not a bundle (malformed manifest, unreadable or unsafe archive)
    or a bad option or key file.

    Example: `edgekit verify out/rfclass-cnn/rfclass-cnn.bundle.tar.gz --trusted-key release.pub`
    """
    from edgekit.bundle import ArchiveLimits, check_bundle, resolve_trusted_keys

    keys = resolve_trusted_keys(trusted_key or [])
    result = check_bundle(bundle, trusted_keys=keys, limits=ArchiveLimits.resolve(max_size))
    sig = result.signature
    report: dict[str, object] = {
        "bundle": str(bundle),
        "verified": result.ok,
        "bundle_id": result.bundle_id,
        "signed_by": sig.key_id if sig.status == "trusted" else None,
        "signature": sig.status,
        "signature_key_id": sig.key_id,
        "trusted_keys": [k.key_id for k in keys],
    }
    if not result.ok:
        report["problems"] = list(result.problems)
    typer.echo(json.dumps(report))
    if not result.ok:
        more = f" (and {len(result.problems) - 1} more in the JSON)" if len(result.problems) > 1 else ""
        typer.echo(f"edgekit: {bundle}: fails verification: {result.problems[0]}{more}", err=True)
        raise typer.Exit(1)


@app.command()
def sign(
    bundle: Path = typer.Argument(..., help="A bundle folder or .tar.gz archive (signed in place)."),
    key: Path = typer.Option(
        ..., "--key", help="Ed25519 private key, PEM (edgekit keygen, or openssl genpkey -algorithm ed25519)."
    ),
    max_size: str | None = typer.Option(None, "--max-size", metavar="SIZE", help=MAX_SIZE_HELP),
) -> None:
    """Sign a bundle: write manifest.sig, an Ed25519 signature of the bundle ID, beside its
    manifest. An archive is re-packed and replaced atomically. A bundle that fails verification
    is not signed. Check it on the device with `edgekit verify BUNDLE --trusted-key KEY.pub`.

    Exit codes: 0 signed; 2 a bad key file, or a bundle that is malformed or fails verification.

    Example: `edgekit sign out/rfclass-cnn/rfclass-cnn.bundle.tar.gz --key release.key`
    """
    from edgekit.bundle import ArchiveLimits
    from edgekit.bundle.sign import sign_bundle

    signed = sign_bundle(bundle, key, limits=ArchiveLimits.resolve(max_size))
    typer.echo(json.dumps({"bundle": str(bundle), "bundle_id": signed.bundle_id, "signed_by": signed.key_id}))


@app.command()
def keygen(
    out: Path = typer.Option(
        ..., "--out", help="PREFIX: writes PREFIX.key (private, 0600) and PREFIX.pub (public, 0644)."
    ),
) -> None:
    """Make an Ed25519 key pair for signing bundles. Existing files are never overwritten.
    Keep PREFIX.key secret (it signs); copy PREFIX.pub to the devices (it is what --trusted-key
    and $EDGEKIT_TRUSTED_KEYS name).

    Exit codes: 0 written; 2 a file exists or cannot be written.

    Example: `edgekit keygen --out release` (writes release.key and release.pub)
    """
    from edgekit.bundle.sign import generate_key_pair

    pair = generate_key_pair(out)
    typer.echo(
        json.dumps({"private_key": str(pair.private), "public_key": str(pair.public), "key_id": pair.key_id})
    )
