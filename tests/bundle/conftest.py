"""Small bundles written in the test (tiny ONNX CNNs, manifests written directly), and helpers that
compute hashes and archives independently of ``edgekit.bundle``."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgekit.backends.testing import make_cnn1d
from edgekit.cli import main

LABELS = ["noise", "tone", "am", "fm"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def base_manifest() -> dict[str, Any]:
    """A schema-1 manifest without variants or files (the tests add them)."""
    return {
        "schema_version": 1,
        "name": "tiny",
        "created_by": "tests",
        "selected": "onnx-a",
        "variants": [],
        "input": {"name": "x", "shape": ["N", 2, 1024], "dtype": "float32"},
        "output": {"index": 0, "kind": "logits", "name": "logits", "shape": ["N", 4]},
        "labels": list(LABELS),
        "preprocess": [{"op": "rms_normalize"}],
        "budgets": {"max_latency_p99_ms": 150.0, "require_measured_energy": False},
        "battery": {"capacity_mah": 5000.0, "nominal_v": 3.7, "duty_hz": 2.0, "scanner_baseline_w": 2.0},
        "files": {},
    }


def variant(
    name: str, file: str, *, runtime: str = "onnxruntime", extra: list[str] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "file": file,
        "extra_files": extra or [],
        "runtime": runtime,
        "precision": "fp32",
        "passed": True,
        "backend_options": {},
        "accuracy": 0.8,
    }


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))


def rehash(root: Path, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Recompute every ``files`` digest from disk (hashlib, not edgekit) and rewrite the manifest."""
    m = copy.deepcopy(manifest) if manifest is not None else json.loads((root / "manifest.json").read_text())
    m["files"] = {rel: sha256(root / rel) for rel in m["files"]}
    write_manifest(root, m)
    return m


def make_bundle(root: Path, *, names: tuple[str, ...] = ("onnx-a", "onnx-b")) -> Path:
    """A valid bundle folder of tiny RF CNNs (one per name), hashed with hashlib."""
    (root / "variants").mkdir(parents=True)
    m = base_manifest()
    for i, name in enumerate(names):
        rel = f"variants/{name}.onnx"
        make_cnn1d(root / rel, channels=4 + 4 * i, classes=len(LABELS), length=1024, seed=i)
        m["variants"].append(variant(name, rel))
        m["files"][rel] = ""
    m["selected"] = names[0]
    rehash(root, m)
    return root


def tar_of(archive: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A gzip tar of exactly these members, built with tarfile (nothing of edgekit's)."""
    with tarfile.open(archive, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return archive


def tar_folder(
    archive: Path, folder: Path, arcname: str, *, extra: Callable[[tarfile.TarFile], None] | None = None
) -> Path:
    """``folder`` as ``arcname/`` in a gzip tar, plus whatever ``extra`` adds."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=arcname)
        if extra is not None:
            extra(tar)
    return archive


def member(
    name: str, kind: bytes = tarfile.REGTYPE, *, linkname: str = "", mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o755 if kind == tarfile.DIRTYPE else mode
    return info


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.strip().splitlines()

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def run_cli(*args: str) -> CliRun:
    """``edgekit ARGS`` in this process, capturing what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return CliRun(code, out.getvalue(), err.getvalue())


def assert_one_line_error(run: CliRun, code: int, *needles: str) -> None:
    """Exit ``code``, exactly one stderr line containing every needle, no traceback."""
    assert run.code == code, (run.code, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    assert len(run.err_lines) == 1, run.stderr
    for n in needles:
        assert n in run.err_lines[0], (n, run.err_lines[0])


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "bundle")


def write_key_pair(prefix: Path) -> tuple[Path, Path]:
    """An Ed25519 key pair as PEM files, written with ``cryptography`` directly (not edgekit)."""
    private = Ed25519PrivateKey.generate()
    key, pub = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pub.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pub


def key_id_of(pub: Path) -> str:
    """'ed25519:' + 16 hex of the SHA-256 of the raw public key, computed here."""
    public = serialization.load_pem_public_key(pub.read_bytes())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """Two key pairs: 'good' (the signer the device trusts) and 'other'."""
    paths: dict[str, Path] = {}
    for name in ("good", "other"):
        paths[name], paths[f"{name}.pub"] = write_key_pair(tmp_path / name)
    return paths
