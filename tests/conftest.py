"""Shared fixtures: small ONNX models built in the test, never downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def make_cnn1d(path: Path, *, classes: int = 4, length: int = 64, seed: int = 0) -> Path:
    """A small NCW 1D CNN with a dynamic batch axis: Conv -> Relu -> GlobalAveragePool -> Gemm."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(0, 0.3, (8, 2, 5)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(8, np.float32), "b")
    fw = numpy_helper.from_array(rng.normal(0, 0.3, (classes, 8)).astype(np.float32), "fw")
    fb = numpy_helper.from_array(np.zeros(classes, np.float32), "fb")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[2, 2], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn1d",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, length])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        [w, b, fw, fb],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def cnn1d_path(tmp_path: Path) -> Path:
    return make_cnn1d(tmp_path / "cnn1d.onnx")


# --- every test file is collected -------------------------------------------------------------
# A test that never runs protects nothing: pytest's default ``norecursedirs`` once skipped a whole
# test folder named ``build``. When the whole suite is run (no file, -k or -m selection), the
# session fails if any ``tests/**/test_*.py`` produced no collected item. A mutation run
# (mutmut sets MUTANT_UNDER_TEST in every pytest session it starts, see scripts/mutation.sh)
# selects tests by design, so the guard stands aside there.

_TESTS = Path(__file__).resolve().parent


def _whole_suite(config: pytest.Config) -> bool:
    if "MUTANT_UNDER_TEST" in os.environ:
        return False
    selecting = ("keyword", "markexpr", "ignore", "ignore_glob", "deselect")
    if any(config.getoption(opt, None) for opt in selecting):
        return False
    args = [Path(a.split("::")[0]).resolve() for a in config.args] or [Path.cwd()]
    return any(a in (_TESTS, _TESTS.parent) for a in args)


def uncollected_test_files(collected: set[Path]) -> list[Path]:
    """Test files under ``tests/`` that contributed no item to the session."""
    files = sorted(p.resolve() for p in _TESTS.rglob("test_*.py") if "__pycache__" not in p.parts)
    return [f for f in files if f not in collected]


def pytest_collection_finish(session: pytest.Session) -> None:
    if not _whole_suite(session.config):
        return
    collected = {Path(str(item.path)).resolve() for item in session.items}
    missing = uncollected_test_files(collected)
    if missing:
        names = ", ".join(str(m.relative_to(_TESTS.parent)) for m in missing)
        raise pytest.UsageError(f"test files not collected (check norecursedirs and names): {names}")
