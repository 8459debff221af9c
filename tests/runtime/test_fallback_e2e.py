"""The fallback through the whole daemon: a primary that raises, one that cannot load, one that
overruns its budget, and no baseline at all (explicit "unavailable")."""

from __future__ import annotations

import pytest

from tests.conftest import make_cnn1d
from tests.runtime.bundles import GBT, GBT_BASELINE, write_bundle
from tests.runtime.conftest import Emulator, RunningDaemon

RULE = {
    "kind": "rule",
    "rule": "energy-detector",
    "params": {"flatness_min": 0.7},
    "accuracy": 0.97,
    "source": "test rule",
}


def _unloadable_onnx(path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 1024])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("NoSuchOp", ["x"], ["y"], domain="edgekit.nowhere")
    graph = helper.make_graph([node], "unloadable", [x], [y])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("edgekit.nowhere", 1)]
    )
    onnx.save(model, str(path))


def _run(tmp_path, bundle, config: str = "") -> tuple[RunningDaemon, Emulator]:
    emu = Emulator(tmp_path, "--rate", "20", "--count", "30", "--seed", "21", "--linger", "4")
    daemon = RunningDaemon(tmp_path, bundle, emu.link, config)
    try:
        emu.wait(60)
    finally:
        emu.stop()
        daemon.stop()
    return daemon, emu


@pytest.mark.parametrize(
    ("case", "status", "reason", "source"),
    [
        ("raises", "fallback", "error", "baseline"),
        ("cannot-load", "fallback", "not_loaded", "baseline"),
        ("overruns", "fallback", "overrun", "baseline"),
        ("no-baseline", "unavailable", "error", "none"),
    ],
)
def test_every_capture_is_answered_when_the_primary_fails(tmp_path, case, status, reason, source):
    # a budget no busy test host can overrun, except in the case that is about overruns
    config = "[runtime]\nlatency_budget_ms = 60000\n"
    baseline, baseline_file = {**GBT_BASELINE, "accuracy": 0.79}, GBT
    if case == "raises":
        # a valid model whose input is (N, 2, 64): the bundle's (1, 6, 1024) makes every call raise
        primary = make_cnn1d(tmp_path / "wrong-shape.onnx")
    elif case == "cannot-load":
        # a well-formed ONNX file (bundle verification reads it) that no runtime can load: its
        # one node is an operator of a domain nobody implements
        primary = tmp_path / "unloadable.onnx"
        _unloadable_onnx(primary)
    elif case == "overruns":
        primary = None
        config = "[runtime]\nlatency_budget_ms = 0.05\nbaseline_reserve_ms = 0\n"
        baseline, baseline_file = RULE, None  # a cheap rule: the stream must not fall behind
    else:
        primary = make_cnn1d(tmp_path / "wrong-shape.onnx")
        baseline, baseline_file = None, None
    bundle = write_bundle(
        tmp_path / "b",
        variants={"onnx-fp32": primary} if primary else None,
        baseline=baseline,
        baseline_file=baseline_file,
    )
    daemon, emu = _run(tmp_path, bundle, config)
    results = daemon.results()
    stats = emu.stats()["scanner"]
    assert len(results) == stats["results_received"] == 30  # a RESULT for every capture
    assert {(r["status"], r["reason"], r["source"]) for r in results} == {(status, reason, source)}
    if case == "overruns":
        assert all(r["overrun"] for r in results)
    if status == "unavailable":
        assert {r["label"] for r in results} == {"unavailable"}
        assert set(stats["results_by_label"]) == {str(0xFFFF)}
    lines = [line["event"] for line in daemon.lines()]
    assert ("model_load_failed" in lines) == (case == "cannot-load")
