"""The cross-compiled aarch64 library predicts what onnxruntime does, run under qemu-user.

Needs Debian's ``gcc-aarch64-linux-gnu`` and ``qemu-user``; skipped (with the reason) otherwise.
A tiny C harness (``aarch64_harness.c``, built for aarch64 here) dlopens the library and feeds it
float32 rows, as the ctypes backend does on the Pi.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgekit.trees.compile import compile_ensemble
from edgekit.trees.ensemble import read_ensemble
from edgekit.trees.testing import make_boosted_trees

HERE = Path(__file__).resolve().parent
SYSROOT = Path("/usr/aarch64-linux-gnu")
pytestmark = pytest.mark.skipif(
    shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None
    or not SYSROOT.is_dir(),
    reason="needs gcc-aarch64-linux-gnu and qemu-user (apt-get install)",
)


def test_aarch64_library_matches_onnxruntime_under_qemu(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("tl2cgen")
    model = make_boosted_trees(tmp_path / "t.onnx", features=9, classes=5, rounds=10, depth=3, seed=21)
    lib = compile_ensemble(
        read_ensemble(onnx.load(model)), tmp_path / "t.so", machine="aarch64", work_dir=tmp_path / "w"
    ).path
    harness = tmp_path / "harness"
    subprocess.run(
        ["aarch64-linux-gnu-gcc", "-O1", "-o", str(harness), str(HERE / "aarch64_harness.c"), "-ldl"],
        check=True, timeout=120,
    )
    x = np.random.default_rng(4).uniform(-0.1, 1.1, (200, 9)).astype(np.float32)
    run = subprocess.run(
        ["qemu-aarch64", "-L", str(SYSROOT), str(harness), str(lib)],
        input=x.tobytes(), capture_output=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr
    got = np.frombuffer(run.stdout, dtype=np.float32).reshape(-1, 5)
    want = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"features": x})
    assert got.shape == (200, 5)
    np.testing.assert_allclose(got, want[1], atol=2e-6)
    np.testing.assert_array_equal(got.argmax(1), want[0])
