"""Compiled-tree libraries inside bundles: hashed before dlopen, one per machine, schema-checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgekit.backends import open_backend
from edgekit.backends.compiled_trees import host_machine
from edgekit.bundle import load_bundle, validate_manifest
from edgekit.errors import BundleError, ModelError
from edgekit.trees.compile import compile_ensemble
from edgekit.trees.ensemble import read_ensemble
from edgekit.trees.testing import make_boosted_trees
from tests.bundle.conftest import base_manifest, rehash, variant

pytest.importorskip("tl2cgen")
ort = pytest.importorskip("onnxruntime")
CROSS = shutil.which("aarch64-linux-gnu-gcc") is not None
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
OPTIONS = {"input_name": "features", "outputs": ["label", "probabilities"], "label_output": "label"}


@pytest.fixture(scope="module")
def libs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("trees")
    model = make_boosted_trees(tmp / "t.onnx", features=6, classes=3, rounds=5, seed=11)
    ens = read_ensemble(onnx.load(model))
    out = {"model": model}
    machines = [host_machine()] + (["aarch64"] if CROSS and host_machine() != "aarch64" else [])
    for m in machines:
        out[m] = compile_ensemble(ens, tmp / f"{m}.so", machine=m, work_dir=tmp / f"w-{m}").path
    return out


def _bundle(root: Path, libs: dict[str, Path], *, list_extra: bool = True) -> Path:
    (root / "variants").mkdir(parents=True)
    m = base_manifest()
    m["input"] = {"name": "features", "shape": ["N", 6], "dtype": "float32"}
    m["output"] = {"index": 1, "kind": "probabilities", "name": "probabilities", "shape": ["N", 3]}
    m["labels"] = ["a", "b", "c"]
    host = host_machine()
    shutil.copyfile(libs[host], root / "variants" / "trees-compiled.so")
    libraries = {host: "trees-compiled.so"}
    extra = []
    for machine in [k for k in libs if k not in ("model", host)]:
        name = f"trees-compiled.{machine}.so"
        shutil.copyfile(libs[machine], root / "variants" / name)
        libraries[machine] = name
        m["files"][f"variants/{name}"] = ""
        if list_extra:
            extra.append(f"variants/{name}")
    v = variant("trees-compiled", "variants/trees-compiled.so", runtime="tl2cgen", extra=extra)
    v["backend_options"] = {"libraries": libraries, **OPTIONS}
    m["variants"] = [v]
    m["selected"] = "trees-compiled"
    m["files"]["variants/trees-compiled.so"] = ""
    rehash(root, m)
    return root


def test_loads_from_a_verified_bundle_and_matches_onnxruntime(tmp_path, libs):
    b = load_bundle(_bundle(tmp_path / "b", libs))
    var = b.manifest["variants"][0]
    x = np.random.default_rng(0).uniform(0, 1, (64, 6)).astype(np.float32)
    with open_backend(b.model_path("trees-compiled"), **var["backend_options"]) as backend:
        label, probs = backend.run_all({"features": x})
    sess = ort.InferenceSession(str(libs["model"]), providers=["CPUExecutionProvider"])
    want = sess.run(None, {"features": x})
    np.testing.assert_allclose(probs, want[1], atol=2e-6)
    np.testing.assert_array_equal(label, want[0])


def test_a_tampered_library_is_refused_before_it_is_loaded(tmp_path, libs):
    root = _bundle(tmp_path / "b", libs)
    b = load_bundle(root)
    lib = root / "variants" / "trees-compiled.so"
    lib.write_bytes(lib.read_bytes()[:-1] + b"\x01")  # after verification: a swap before dlopen
    with pytest.raises(BundleError, match="refusing to load variant 'trees-compiled'"):
        b.model_path("trees-compiled")


@pytest.mark.skipif(not CROSS, reason="no aarch64 cross compiler")
def test_the_other_machines_library_is_hashed_too(tmp_path, libs):
    root = _bundle(tmp_path / "b", libs)
    b = load_bundle(root)
    other = root / "variants" / "trees-compiled.aarch64.so"
    other.write_bytes(other.read_bytes() + b"\x00")
    with pytest.raises(BundleError, match=r"trees-compiled\.aarch64\.so"):
        b.model_path("trees-compiled")


@pytest.mark.skipif(not CROSS, reason="no aarch64 cross compiler")
def test_a_library_not_in_extra_files_fails_the_schema(tmp_path, libs):
    root = _bundle(tmp_path / "b", libs, list_extra=False)
    with pytest.raises(BundleError, match=r"libraries: 'variants/trees-compiled\.aarch64\.so' is not in"):
        load_bundle(root)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"libraries": {"aarch64": "../evil.so"}}, "libraries.aarch64: must be a .so file name"),
        ({"libraries": {"aarch64": "x.dll"}}, "libraries.aarch64: must be a .so file name"),
        ({"libraries": {}}, "libraries: must hold 1 to 16 machines"),
        ({"outputs": []}, "outputs: must hold 1 to 16 entries"),
        ({"threads_please": 2}, "unknown option 'threads_please' for tl2cgen"),
    ],
)
def test_bad_backend_options_are_one_line(options, needle):
    m = base_manifest()
    v = variant("trees-compiled", "variants/t.so", runtime="tl2cgen")
    v["backend_options"] = options
    m["variants"] = [v]
    m["selected"] = "trees-compiled"
    m["files"] = {"variants/t.so": "a" * 64}
    with pytest.raises(BundleError, match="backend_options") as info:
        validate_manifest(m)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_a_non_elf_file_is_refused(tmp_path):
    fake = tmp_path / "fake.so"
    fake.write_bytes(b"not a library at all, just text")
    with pytest.raises(ModelError, match="not an ELF shared library"):
        open_backend(fake)


def test_a_closed_backend_refuses_to_run(libs):
    backend = open_backend(libs[host_machine()])
    backend.close()
    with pytest.raises(ModelError, match="closed"):
        backend.run(np.zeros((1, 6), np.float32))
