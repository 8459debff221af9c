"""``edgekit build``: load -> optimise -> quantise -> export -> validate -> profile -> judge ->
bundle -> report.

The pipeline only orchestrates: variants are modules in ``edgekit/builder/variants/``, budgets are
kinds in ``edgekit/budget.py``, metrics in ``metrics.py``, and the renderers in ``edgekit/report/``
read the :class:`BuildResult` it returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from edgekit import __version__
from edgekit.budget import BudgetContext, check_variant, pareto_front, select_variant
from edgekit.builder import metrics
from edgekit.builder.energy_estimate import estimate_energy
from edgekit.builder.profile import host_description, profile_variant
from edgekit.builder.runtime_fields import drift_reference
from edgekit.builder.target_results import apply_target_results, load_target_results
from edgekit.builder.variants import VARIANTS
from edgekit.builder.variants.base import BuildContext, CandidateScore, Skip
from edgekit.bundle import sha256_file
from edgekit.config import BuildConfig
from edgekit.data.dataset import Dataset, load_source, nonfinite_rows
from edgekit.data.limits import check_allocation
from edgekit.errors import ConfigError, ConversionError, DataError, EdgekitError, ModelError, UsageError
from edgekit.model_info import declared_input_bytes, inspect_model, load_onnx
from edgekit.outdir import check_name, open_output
from edgekit.results import BuildResult, StageTiming, VariantResult
from edgekit.signals.preprocess import Pipeline

__all__ = ["BuildOptions", "EvalData", "default_out_dir", "run_build"]

Log = Callable[[str], None]


@dataclass
class BuildOptions:
    """Command-line choices that are not part of the config file."""

    out_dir: Path
    variants: list[str] | None = None  # None: the config's list
    target_results: Path | None = None  # a bench.json from the target; overrides [target] results
    keep_going: bool = False
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


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"edgekit": __version__, "python": platform.python_version()}
    for name in ("numpy", "onnx", "onnxruntime", "ai-edge-litert", "tflite-runtime"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


class _Stages:
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


def _labels(cfg: BuildConfig, n_out: int | None, data: Dataset | None) -> list[str]:
    if cfg.model.labels:
        if n_out is not None and len(cfg.model.labels) != n_out:
            raise UsageError(
                f"{cfg.source}: model.labels has {len(cfg.model.labels)} names but the model's "
                f"score output has {n_out} classes"
            )
        return list(cfg.model.labels)
    if data is not None:
        names = [lbl for lbl in data.labels if lbl not in cfg.data.ood_classes]
        if n_out is None or len(names) == n_out:
            return names
    return [f"class_{i}" for i in range(n_out or 0)]


def _select_io(cfg: BuildConfig, info: Any) -> tuple[str, int, int | None]:
    """The input to feed, the index of the score output and its class count."""
    inputs = [i.name for i in info.inputs]
    if not inputs:
        raise ModelError(f"{cfg.model_path}: the model has no input to feed")
    input_name = cfg.model.input_name or inputs[0]
    if input_name not in inputs:
        raise UsageError(
            f"{cfg.source}: model.input_name {input_name!r} is not an input; inputs: {inputs}"
        )
    outs = info.outputs
    if cfg.model.output_name:
        names = [o.name for o in outs]
        if cfg.model.output_name not in names:
            raise UsageError(
                f"{cfg.source}: model.output_name {cfg.model.output_name!r} is not an output; "
                f"outputs: {names}"
            )
        idx = names.index(cfg.model.output_name)
    else:
        floats = [i for i, o in enumerate(outs) if o.dtype.startswith("float")]
        if not floats:
            listed = ", ".join(f"{o.name!r} ({o.dtype})" for o in outs) or "none"
            raise ModelError(
                f"{cfg.model_path}: no floating-point output to read class scores from "
                f"(outputs: {listed}); edgekit needs logits or probabilities, shape (N, classes)"
            )
        idx = floats[0]
    out = outs[idx]
    if not out.dtype.startswith("float"):
        raise ModelError(
            f"{cfg.model_path}: output {out.name!r} is {out.dtype}; class scores must be "
            "floating point (logits or probabilities), shape (N, classes)"
        )
    if out.shape and len(out.shape) != 2:
        raise ModelError(
            f"{cfg.model_path}: output {out.name!r} has shape {out.shape}; class scores must "
            "have shape (N, classes)"
        )
    spec = next(i for i in info.inputs if i.name == input_name)
    if not spec.dtype.startswith("float"):
        raise ModelError(
            f"{cfg.model_path}: input {input_name!r} is {spec.dtype}; edgekit feeds floating-point "
            "captures"
        )
    last = out.shape[-1] if out.shape else None
    return input_name, idx, last if isinstance(last, int) else None


def _finite_only(cfg: BuildConfig, ds: Dataset, key: str, warnings: list[str]) -> Dataset:
    """Drop captures holding NaN or inf (only loaded when ``data.drop_nonfinite`` is true)."""
    bad = nonfinite_rows(ds.x)
    if bad.any():
        warnings.append(
            f"data.{key} ({getattr(cfg.data, key)}): dropped {int(bad.sum())} of {len(ds)} "
            "captures holding NaN or inf (data.drop_nonfinite = true)"
        )
        ds = ds.subset(~bad)
    if len(ds) == 0:
        raise DataError(f"{getattr(cfg.data, key)} (data.{key}): no captures left to use")
    return ds


def _preprocess(pipe: Pipeline, x: np.ndarray, what: str) -> np.ndarray:
    """Run the preprocessing; captures it turns into NaN or inf are refused, naming the first."""
    with np.errstate(all="ignore"):  # overflow is reported below, per capture, not as a warning
        out = pipe(x).astype(np.float32, copy=False)
    bad = nonfinite_rows(out)
    if bad.any():
        raise DataError(
            f"{what}: preprocessing turns {int(bad.sum())} captures into NaN or inf (first at row "
            f"{int(np.argmax(bad))}); check the [[preprocess]] steps against this data"
        )
    return out


def _check_slice_columns(cfg: BuildConfig, ds: Dataset) -> None:
    """Every slice column must exist in the evaluation data; binned ones must be numeric."""
    for col in cfg.slices.columns:
        if col not in ds.meta:
            have = ", ".join(sorted(ds.meta)) or "none"
            raise ConfigError(
                f"{cfg.source}: slices.columns: {col!r} is not a metadata column of "
                f"{cfg.data.evaluation} (its columns: {have})"
            )
        kind = ds.meta[col].dtype.kind
        if col in cfg.slices.bins and kind not in "iuf":
            raise ConfigError(
                f"{cfg.source}: slices.bins.{col}: column {col!r} of {cfg.data.evaluation} is "
                f"{ds.meta[col].dtype}, not numeric; bins apply to numeric columns"
            )


def _prepare_eval(cfg: BuildConfig, ds: Dataset, labels: Sequence[str], pipe: Pipeline) -> EvalData:
    where = f"{cfg.data.evaluation} (data.evaluation)"
    if len(ds) == 0:
        raise DataError(f"{where}: no captures; accuracy needs an evaluation set")
    lookup = {name: i for i, name in enumerate(labels)}
    names = np.asarray(ds.labels)[ds.y]
    y = np.array([lookup.get(str(n), -1) for n in names], dtype=np.int64)
    ood = np.isin(names, list(cfg.data.ood_classes))
    in_dist = y >= 0
    unknown = ~in_dist & ~ood
    if unknown.any():
        extra = sorted(set(names[unknown].tolist()))
        raise DataError(
            f"{cfg.data.evaluation}: classes {extra} are neither model.labels nor data.ood_classes"
        )
    if not in_dist.any():
        raise DataError(
            f"{where}: all {len(ds)} captures are out-of-distribution ({sorted(set(names.tolist()))}"
            f"); accuracy and the 'unknown' threshold need captures of model.labels"
        )
    _check_slice_columns(cfg, ds)
    x = _preprocess(pipe, ds.x, where)
    meta = dict(ds.meta)
    slices = metrics.make_slices(meta, cfg.slices.columns, cfg.slices.bins, in_dist)
    return EvalData(x, y, in_dist, ood, meta, cfg.data.evaluation, slices)


def _check_input_shape(
    cfg: BuildConfig, info: Any, input_name: str, x: np.ndarray, what: str
) -> None:
    spec = next(i for i in info.inputs if i.name == input_name)
    dims = spec.shape
    ok = len(dims) == x.ndim and all(
        not isinstance(d, int) or d == s for d, s in zip(dims[1:], x.shape[1:], strict=False)
    )
    if not ok:
        raise DataError(
            f"{what}: after preprocessing the data has shape (N, {', '.join(map(str, x.shape[1:]))}) "
            f"but the model input {input_name!r} expects {dims}"
        )


def spec_shape(info: Any, input_name: str) -> str:
    """The declared shape of ``input_name``, for messages."""
    spec = next(i for i in info.inputs if i.name == input_name)
    return "[" + ", ".join(map(str, spec.shape)) + "]"


def _run_scores(
    backend: Any, x: np.ndarray, input_name: str, out_index: int, batch: int = 256
) -> np.ndarray:
    outs = []
    for i in range(0, len(x), batch):
        chunk = np.ascontiguousarray(x[i : i + batch])
        if out_index == 0:
            outs.append(np.asarray(backend.run(chunk), dtype=np.float32))
        else:
            outs.append(
                np.asarray(backend.run_all({input_name: chunk})[out_index], dtype=np.float32)
            )
    return np.concatenate(outs)


def score_file(
    path: Path,
    x: np.ndarray,
    input_name: str,
    out_index: int,
    threads: int,
    backend_options: dict[str, Any] | None = None,
) -> np.ndarray:
    """Scores of the model at ``path`` on ``x`` (already preprocessed), via the matching backend."""
    from edgekit.backends import open_backend

    backend = open_backend(path, threads=threads, **(backend_options or {}))
    try:
        return _run_scores(backend, x, input_name, out_index)
    finally:
        backend.close()


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
    stages = _Stages(opts)
    names = opts.variants or cfg.variants
    for n in names:
        if n not in VARIANTS:
            raise UsageError(f"unknown variant {n!r}; accepted: {', '.join(VARIANTS)}")
    _model_name(cfg)
    warnings: list[str] = []

    with open_output(opts.out_dir, kind="build", protect=_inputs(cfg, opts), log=log) as out:
        opts = dataclasses.replace(opts, out_dir=out.path)
        work = out.staging / "variants"
        work.mkdir()
        result = _run(
            cfg, opts, names, stages, out.staging, work, out.scratch, warnings, log, started, t_start
        )
        out.publish()
        return result


def _run(
    cfg: BuildConfig,
    opts: BuildOptions,
    names: list[str],
    stages: _Stages,
    staging: Path,
    work: Path,
    scratch: Path,
    warnings: list[str],
    log: Log,
    started: str,
    t_start: float,
) -> BuildResult:
    from edgekit.backends import open_backend

    threads = cfg.profile.threads
    # bench.json is checked before any work, so a bad file costs nothing
    target = opts.target_results or (
        Path(cfg.base_dir) / cfg.target.results if cfg.target.results else None
    )
    bench = None
    if target is not None:
        bench = load_target_results(target, model_name=cfg.model.name or cfg.model_path.stem)
    try:
        pipe = Pipeline.from_spec(cfg.preprocess)
    except ConfigError as e:
        raise ConfigError(f"{cfg.source}: {e}") from e
    # ---- load
    with stages.stage("load") as d:
        model = load_onnx(cfg.model_path)
        info = inspect_model(cfg.model_path)
        input_name, out_index, n_out = _select_io(cfg, info)
        # the profile stage feeds a batch of this shape when there is no data
        need = declared_input_bytes(info, input_name, batch=cfg.profile.batch)
        if need is None:
            raise ModelError(f"{cfg.model_path}: input {input_name!r} declares a negative dimension")
        try:
            check_allocation(
                need,
                f"{cfg.model_path}: one batch of input {input_name!r} as declared "
                f"({spec_shape(info, input_name)}, profile.batch = {cfg.profile.batch})",
                hint="check the model's declared input shape",
            )
        except DataError as e:
            raise ModelError(str(e)) from e
        base = Path(cfg.base_dir)
        keep_nan = cfg.data.drop_nonfinite
        eval_ds = (
            load_source(cfg.data.evaluation, base_dir=base, allow_nonfinite=keep_nan)
            if cfg.data.evaluation
            else None
        )
        cal_ds = (
            load_source(cfg.data.calibration, base_dir=base, allow_nonfinite=keep_nan)
            if cfg.data.calibration
            else None
        )
        if keep_nan:
            eval_ds = _finite_only(cfg, eval_ds, "evaluation", warnings) if eval_ds else None
            cal_ds = _finite_only(cfg, cal_ds, "calibration", warnings) if cal_ds else None
        labels = _labels(cfg, n_out, eval_ds)
        ev: EvalData | None = None
        if eval_ds is not None:
            ev = _prepare_eval(cfg, eval_ds, labels, pipe)
            _check_input_shape(cfg, info, input_name, ev.x, cfg.data.evaluation)
            d.append(
                f"evaluation: {len(ev.y)} rows ({int(ev.in_dist.sum())} in-distribution, "
                f"{int(ev.ood.sum())} OOD)"
            )
        else:
            warnings.append(
                "no evaluation data ([data] evaluation): accuracy budgets are not evaluated"
            )
        calibration = None
        if cal_ds is not None:
            if len(cal_ds) == 0:
                raise DataError(f"{cfg.data.calibration} (data.calibration): no captures")
            calibration = _preprocess(
                pipe, cal_ds.x[: cfg.data.calibration_size], f"{cfg.data.calibration} (data.calibration)"
            )
            _check_input_shape(cfg, info, input_name, calibration, cfg.data.calibration)
            d.append(f"calibration: {len(calibration)} rows")
        else:
            warnings.append(
                "no calibration data ([data] calibration): static int8 variants are skipped"
            )
        raw_sample = eval_ds or cal_ds
        ref_scores = None
        if ev is not None:
            ref = open_backend(cfg.model_path, threads=threads)
            try:
                ref_scores = _run_scores(ref, ev.x, input_name, out_index)
            finally:
                ref.close()
        d.append(f"{info.node_count} nodes, {info.parameter_count:,} parameters")

    ref_acc: float | None = None
    ref_pred: np.ndarray | None = None
    if ev is not None and ref_scores is not None:
        ref_pred = ref_scores.argmax(axis=1)
        ref_acc = float((ref_pred[ev.in_dist] == ev.y[ev.in_dist]).mean())

    def score_candidate(path: Path) -> CandidateScore:
        if ev is None or ref_scores is None or ref_pred is None or ref_acc is None:
            raise ConversionError("internal: no evaluation data to score a candidate")
        s = score_file(path, ev.x, input_name, out_index, threads)
        pred = s.argmax(axis=1)
        acc = float((pred[ev.in_dist] == ev.y[ev.in_dist]).mean())
        sl = [
            r
            for r in metrics.slice_results(ev.slices, ev.y, pred, ref_pred)
            if r.n >= cfg.slices.min_size
        ]
        return CandidateScore(
            acc,
            ref_acc - acc,
            max((r.drop for r in sl), default=None),
            float(np.abs(s - ref_scores).mean()),
        )

    ctx = BuildContext(
        cfg,
        cfg.model_path,
        model,
        info,
        work,
        input_name,
        calibration,
        log,
        score_candidate if ev is not None else None,
    )
    ctx.extra["tflite_wanted"] = list(names)

    # ---- optimise / quantise / export
    results: list[VariantResult] = []
    backend_opts: dict[str, dict[str, Any]] = {}
    groups = [
        ("optimise", ["onnx-fp32"]),
        ("quantise", ["onnx-fp16", "onnx-int8-dynamic", "onnx-int8-static"]),
        ("export", ["tflite-fp32", "tflite-fp16", "tflite-int8"]),
    ]
    for stage_name, members in groups:
        todo = [n for n in members if n in names]
        if not todo:
            continue
        with stages.stage(stage_name) as d:
            for name in todo:
                v = VARIANTS[name]()
                vr = VariantResult(name, v.runtime, v.precision, "built")
                t0 = time.perf_counter()
                try:
                    built = v.build(ctx)
                except Skip as e:
                    vr.status, vr.reason = "skipped", str(e)
                    log(f"  {name}: skipped: {e}")
                except EdgekitError as e:
                    if not opts.keep_going:
                        raise
                    vr.status, vr.reason = "failed", str(e)
                    log(f"  {name}: FAILED: {e}")
                else:
                    vr.path = str(Path("variants") / built.path.name)
                    vr.size_bytes = built.path.stat().st_size
                    vr.sha256 = sha256_file(built.path)
                    vr.notes, vr.meta, vr.quant_search = built.notes, built.meta, built.quant_search
                    backend_opts[name] = built.backend_options
                    log(f"  {name}: {vr.size_bytes / 1024:.1f} KiB")
                vr.build_s = time.perf_counter() - t0
                results.append(vr)
            d.append(", ".join(f"{r.name} {r.status}" for r in results if r.name in todo))
    for tmp in work.glob("_*"):
        if tmp.is_dir():
            shutil.rmtree(tmp)
        else:
            tmp.unlink()

    built_variants = [r for r in results if r.status == "built"]

    # ---- validate
    with stages.stage("validate") as d:
        if ev is None or ref_scores is None:
            d.append("no evaluation data: accuracy not evaluated")
        else:
            for vr in built_variants:
                s = score_file(
                    staging / vr.path, ev.x, input_name, out_index, threads, backend_opts[vr.name]
                )
                _conf, oscore = metrics.ood_scores(s, cfg.ood.score, cfg.model.output)
                ood = metrics.calibrate_ood(
                    oscore,
                    ev.in_dist,
                    ev.ood,
                    kind=cfg.ood.score,
                    target_accept=cfg.ood.target_in_distribution_accept,
                    ood_classes=cfg.data.ood_classes,
                )
                vr.accuracy = metrics.accuracy_result(
                    y=ev.y,
                    scores=s,
                    ref_scores=ref_scores,
                    labels=labels,
                    in_dist=ev.in_dist,
                    slices=ev.slices,
                    min_slice=cfg.slices.min_size,
                    worst_k=cfg.slices.worst,
                    ood=ood,
                    source=ev.source,
                )
                log(
                    f"  {vr.name}: accuracy {vr.accuracy.accuracy:.4f} (fp32 reference {ref_acc:.4f}), "
                    f"agreement {vr.accuracy.agreement_with_reference:.4f}"
                )
            d.append(f"{len(built_variants)} variants on {len(ev.y)} rows")

    # ---- profile
    with stages.stage("profile") as d:
        if raw_sample is not None:
            sample = raw_sample.x[: cfg.profile.batch]
            prep_spec = pipe.to_spec()
        else:
            spec = next(i for i in info.inputs if i.name == input_name)
            shape = [cfg.profile.batch] + [s if isinstance(s, int) else 1 for s in spec.shape[1:]]
            sample = np.zeros(shape, dtype=np.float32)
            prep_spec = []
            warnings.append("no data configured: latency measured on an all-zero input")
        for vr in built_variants:
            vr.latency = profile_variant(
                staging / vr.path,
                preprocess=prep_spec,
                sample=sample,
                threads=threads,
                runs=cfg.profile.runs,
                warmup=cfg.profile.warmup,
                backend_options=backend_opts[vr.name],
                scratch_dir=scratch,
            )
            log(
                f"  {vr.name}: p50 {vr.latency.p50_ms:.3f} ms, p99 {vr.latency.p99_ms:.3f} ms, "
                f"peak {vr.latency.peak_memory_mb:.0f} MiB"
            )
        for vr in built_variants:
            if vr.latency is not None:
                vr.energy = estimate_energy(vr.latency, cfg.target.board, cfg.battery)
        d.append(f"{len(built_variants)} variants, {cfg.profile.runs} runs each, host figures; "
                 f"energy estimated for {cfg.target.board}")

    # ---- judge
    with stages.stage("judge") as d:
        if target is not None and bench is not None:
            for note in apply_target_results(built_variants, bench, cfg.battery, str(target)):
                log(f"  {note}")
                d.append(note)
        bctx = BudgetContext(ref_acc, cfg.slices.min_size, cfg.budgets.require_measured_energy)
        for vr in built_variants:
            vr.checks = check_variant(vr, cfg.budgets, bctx)
        chosen, why = select_variant(built_variants)
        front = pareto_front(built_variants)
        verdict = "pass" if chosen is not None else "rejected"
        d.append(f"verdict {verdict}" + (f", ships {chosen.name}" if chosen else ""))

    result = BuildResult(
        model_name=cfg.model.name or cfg.model_path.stem,
        config_path=cfg.source,
        model_path=str(cfg.model_path),
        verdict=verdict,  # type: ignore[arg-type]
        selected=chosen.name if chosen else None,
        selection_reason=why,
        variants=results,
        pareto=front,
        stages=stages.timings,
        reference="the input fp32 model under onnxruntime"
        + (f" (accuracy {ref_acc:.4f})" if ref_acc is not None else ""),
        host={"description": host_description(), "machine": platform.machine()},
        versions=_versions(),
        started_at=started,
        duration_s=0.0,
        budgets=dataclasses.asdict(cfg.budgets),
        warnings=warnings,
        reference_accuracy=ref_acc,
    )

    # ---- bundle
    with stages.stage("bundle") as d:
        from edgekit.bundle import read_bundle_id, write_bundle

        ref_stats = _reference_statistics(eval_ds or cal_ds, ev, ref_scores, cfg)
        ref_stats.update(drift_reference(ev.x if ev else None, ref_scores, ev.in_dist if ev else None, cfg))
        bdir, archive = write_bundle(
            result,
            cfg,
            staging,
            labels=labels,
            input_name=input_name,
            out_index=out_index,
            info=info,
            backend_options=backend_opts,
            reference_stats=ref_stats,
        )
        # Paths as they will be once the staging folder is renamed into place.
        result.bundle_dir = str(opts.out_dir / bdir.relative_to(staging))
        result.bundle_archive = str(opts.out_dir / archive.relative_to(staging))
        result.bundle_id = read_bundle_id(bdir)
        d.append(f"{bdir.name}/ and {archive.name}")

    # ---- report
    with stages.stage("report") as d:
        from edgekit.report import write_reports

        result.duration_s = time.perf_counter() - t_start
        paths = write_reports(result, staging)
        d.append(", ".join(p.name for p in paths.values()))
    result.duration_s = time.perf_counter() - t_start
    return result


def _reference_statistics(
    ds: Dataset | None, ev: EvalData | None, ref_scores: np.ndarray | None, cfg: BuildConfig
) -> dict[str, Any]:
    """Statistics of the inputs and outputs the model was validated on, for drift monitoring."""
    if ds is None:
        return {}
    x = ds.x.reshape(len(ds.x), -1).astype(np.float64)
    rms = np.sqrt((x**2).mean(axis=1))
    qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    stats: dict[str, Any] = {
        "source": cfg.data.evaluation or cfg.data.calibration,
        "n": len(ds.x),
        "input_rms": {
            "quantiles": qs,
            "values": np.quantile(rms, qs).tolist(),
            "mean": float(rms.mean()),
            "std": float(rms.std()),
        },
    }
    if ev is not None and ref_scores is not None:
        conf, _ = metrics.ood_scores(ref_scores[ev.in_dist], cfg.ood.score, cfg.model.output)
        pred = ref_scores[ev.in_dist].argmax(axis=1)
        n_classes = ref_scores.shape[1]
        stats["prediction_distribution"] = (
            np.bincount(pred, minlength=n_classes) / max(len(pred), 1)
        ).tolist()
        stats["confidence"] = {"quantiles": qs, "values": np.quantile(conf, qs).tolist()}
    return stats
