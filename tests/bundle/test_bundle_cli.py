"""``edgekit verify`` exit codes: 0 verified, 1 a well-formed bundle that fails, 2 input that is not
a bundle; always one stderr line and never a traceback. And the bad input of the issue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bundle.conftest import assert_one_line_error, run_cli, write_manifest


def _edit(bundle: Path, change: Any) -> None:
    m = json.loads((bundle / "manifest.json").read_text())
    change(m)
    write_manifest(bundle, m)


def test_verified_prints_the_id_and_exits_0(bundle: Path) -> None:
    run = run_cli("verify", bundle)
    assert run.code == 0 and run.stderr == ""
    out = run.json
    assert set(out) >= {"bundle", "verified", "bundle_id", "signed_by", "signature"}
    assert out["verified"] is True and len(out["bundle_id"]) == 64 and out["signed_by"] is None


def test_hash_mismatch_exits_1(bundle: Path) -> None:
    f = bundle / "variants" / "onnx-a.onnx"
    f.write_bytes(f.read_bytes() + b"\0")
    run = run_cli("verify", bundle)
    assert_one_line_error(run, 1, "variants/onnx-a.onnx: SHA-256 does not match")
    assert run.json["verified"] is False


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda m: m.__setitem__("files", list(m["files"])), "files: must be a table, got a list"),
        (lambda m: m.__setitem__("variants", "onnx-a"), "variants: must be a list, got a string"),
        (lambda m: m["variants"][0].pop("file"), "variants[0]: missing 'file'"),
        (lambda m: m["input"].__setitem__("shape", [1, 10**8, 2]), "input.shape[1]: must be an integer"),
        (lambda m: m["input"].__setitem__("shape", [1, 10**5, 10**5]), "over 16777216 elements"),
        (lambda m: m["input"].__setitem__("shape", [10**30]), "input.shape[0]: integer beyond 2**53"),
        (lambda m: m.__setitem__("schema_version", 99), "this edgekit reads 1"),
    ],
)
def test_malformed_manifest_exits_2_with_one_line(bundle: Path, change: Any, needle: str) -> None:
    _edit(bundle, change)
    run = run_cli("verify", bundle)
    assert_one_line_error(run, 2, str(bundle / "manifest.json"), needle)
    out = bundle.parent / "bench-out"
    run = run_cli("bench", bundle, "--meter", "model:rpi4b", "--quick", "--out", out)
    assert_one_line_error(run, 2, needle)
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", "malformed JSON"), (b"[]", "must be a JSON object"), (b"\x00\xff", "not UTF-8")],
)
def test_unparseable_manifest_exits_2(bundle: Path, content: bytes, needle: str) -> None:
    (bundle / "manifest.json").write_bytes(content)
    assert_one_line_error(run_cli("verify", bundle), 2, needle)


def test_not_a_bundle_exits_2(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("verify", tmp_path / "missing"), 2, "no such bundle")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_cli("verify", tmp_path / "empty"), 2, "no manifest.json")
    (tmp_path / "text.tar.gz").write_text("hello")
    assert_one_line_error(run_cli("verify", tmp_path / "text.tar.gz"), 2, "not a readable bundle archive")


def test_manifest_as_a_link_is_refused(bundle: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.json"
    (bundle / "manifest.json").rename(real)
    (bundle / "manifest.json").symlink_to(real)
    assert_one_line_error(run_cli("verify", bundle), 2, "not a regular file")


def test_bad_max_size_exits_2(bundle: Path) -> None:
    assert_one_line_error(
        run_cli("verify", bundle, "--max-size", "huge"), 2, "--max-size: 'huge' is not a size"
    )


def test_help_documents_the_exit_codes() -> None:
    run = run_cli("verify", "--help")
    assert run.code == 0
    text = " ".join(run.stdout.split())
    assert "Exit codes: 0 verified; 1 a well-formed bundle fails" in text
    assert "2 input that is not a bundle" in text
