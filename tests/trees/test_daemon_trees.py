"""``edgekit run`` serves a compiled tree variant: the daemon loads the TL2cgen library from the
verified bundle, runs the ``features`` preprocessing on every capture from ``edgekit emulate`` and
answers from the model, with the labels onnxruntime gives for the same trees."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgekit.backends.compiled_trees import host_machine
from edgekit.data.synth import CLASSES
from edgekit.runtime.model import load_runner
from edgekit.signals.features import FEATURE_NAMES
from edgekit.trees.compile import compile_ensemble
from edgekit.trees.ensemble import read_ensemble
from edgekit.trees.testing import make_boosted_trees
from tests.runtime.bundles import GBT_PREPROCESS, write_bundle
from tests.runtime.conftest import Emulator, RunningDaemon

pytest.importorskip("tl2cgen")
ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")

OPTIONS = {"input_name": "features", "outputs": ["label", "probabilities"], "label_output": "label"}


def _tree_bundle(tmp: Path) -> tuple[Path, Path]:
    """A bundle whose only variant is a small compiled boosted-tree model on the 31 features."""
    model = make_boosted_trees(
        tmp / "gbt.onnx", features=len(FEATURE_NAMES), classes=len(CLASSES), rounds=6, depth=3, seed=11
    )
    ens = read_ensemble(onnx.load(model))
    lib = compile_ensemble(ens, tmp / "trees.so", machine=host_machine(), work_dir=tmp / "src").path
    root = write_bundle(
        tmp / "bundle",
        variants={"trees-compiled": lib},
        selected="trees-compiled",
        threshold=None,
        variant_meta={"trees-compiled": {"runtime": "tl2cgen", "backend_options": OPTIONS}},
        extra={
            "name": "tiny-gbt-test",
            "input": {"name": "features", "shape": ["batch", len(FEATURE_NAMES)], "dtype": "float32"},
            "output": {"index": 1, "kind": "probabilities", "name": "probabilities", "shape": ["batch", 10]},
            "preprocess": GBT_PREPROCESS,
            "ood": {"score": "max_softmax", "threshold": None, "target_in_distribution_accept": 0.95},
        },
    )
    return root, model


def test_the_daemons_runner_gives_onnxruntimes_labels(tmp_path):
    from edgekit.bundle import load_bundle
    from edgekit.data.synth import generate

    root, model = _tree_bundle(tmp_path)
    runner = load_runner(load_bundle(root), None, threads=1)
    try:
        assert runner.backend.name == "tl2cgen"
        x = generate(40, seed=31).x
        got = [runner.predict(x[i : i + 1]).label_index for i in range(len(x))]
    finally:
        runner.close()
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    want = sess.run(["label"], {"features": runner.pipeline(x)})[0]
    np.testing.assert_array_equal(got, want)


def test_edgekit_run_answers_every_capture_from_the_compiled_trees(tmp_path):
    root, _ = _tree_bundle(tmp_path)
    emu = Emulator(tmp_path, "--rate", "20", "--count", "30", "--seed", "23", "--linger", "4")
    # a budget no busy test host can overrun: this is about which model answers, not how fast
    daemon = RunningDaemon(tmp_path, root, emu.link, "[runtime]\nlatency_budget_ms = 60000\n")
    try:
        emu.wait(60)
    finally:
        emu.stop()
        assert daemon.stop() == 0, daemon.err.read_text()[-2000:]
    results = daemon.results()
    assert len(results) >= 25, daemon.err.read_text()[-2000:]  # a few may arrive spoiled or late
    assert {(r["source"], r["model"], r["status"]) for r in results} == {("model", "trees-compiled", "ok")}
