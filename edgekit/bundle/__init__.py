"""The deployable bundle: variant files plus ``manifest.json``, as a folder or one archive.

What verification protects against: the SHA-256 of every file in the manifest catches corruption
and accidents (a truncated copy, a model swapped by mistake); anyone able to edit a model can edit
its hash too, so only an Ed25519 signature checked against a key the device trusts
(``trusted_keys``) catches tampering.

Modules, one job each: :mod:`~edgekit.bundle.manifest` (strict parsing, canonical form, bundle
ID), :mod:`~edgekit.bundle.schema` (every field's type and shape), :mod:`~edgekit.bundle.archive`
(packing, and unpacking that refuses anything outside the bundle folder or over the size cap),
:mod:`~edgekit.bundle.signature` (keys and ``manifest.sig``), :mod:`~edgekit.bundle.verify`
(checking and loading), :mod:`~edgekit.bundle.sign` (``edgekit sign`` / ``keygen``),
:mod:`~edgekit.bundle.write` (writing a bundle from a build).
"""

from __future__ import annotations

from edgekit.bundle.archive import ENV_MAX_SIZE, ArchiveLimits
from edgekit.bundle.manifest import (
    MANIFEST,
    MANIFEST_SCHEMA_VERSION,
    SIGNATURE,
    bundle_id,
    canonical_manifest,
    parse_manifest,
)
from edgekit.bundle.schema import validate_manifest
from edgekit.bundle.signature import (
    ENV_TRUSTED_KEYS,
    SignatureCheck,
    TrustedKey,
    load_trusted_key,
    resolve_trusted_keys,
)
from edgekit.bundle.verify import (
    Bundle,
    Verification,
    check_bundle,
    load_bundle,
    sha256_file,
    verify_bundle,
)
from edgekit.bundle.write import pack_bundle, read_bundle_id, write_bundle

__all__ = [
    "ENV_MAX_SIZE",
    "ENV_TRUSTED_KEYS",
    "MANIFEST",
    "MANIFEST_SCHEMA_VERSION",
    "SIGNATURE",
    "ArchiveLimits",
    "Bundle",
    "SignatureCheck",
    "TrustedKey",
    "Verification",
    "bundle_id",
    "canonical_manifest",
    "check_bundle",
    "load_bundle",
    "load_trusted_key",
    "pack_bundle",
    "parse_manifest",
    "read_bundle_id",
    "resolve_trusted_keys",
    "sha256_file",
    "validate_manifest",
    "verify_bundle",
    "write_bundle",
]
