"""What the build's stages share: the options, the run's state, and the stage timer.

Every stage is a function ``stage(run) -> run`` (``edgekit.builder.stages``); :class:`Run` holds
what the stages before it decided, so each stage can be read, and tested, on its own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgekit.bench_result import BenchResult
from edgekit.builder import metrics
from edgekit.builder.prepare import PreparedModel
from edgekit.builder.variants.base import BuildContext
from edgekit.config import BuildConfig
from edgekit.data.dataset import Dataset
from edgekit.model_info import ModelInfo
from edgekit.results import BuildResult, StageTiming, VariantResult
from edgekit.signals.preprocess import Pipeline

__all__ = ["BuildOptions", "EvalData", "Log", "Run", "Stage", "StageTimer", "count", "fmt_bands"]

Log = Callable[[str], None]


@dataclass
class BuildOptions:
    """Command-line choices that are not part of the config file."""

    out_dir: Path
    variants: list[str] | None = None  # None: the config's list
    target_results: Path | None = None  # a bench.json from the target; overrides [target] results
    keep_going: bool = False
    verbose: bool = False  # show the runtimes' and converter's output too (edgekit.logs)
    log: Log = print
    stage_hook: Callable[[str, float], None] | None = None


@dataclass
class EvalData:
    """Evaluation data mapped onto the model's labels, preprocessed once."""

    x: np.ndarray  # model input (after preprocessing)
    y: np.ndarray  # index into the model's labels; -1 for out-of-distribution rows
    in_dist: np.ndarray
    ood: np.ndarray
    meta: dict[str, np.ndarray]
    source: str
    slices: list[metrics.SliceMask] = field(default_factory=list)


def count(n: int, noun: str) -> str:
    """``1 variant``, ``3 variants``: the build log's counts read as English."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def fmt_bands(edges_db: Sequence[float], thresholds: Sequence[float]) -> str:
    """Per-band OOD thresholds for the log: ``SNR < 5 dB: 0.512; >= 5 dB: 0.401`` (the manifest
    keeps the full floats)."""
    parts = []
    for k, t in enumerate(thresholds):
        if k == 0:
            where = f"< {edges_db[0]:g} dB" if edges_db else "all"
        elif k == len(edges_db):
            where = f">= {edges_db[-1]:g} dB"
        else:
            where = f"{edges_db[k - 1]:g} to {edges_db[k]:g} dB"
        parts.append(f"{where}: {t:.4g}")
    return "SNR " + "; ".join(parts)


class StageTimer:
    """Times each stage and reports it as it ends."""

    def __init__(self, opts: BuildOptions) -> None:
        self.timings: list[StageTiming] = []
        self._opts = opts

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[list[str]]:
        detail: list[str] = []
        self._opts.log(f"[{name}] ...")
        t0 = time.perf_counter()
        yield detail
        dt = time.perf_counter() - t0
        self.timings.append(StageTiming(name, dt, "; ".join(detail)))
        self._opts.log(
            f"[{name}] done in {dt:.1f} s" + (f": {'; '.join(detail)}" if detail else "")
        )
        if self._opts.stage_hook:
            self._opts.stage_hook(name, dt)


@dataclass
class Run:
    """One build's state. The first block is set up by ``run_build``; each later block is filled
    by the stage named in its comment and only read by the stages after it."""

    cfg: BuildConfig
    opts: BuildOptions
    names: list[str]  # the variants requested
    timer: StageTimer
    staging: Path  # the output folder being written (renamed into place at the end)
    work: Path  # staging/variants
    scratch: Path  # removed with the run
    warnings: list[str]
    started: str
    t_start: float
    # load
    pipe: Pipeline | None = None
    target: Path | None = None
    bench: BenchResult | None = None
    model: onnx.ModelProto | None = None
    info: ModelInfo | None = None
    input_name: str = ""
    out_index: int = 0
    labels: list[str] = field(default_factory=list)
    eval_ds: Dataset | None = None
    cal_ds: Dataset | None = None
    ev: EvalData | None = None
    calibration: np.ndarray | None = None
    prepared: PreparedModel | None = None
    ref_scores: np.ndarray | None = None
    ref_acc: float | None = None
    ref_pred: np.ndarray | None = None
    # features (the penultimate tensor exposed as an extra output; None: not available)
    features_tensor: str | None = None
    features_index: int | None = None
    # optimise / quantise / export
    ctx: BuildContext | None = None
    results: list[VariantResult] = field(default_factory=list)
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # validate: each variant's outputs
    # ood: each variant's chosen score accepts (True) or calls unknown each evaluation row
    accepted: dict[str, np.ndarray] = field(default_factory=dict)
    backend_opts: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped_by: str | None = None  # the variant whose failure stopped the build (no --keep-going)
    # judge
    feature_costs: dict[str, Any] | None = None  # the `features` op's cost table (trees)
    result: BuildResult | None = None

    @property
    def log(self) -> Log:
        return self.opts.log

    @property
    def built(self) -> list[VariantResult]:
        """The variants that were built, in build order."""
        return [r for r in self.results if r.status == "built"]

    def need(self, value: Any, what: str) -> Any:
        """``value``, which an earlier stage must have set (an internal error otherwise)."""
        if value is None:
            raise RuntimeError(f"internal: {what} is not set; a stage ran out of order")
        return value


Stage = Callable[[Run], Run]
