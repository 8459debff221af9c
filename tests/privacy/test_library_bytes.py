"""The audit strips compiled-tree libraries before the bundle is written: the manifest's and the
report's ``library_bytes`` and the variant's size and hash are those of the files shipped (measured
here with os.stat and hashlib on the bundle's own files), not of the libraries as compiled."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from edgekit.builder.pipeline import BuildOptions, run_build
from edgekit.bundle import load_bundle
from edgekit.config import load_config
from edgekit.signals.features import FEATURE_NAMES
from edgekit.trees.testing import make_boosted_trees


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("strip") is None, reason="no gcc/strip")
def test_library_bytes_are_the_stripped_files(tmp_path: Path) -> None:
    pytest.importorskip("tl2cgen")
    make_boosted_trees(tmp_path / "model.onnx", features=len(FEATURE_NAMES), classes=3, rounds=3, seed=3)
    (tmp_path / "edgekit.toml").write_text(
        'variants = ["trees-compiled"]\n'
        '[model]\npath = "model.onnx"\nname = "tiny-gbt"\nlabels = ["noise", "tone", "am"]\n'
        'output = "probabilities"\noutput_name = "probabilities"\n'
        '[[preprocess]]\nop = "rms_normalize"\n[[preprocess]]\nop = "features"\n'
        '[data]\ncalibration = "synthetic:rf?n=16&seed=3"\n'
        "[profile]\nruns = 3\nmax_reruns = 0\nwarmup = 1\n"
        '[target]\nboard = "rpi4b"\n'  # a Pi: the aarch64 library too, when the cross compiler is here
    )
    out = tmp_path / "out"
    result = run_build(load_config(tmp_path / "edgekit.toml"), BuildOptions(out_dir=out, log=lambda _m: None))
    v = result.variant("trees-compiled")
    assert v.status == "built", v.reason
    assert v.privacy is not None and v.privacy.removed  # .comment and .symtab at least: sizes changed

    bundle = load_bundle(out / "bundle")
    (entry,) = [e for e in bundle.manifest["variants"] if e["name"] == "trees-compiled"]
    libraries = entry["backend_options"]["libraries"]
    if shutil.which("aarch64-linux-gnu-gcc") and shutil.which("aarch64-linux-gnu-strip"):
        assert set(libraries) == {"x86_64", "aarch64"}  # the Pi's library is checked as well
    shipped = {m: (bundle.root / "variants" / name).stat().st_size for m, name in libraries.items()}
    assert entry["meta"]["library_bytes"] == shipped
    host_file = bundle.root / entry["file"]
    assert entry["size_bytes"] == host_file.stat().st_size == shipped[next(iter(libraries))]
    digest = hashlib.sha256(host_file.read_bytes()).hexdigest()
    assert bundle.manifest["files"][entry["file"]] == digest
    for extra in entry["extra_files"]:
        want = hashlib.sha256((bundle.root / extra).read_bytes()).hexdigest()
        assert bundle.manifest["files"][extra] == want

    report = json.loads((out / "report.json").read_text())
    (rv,) = [r for r in report["variants"] if r["name"] == "trees-compiled"]
    assert rv["meta"]["library_bytes"] == shipped
    assert any(n.startswith("after ELF stripping: ") for n in rv["notes"])
