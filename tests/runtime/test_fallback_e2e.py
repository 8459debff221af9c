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


def _slow_onnx(path, rounds: int = 1500, width: int = 1024) -> None:
    """A valid model of the bundle's input (N, 6, 1024) and output (N, 10) that is slow by
    construction: ``rounds`` chained (6 x 1024) @ (1024 x 1024) products (about 0.25 s on one
    core of the 2-core CI host when quiet, and slower in step with everything else when loaded).

    The overrun case needs a primary the baseline rule (about 0.05 ms) is always measured cheaper
    than: the daemon answers a late capture with the model itself when its warm-up or running
    timings say the baseline is no faster, and with the reference CNN (about 0.5 ms) one
    preempted baseline call on a loaded host (seen: 12 ms) was enough for that."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    init = [
        numpy_helper.from_array((rng.normal(0, 1, (width, width)) / np.sqrt(width)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.normal(0, 0.3, (width, 10)).astype(np.float32), "fw"),
        numpy_helper.from_array(np.array([-1, 6, width], np.int64), "rows"),
        numpy_helper.from_array(np.array(rounds, np.int64), "trips"),
        numpy_helper.from_array(np.array(True), "cond"),
    ]
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["h_in", "w"], ["m"]),
            helper.make_node("Tanh", ["m"], ["h_out"]),
            helper.make_node("Identity", ["c_in"], ["c_out"]),
        ],
        "round",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h_in", TensorProto.FLOAT, ["batch", 6, width]),
        ],
        [
            helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, ["batch", 6, width]),
        ],
    )
    nodes = [
        helper.make_node("Loop", ["trips", "cond", "x"], ["h"], body=body),
        helper.make_node("Reshape", ["h", "rows"], ["h3"]),
        helper.make_node("ReduceMean", ["h3"], ["g"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["g", "fw"], ["logits"]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6, width])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])
    model = helper.make_model(
        helper.make_graph(nodes, "slow", [x], [y], init), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


# How long the emulator waits for the last RESULTs after its 30th capture: it ends as soon as every
# capture is answered, so this bound costs nothing when the daemon keeps up and only has to cover
# a daemon slowed down by a loaded host (4 s was not always enough at a load average of 10-20).
LINGER_S = 60
# A liveness bound on the emulator's whole run, which includes the daemon's start (imports, model
# load and warm-up: seconds on a quiet host, tens of seconds on a loaded one): not a speed check.
RUN_LIMIT_S = 600


def _run(tmp_path, bundle, config: str = "") -> tuple[RunningDaemon, Emulator]:
    emu = Emulator(tmp_path, "--rate", "20", "--count", "30", "--seed", "21", "--linger", str(LINGER_S))
    daemon = RunningDaemon(tmp_path, bundle, emu.link, config)
    try:
        emu.wait(RUN_LIMIT_S)
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
        # a primary that overruns any budget by construction, against a budget nothing meets
        primary = tmp_path / "slow.onnx"
        _slow_onnx(primary)
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
        # the stand-in did what it is for: the daemon measured the baseline as the cheaper answer
        assert not [line for line in daemon.lines() if line["event"] == "baseline_slower"]
    if status == "unavailable":
        assert {r["label"] for r in results} == {"unavailable"}
        assert set(stats["results_by_label"]) == {str(0xFFFF)}
    lines = [line["event"] for line in daemon.lines()]
    assert ("model_load_failed" in lines) == (case == "cannot-load")
