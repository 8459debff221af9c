"""Hygiene of compiled-tree libraries: a path planted in a real TL2cgen library (x86_64, and the
Pi's aarch64 one when the cross compiler is installed) is found, stripped and listed, and the
library predicts exactly as before."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgekit.backends.compiled_trees import CompiledTreesBackend
from edgekit.privacy.hygiene_elf import scan_elf, strip_elf_file

pytest.importorskip("tl2cgen")

from edgekit.trees.compile import compile_ensemble
from edgekit.trees.ensemble import read_ensemble
from edgekit.trees.testing import make_boosted_trees

PLANTED = b"/home/alice/rf-captures/train-2026.npz"
OBJCOPY = {"x86_64": "objcopy", "aarch64": "aarch64-linux-gnu-objcopy"}


def _library(tmp: Path, machine: str) -> Path:
    """A compiled ensemble with the planted path in a section of its own (not loaded)."""
    if shutil.which(OBJCOPY[machine]) is None or (
        machine == "aarch64" and shutil.which("aarch64-linux-gnu-gcc") is None
    ):
        pytest.skip(f"no {machine} toolchain")
    model = make_boosted_trees(tmp / "m.onnx", features=6, classes=3, rounds=4)
    ens = read_ensemble(onnx.load(str(model)), model)
    lib = compile_ensemble(ens, tmp / f"t.{machine}.so", machine=machine, work_dir=tmp / f"w-{machine}")
    note = tmp / "note.bin"
    note.write_bytes(b"built from " + PLANTED + b"\0")
    subprocess.run([OBJCOPY[machine], "--add-section", f".note.build={note}", str(lib.path)], check=True)
    assert PLANTED in lib.path.read_bytes()
    return lib.path


def _predict(path: Path, x: np.ndarray) -> list[np.ndarray]:
    b = CompiledTreesBackend(path, input_name="x", outputs=["label", "probabilities"], label_output="label")
    try:
        return [np.asarray(o) for o in b.run_all({"x": x})]
    finally:
        b.close()


def test_planted_path_is_found_stripped_and_listed(tmp_path: Path) -> None:
    lib = _library(tmp_path, "x86_64")
    found = scan_elf(lib)
    assert found[".note.build"] == [f"{len(PLANTED) + 11} characters, names a path or a user"]
    x = np.random.default_rng(0).normal(size=(64, 6)).astype(np.float32)
    before = _predict(lib, x)
    calls = []

    def same(a: Path, b: Path) -> bool:
        calls.append((a, b))
        return all(np.array_equal(p, q) for p, q in zip(_predict(a, x), _predict(b, x), strict=True))

    c = strip_elf_file(lib, same)
    assert calls, "the output check ran"
    data = lib.read_bytes()
    assert PLANTED not in data and b"GCC: (" not in data and b"main.c" not in data
    assert any(".note.build" in r and "1 string(s)" in r for r in c.removed)
    assert any(".comment (compiler identification)" in r for r in c.removed)
    assert any(".symtab (source file names, local symbols)" in r for r in c.removed)
    assert all("alice" not in line for line in c.removed + c.kept)  # the text is never copied
    assert c.kept == []
    for p, q in zip(before, _predict(lib, x), strict=True):
        np.testing.assert_array_equal(p, q)
    assert scan_elf(lib) == {}


def test_kept_when_asked_or_when_the_outputs_differ(tmp_path: Path) -> None:
    lib = _library(tmp_path, "x86_64")
    original = lib.read_bytes()
    kept = strip_elf_file(lib, lambda a, b: True, keep_metadata=True)
    assert kept.removed == [] and lib.read_bytes() == original
    assert kept.kept == [f"t.x86_64.so section .note.build: {len(PLANTED) + 11} characters, names a "
                         "path or a user ([privacy] keep_metadata)"]
    refused = strip_elf_file(lib, lambda a, b: False)
    assert refused.removed == [] and lib.read_bytes() == original
    assert refused.kept[-1] == "t.x86_64.so: stripping changed the library: kept as built"
    assert not list(tmp_path.glob(".stripped-*"))


def test_a_build_folder_named_in_the_library_is_found(tmp_path: Path) -> None:
    lib = _library(tmp_path, "x86_64")
    # a folder path of its own, not under tmp_path: pytest's default temp root names the user
    # ("/tmp/pytest-of-root/..."), which the scan rightly reports without being told the folder
    folder = Path("/tmp/edgekit-staging-folder-3f9c")
    note = tmp_path / "n2.bin"
    note.write_bytes(str(folder).encode() + b"/variants\0")
    subprocess.run(["objcopy", "--add-section", f".note.folder={note}", str(lib)], check=True)
    assert ".note.folder" not in scan_elf(lib)  # a /tmp path is no one's home folder...
    assert scan_elf(lib, [folder])[".note.folder"] == [
        f"{len(str(folder)) + 9} characters, names this build's host, user or folder"]


def test_the_pis_library_is_stripped_without_running_it(tmp_path: Path) -> None:
    lib = _library(tmp_path, "aarch64")
    c = strip_elf_file(lib, None)
    assert PLANTED not in lib.read_bytes()
    assert any(".note.build" in r for r in c.removed)
    # its dynamic symbols (what the device's ctypes looks up) are still there
    nm = subprocess.run(["aarch64-linux-gnu-nm", "-D", "--defined-only", str(lib)],
                        capture_output=True, text=True, check=True).stdout
    assert {"predict", "get_num_feature", "get_num_class"} <= {ln.split()[-1] for ln in nm.splitlines()}
