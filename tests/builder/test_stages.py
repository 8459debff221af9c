"""Build stages run alone: ``stage(run) -> run`` on a Run set up by hand."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.builder.stages import STAGES, Run
from edgekit.builder.stages.context import BuildOptions, StageTimer
from edgekit.builder.stages.load import load
from edgekit.builder.stages.variants import build_variants
from edgekit.config import load_config
from tests.builder.zoo import write_case


def _run(tmp: Path, names: list[str]) -> Run:
    tmp.mkdir(exist_ok=True)
    cfg = load_config(write_case(tmp, "resnet_like", n=24))
    opts = BuildOptions(out_dir=tmp / "out", log=lambda _m: None)
    for d in ("staging/variants", "scratch"):
        (tmp / d).mkdir(parents=True)
    return Run(cfg, opts, names, StageTimer(opts), tmp / "staging", tmp / "staging" / "variants",
               tmp / "scratch", [], "now", time.perf_counter())


def test_stage_order() -> None:
    assert [s.__name__ for s in STAGES] == [
        "load", "features", "build_variants", "validate", "ood", "insight", "profile", "audit",
        "judge", "baseline", "bundle", "report",
    ]


def test_load_alone_fixes_the_shape_and_scores_the_reference(tmp_path: Path) -> None:
    run = load(_run(tmp_path, ["onnx-fp32"]))
    assert run.prepared is not None and run.prepared.input_shape == [1, 3, 32, 32]
    assert run.info is not None and run.info.inputs[0].shape == ["N", 3, 32, 32]
    assert run.ref_scores is not None and run.ref_scores.shape == (24, 4)  # [N, 4, 1, 1] squeezed
    assert run.ev is not None and run.ref_acc == 1.0  # the data is labelled by the model itself
    assert [t.name for t in run.timer.timings] == ["load"]


def test_variants_alone_after_load(tmp_path: Path) -> None:
    run = load(_run(tmp_path, ["onnx-fp32", "onnx-fp16"]))
    run.model = None  # a stage that needs what load set refuses to run without it
    with pytest.raises(RuntimeError, match="model is not set"):
        build_variants(run)
    run = build_variants(load(_run(tmp_path / "b", ["onnx-fp32", "onnx-fp16"])))
    assert [r.status for r in run.results] == ["built", "built"]
    assert np.isfinite(run.results[0].size_bytes or np.nan)
