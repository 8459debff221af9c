"""Malformed bundles and manifests through ``edgekit verify`` and ``edgekit bench``.

Each case must be refused by ``edgekit/bundle/`` with one line and exit 2, before any work.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.corpus._cli import assert_refused, run_in_process, snapshot

Edit = Callable[[dict[str, Any]], None]


def _first_variant(m: dict[str, Any]) -> dict[str, Any]:
    variant: dict[str, Any] = m["variants"][0]
    return variant


MANIFEST_EDITS: dict[str, Edit] = {
    "files-is-a-list": lambda m: m.update(files=list(m["files"])),
    "variants-is-a-string": lambda m: m.update(variants="onnx-fp32"),
    "variant-without-file": lambda m: _first_variant(m).pop("file"),
    "huge-input-shape": lambda m: m["input"].update(shape=[1, 6, 10**12]),
    "file-outside-bundle": lambda m: _first_variant(m).update(file="../../etc/passwd"),
    "schema-99": lambda m: m.update(schema_version=99),
    "labels-not-strings": lambda m: m.update(labels=[1, 2]),
    "preprocess-unknown-op": lambda m: m.update(preprocess=[{"op": "fft"}]),
}


def _bundle_copy(good_build: Path, d: Path) -> Path:
    dst = d / "bundle"
    shutil.copytree(good_build / "out" / "b" / "bundle", dst)
    return dst


def _edit_manifest(bundle: Path, edit: Edit) -> None:
    path = bundle / "manifest.json"
    m = json.loads(path.read_text())
    edit(m)
    path.write_text(json.dumps(m))


def _raw_manifests(bundle: Path) -> dict[str, bytes]:
    return {"not-json": b"{", "empty": b"", "a-list": b"[]", "not-utf8": b"\xff\xfe{}"}


def _tar_bytes(bundle: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(bundle, arcname="bundle")
    return buf.getvalue()


def _argvs(target: Path, d: Path) -> list[list[str]]:
    return [
        ["verify", str(target)],
        ["bench", str(target), "--meter", "model:rpi4b", "--quick", "--out", str(d / "out" / "bench")],
    ]


def _check(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(tmp_path, tmp_path / "p" / "out")
    assert_refused(run_in_process(argv, capsys))
    assert snapshot(tmp_path, tmp_path / "p" / "out") == before


@pytest.mark.parametrize("command", ["verify", "bench"])
@pytest.mark.parametrize("edit", sorted(MANIFEST_EDITS))
def test_malformed_manifest(edit: str, command: str, good_build: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    d = tmp_path / "p"
    d.mkdir()
    bundle = _bundle_copy(good_build, d)
    _edit_manifest(bundle, MANIFEST_EDITS[edit])
    argv = next(a for a in _argvs(bundle, d) if a[0] == command)
    _check(argv, tmp_path, capsys)


@pytest.mark.parametrize("command", ["verify", "bench"])
@pytest.mark.parametrize("kind", ["not-json", "empty", "a-list", "not-utf8", "missing"])
def test_unreadable_manifest(kind: str, command: str, good_build: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    d = tmp_path / "p"
    d.mkdir()
    bundle = _bundle_copy(good_build, d)
    if kind == "missing":
        (bundle / "manifest.json").unlink()
    else:
        (bundle / "manifest.json").write_bytes(_raw_manifests(bundle)[kind])
    argv = next(a for a in _argvs(bundle, d) if a[0] == command)
    _check(argv, tmp_path, capsys)


@pytest.mark.parametrize("command", ["verify", "bench"])
@pytest.mark.parametrize("kind", ["truncated", "empty", "not-gzip", "garbage-gzip"])
def test_malformed_archive(kind: str, command: str, good_build: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A truncated .tar.gz once printed only ``Aborted.``."""
    d = tmp_path / "p"
    d.mkdir()
    data = _tar_bytes(good_build / "out" / "b" / "bundle")
    archive = d / "tiny.bundle.tar.gz"
    content = {
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "not-gzip": b"hello, not an archive",
        "garbage-gzip": b"\x1f\x8b\x08\x00" + bytes(range(200)),
    }[kind]
    archive.write_bytes(content)
    argv = next(a for a in _argvs(archive, d) if a[0] == command)
    _check(argv, tmp_path, capsys)
