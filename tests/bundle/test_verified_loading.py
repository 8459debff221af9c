"""Every file a variant loads is listed in ``files``, lies inside the bundle and is hash-checked
right before it is opened; ``edgekit verify`` and ``edgekit bench`` refuse anything else."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgekit.backends.testing import make_cnn1d
from edgekit.bundle import check_bundle, load_bundle
from edgekit.errors import BundleError
from tests.bundle.conftest import (
    assert_one_line_error,
    base_manifest,
    make_bundle,
    member,
    rehash,
    run_cli,
    sha256,
    tar_of,
    variant,
    write_manifest,
)

BENCH_QUICK = ["--meter", "model:rpi4b", "--quick", "--windows", "2", "--idle-s", "0.2", "--runs", "5"]


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def test_a_valid_bundle_verifies(bundle: Path) -> None:
    run = run_cli("verify", bundle)
    assert run.code == 0, run.stderr
    assert run.json["verified"] is True and run.stderr == ""


def test_variant_file_not_in_files_is_refused(bundle: Path) -> None:
    """The issue's first bypass: the loaded file need not be hashed. Now it must be listed."""
    m = _manifest(bundle)
    make_cnn1d(bundle / "variants" / "unhashed.onnx", classes=4, length=1024, seed=9)
    m["variants"][0]["file"] = "variants/unhashed.onnx"  # on disk, but no SHA-256 anywhere
    write_manifest(bundle, m)
    run = run_cli("verify", bundle)
    assert_one_line_error(run, 2, "variants[0].file", "variants/unhashed.onnx", "not listed in 'files'")
    with pytest.raises(BundleError, match=r"variants\[0\]\.file"):
        load_bundle(bundle)


def test_absolute_variant_path_is_refused(bundle: Path, tmp_path: Path) -> None:
    outside = make_cnn1d(tmp_path / "elsewhere.onnx", classes=4, length=1024)
    m = _manifest(bundle)
    m["variants"][0]["file"] = str(outside)
    m["files"][str(outside)] = sha256(outside)  # hashed correctly: still refused
    write_manifest(bundle, m)
    run = run_cli("verify", bundle)
    assert_one_line_error(run, 2, "absolute paths are refused")


def test_dotdot_sidecar_beside_the_bundle_folder_is_refused(bundle: Path, tmp_path: Path) -> None:
    sidecar = make_cnn1d(tmp_path / "sidecar.onnx", classes=4, length=1024, seed=5)
    m = _manifest(bundle)
    m["variants"][1]["file"] = "../sidecar.onnx"
    m["files"]["../sidecar.onnx"] = sha256(sidecar)
    write_manifest(bundle, m)
    run = run_cli("verify", bundle)
    assert_one_line_error(run, 2, "'../sidecar.onnx'", "not a relative path inside the bundle")


def test_dotdot_sidecar_shipped_beside_the_bundle_in_an_archive_is_refused(tmp_path: Path) -> None:
    """The issue's archive: ``tiny.bundle/`` plus ``sidecar.onnx`` next to it, manifest pointing up."""
    root = make_bundle(tmp_path / "src" / "tiny.bundle")
    sidecar = make_cnn1d(tmp_path / "src" / "sidecar.onnx", classes=4, length=1024, seed=5)
    m = _manifest(root)
    m["variants"][0]["file"] = "../sidecar.onnx"
    write_manifest(root, m)
    archive = tmp_path / "tiny.bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="tiny.bundle")
        tar.add(sidecar, arcname="sidecar.onnx")
    run = run_cli("verify", archive)
    assert_one_line_error(run, 2, "sidecar.onnx", "outside the bundle folder")
    out = tmp_path / "bench-out"
    run = run_cli("bench", archive, *BENCH_QUICK, "--out", out)
    assert_one_line_error(run, 2, "outside the bundle folder")
    assert not out.exists()


def test_symlink_escaping_the_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    outside = make_cnn1d(tmp_path / "outside.onnx", classes=4, length=1024, seed=7)
    link = bundle / "variants" / "onnx-a.onnx"
    link.unlink()
    link.symlink_to(outside)
    rehash(bundle)  # the hash of what the link points at: it matches, the location does not
    run = run_cli("verify", bundle)
    assert_one_line_error(run, 1, "variants/onnx-a.onnx", "outside the bundle")
    assert any("outside the bundle" in p for p in run.json["problems"])


def test_symlink_inside_the_bundle_is_accepted(bundle: Path) -> None:
    target = bundle / "variants" / "onnx-b.onnx"
    link = bundle / "variants" / "onnx-a.onnx"
    link.unlink()
    link.symlink_to(target.name)
    rehash(bundle)
    assert run_cli("verify", bundle).code == 0


def test_linked_folder_is_refused(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (bundle / "more").symlink_to(tmp_path / "elsewhere")
    run = run_cli("verify", bundle)
    assert_one_line_error(run, 1, "more: a link to a folder")


def test_unlisted_and_missing_files_fail_verification(bundle: Path) -> None:
    (bundle / "variants" / "stray.bin").write_bytes(b"x")
    (bundle / "variants" / "onnx-b.onnx").unlink()
    run = run_cli("verify", bundle)
    assert run.code == 1
    assert sorted(run.json["problems"]) == [
        "variants/onnx-b.onnx: missing",
        "variants/stray.bin: not listed in the manifest",
    ]
    assert len(run.err_lines) == 1 and "(and 1 more in the JSON)" in run.err_lines[0]


def _tflite_bundle(root: Path, *, list_sidecar: bool, in_extra: bool) -> Path:
    """A folder bundle with one TFLite variant (bytes need not be a real model: verify only hashes)."""
    (root / "variants").mkdir(parents=True)
    (root / "variants" / "m.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    (root / "variants" / "m.layout.json").write_text('{"input_perms": [[0, 2, 1]]}')
    m = base_manifest()
    extra = ["variants/m.layout.json"] if in_extra else []
    m["variants"] = [variant("tfl", "variants/m.tflite", runtime="tflite", extra=extra)]
    m["selected"] = "tfl"
    m["files"] = {"variants/m.tflite": ""}
    if list_sidecar:
        m["files"]["variants/m.layout.json"] = ""
    rehash(root, m)
    return root


def test_tflite_layout_sidecar_must_be_an_extra_file(tmp_path: Path) -> None:
    ok = _tflite_bundle(tmp_path / "ok", list_sidecar=True, in_extra=True)
    assert run_cli("verify", ok).code == 0
    hashed_only = _tflite_bundle(tmp_path / "hashed", list_sidecar=True, in_extra=False)
    run = run_cli("verify", hashed_only)
    assert_one_line_error(run, 2, "variants[0].extra_files", "variants/m.layout.json")
    unlisted = _tflite_bundle(tmp_path / "unlisted", list_sidecar=False, in_extra=False)
    run = run_cli("verify", unlisted)
    assert_one_line_error(run, 1, "variants/m.layout.json")


def test_model_path_rechecks_the_hash_right_before_opening(bundle: Path) -> None:
    b = load_bundle(bundle)
    assert b.model_path("onnx-a") == bundle / "variants" / "onnx-a.onnx"
    victim = bundle / "variants" / "onnx-a.onnx"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))  # changed after the bundle was loaded
    with pytest.raises(BundleError, match=r"refusing to load variant 'onnx-a'.*SHA-256 does not match"):
        b.model_path("onnx-a")
    assert b.model_path("onnx-b").name == "onnx-b.onnx"  # the untouched variant still loads


def test_sidecar_appearing_after_load_is_refused(tmp_path: Path) -> None:
    root = _tflite_bundle(tmp_path / "b", list_sidecar=False, in_extra=False)
    (root / "variants" / "m.layout.json").unlink()
    rehash(root)
    b = load_bundle(root)
    assert b.model_path("tfl").name == "m.tflite"
    (root / "variants" / "m.layout.json").write_text('{"input_perms": [[0, 1, 2]]}')
    with pytest.raises(BundleError, match=r"would read variants/m\.layout\.json"):
        b.model_path("tfl")


def _external_data_bundle(root: Path, location: str, *, declare: bool) -> Path:
    """A bundle whose ONNX model keeps its weights in an external file at ``location``."""
    (root / "variants").mkdir(parents=True)
    model = onnx.load(str(make_cnn1d(root / "variants" / "tmp.onnx", classes=4, length=1024)))
    (root / "variants" / "tmp.onnx").unlink()
    onnx.save_model(
        model,
        str(root / "variants" / "ext.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext.bin",
        size_threshold=0,
    )
    if location != "ext.bin":  # point the model at another place, keeping the data file
        m = onnx.load(str(root / "variants" / "ext.onnx"), load_external_data=False)
        for t in m.graph.initializer:
            for e in t.external_data:
                if e.key == "location":
                    e.value = location
        onnx.save_model(m, str(root / "variants" / "ext.onnx"))
    man = base_manifest()
    man["variants"] = [variant("ext", "variants/ext.onnx", extra=["variants/ext.bin"] if declare else [])]
    man["selected"] = "ext"
    man["files"] = {"variants/ext.onnx": "", "variants/ext.bin": ""}
    rehash(root, man)
    return root


def test_onnx_external_data_must_be_an_extra_file(tmp_path: Path) -> None:
    declared = _external_data_bundle(tmp_path / "declared", "ext.bin", declare=True)
    assert run_cli("verify", declared).code == 0
    b = load_bundle(declared)
    from edgekit.backends import open_backend

    with open_backend(b.model_path("ext")) as backend:  # the declared, verified data loads
        assert backend.run(np.zeros((1, 2, 1024), np.float32)).shape == (1, 4)

    undeclared = _external_data_bundle(tmp_path / "undeclared", "ext.bin", declare=False)
    run = run_cli("verify", undeclared)
    assert_one_line_error(run, 1, "external data 'ext.bin'", "not in its extra_files")


def test_onnx_external_data_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    root = _external_data_bundle(tmp_path / "up" / "bundle", "../../ext.bin", declare=True)
    os.link(root / "variants" / "ext.bin", tmp_path / "up" / "ext.bin")  # the escape target exists
    run = run_cli("verify", root)
    assert_one_line_error(run, 1, "external data '../../ext.bin'")


def test_bench_loads_only_through_the_verified_path(tmp_path: Path) -> None:
    """Verification at load cannot see a model's external data; the check right before opening
    does, so bench refuses before running anything."""
    root = _external_data_bundle(tmp_path / "b", "ext.bin", declare=False)
    out = tmp_path / "bench-out"
    run = run_cli("bench", root, *BENCH_QUICK, "--out", out)
    assert_one_line_error(run, 2, "external data 'ext.bin'")
    assert not out.exists()


def test_archive_with_outside_member_is_refused_before_writing(tmp_path: Path, bundle: Path) -> None:
    archive = tar_of(
        tmp_path / "evil.tar.gz",
        [
            (member("b", tarfile.DIRTYPE), None),
            (member("b/manifest.json"), (bundle / "manifest.json").read_bytes()),
            (member("../escaped.txt"), b"should never be written"),
        ],
    )
    run = run_cli("verify", archive)
    assert_one_line_error(run, 2, "'../escaped.txt'", "outside the bundle folder")
    assert not (tmp_path.parent / "escaped.txt").exists()
    with pytest.raises(BundleError):
        check_bundle(archive)
