"""``edgekit build``: load -> optimise -> quantise -> export -> validate -> profile -> judge ->
bundle -> report.

The pipeline only orchestrates: the stages are functions ``stage(run) -> run`` in
``edgekit/builder/stages/`` (listed in order in ``STAGES``), variants are modules in
``edgekit/builder/variants/``, budgets are kinds in ``edgekit/budget.py``, metrics in
``metrics.py``, and the renderers in ``edgekit/report/`` read the :class:`BuildResult` it returns.
"""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from edgekit.builder.prepare import check_input_values, check_other_inputs
from edgekit.builder.stages import STAGES, Run
from edgekit.builder.stages.baseline import resolve_baseline
from edgekit.builder.stages.context import BuildOptions, EvalData, StageTimer
from edgekit.builder.stages.load import select_io
from edgekit.builder.stages.scoring import score_file
from edgekit.builder.variants import VARIANTS
from edgekit.config import BuildConfig
from edgekit.errors import UsageError
from edgekit.logs import LOGS_DIR, RUNTIME_LOG, captured
from edgekit.model_info import inspect_model
from edgekit.outdir import check_name, open_output
from edgekit.results import BuildResult

__all__ = ["BuildOptions", "EvalData", "default_out_dir", "run_build", "score_file"]


def default_out_dir(cfg: BuildConfig) -> Path:
    """``out/NAME``, NAME being ``model.name`` or the model file's stem, checked as a folder name."""
    return Path("out") / _model_name(cfg)


def _model_name(cfg: BuildConfig) -> str:
    # The name becomes out/NAME and NAME.bundle.tar.gz: "..", "/" or NUL would escape the output.
    if cfg.model.name:
        return check_name(cfg.model.name, f"{cfg.source}: model.name")
    return check_name(cfg.model_path.stem, f"{cfg.model_path}: model file name (model.name unset)")


def _inputs(cfg: BuildConfig, opts: BuildOptions) -> list[tuple[str, str | os.PathLike[str]]]:
    """Every file the build reads, which no output folder may hold."""
    base = Path(cfg.base_dir)
    found: list[tuple[str, str | os.PathLike[str]]] = [("model", cfg.model_path)]
    if cfg.source and Path(cfg.source).exists():
        found.append(("config", cfg.source))
    for key, spec in (("calibration", cfg.data.calibration), ("evaluation", cfg.data.evaluation)):
        # A recipe ("synthetic:...") has a scheme of more than one letter (one is a drive letter).
        if spec and len(urlsplit(spec).scheme) <= 1:
            path = Path(spec).expanduser()
            found.append((f"{key} data", path if path.is_absolute() else base / path))
    b = cfg.baseline
    for key, rel in (("baseline model", b.model if b else ""), ("baseline config", b.config if b else "")):
        if rel:
            found.append((key, base / rel))
    target = opts.target_results or (base / cfg.target.results if cfg.target.results else None)
    if target is not None:
        found.append(("target results", target))
    return found


def run_build(cfg: BuildConfig, opts: BuildOptions) -> BuildResult:
    """Run every stage and return the result; the caller decides the exit code from ``verdict``.

    The output folder is checked and locked before any work (``edgekit.outdir``): the build is
    written into a staging folder beside it and swapped in atomically only when complete.
    """
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    log = opts.log
    timer = StageTimer(opts)
    names = opts.variants or cfg.variants
    for n in names:
        if n not in VARIANTS:
            raise UsageError(f"unknown variant {n!r}; accepted: {', '.join(VARIANTS)}")
    _model_name(cfg)
    # What is judged is known before anything is written: a model whose score output is not
    # (N, classes), or with inputs edgekit cannot feed, is refused here, and no folder is made.
    info = inspect_model(cfg.model_path)
    input_name, _idx, _n = select_io(cfg, info)
    check_other_inputs(cfg, [i.name for i in info.inputs], input_name)
    check_input_values(cfg, [(i.name, i.dtype) for i in info.inputs])
    resolve_baseline(cfg)  # a missing or mislabelled baseline is refused here, before any work
    warnings: list[str] = []

    with open_output(opts.out_dir, kind="build", protect=_inputs(cfg, opts), log=log) as out:
        # Progress goes to build.log too: a stopped build keeps it (edgekit.outdir.kept).
        opts = dataclasses.replace(opts, out_dir=out.path, log=out.log)
        timer = StageTimer(opts)
        work = out.staging / "variants"
        work.mkdir()
        run = Run(cfg, opts, names, timer, out.staging, work, out.scratch, warnings, started, t_start)
        # The runtimes' own output goes to logs/runtime.log, not the terminal (edgekit.logs).
        with captured(out.staging / LOGS_DIR / RUNTIME_LOG, verbose=opts.verbose):
            for stage in STAGES:
                run = stage(run)
        out.publish()
        return run.need(run.result, "result")
