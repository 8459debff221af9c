"""The baseline stage: the fallback the bundle carries (``[baseline]``), validated on the same
evaluation data as the model, so its accuracy in the report is a measured figure.

``resolve_baseline`` runs before any work (from ``run_build``): the model file or the other
config exists, the model has one floating-point input and a score output of as many classes as
it names labels, and every label is one of the bundle's; a rule is one the daemon knows. Each
refusal is one ``ConfigError`` line naming the key. The stage then scores the baseline on the
evaluation captures through the same backends and ``Pipeline`` the daemon uses, maps its
answers onto the bundle's labels by name, calibrates its "unknown" threshold like the model's,
and times one capture at a time. ``manifest_section`` turns the result into the manifest's
``baseline`` section (read by ``edgekit.runtime.baseline``) and the file to copy.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.builder import metrics
from edgekit.builder.prepare import check_score_shape
from edgekit.builder.stages.context import Run
from edgekit.builder.stages.data import preprocess
from edgekit.builder.stages.scoring import run_scores
from edgekit.config import BaselineConfig, BuildConfig, load_config
from edgekit.errors import ConfigError, EdgekitError
from edgekit.model_info import inspect_model
from edgekit.results import BaselineResult
from edgekit.signals.preprocess import Pipeline
from edgekit.signals.scores import logit_score

__all__ = ["BaselineSpec", "baseline", "manifest_section", "resolve_baseline"]

_TIMED_RUNS = 200  # single-capture timings of the baseline (at most profile.runs)


@dataclass(frozen=True)
class BaselineSpec:
    """A ``[baseline]`` resolved: where the model is and how it is fed and read, or the rule."""

    kind: str  # "model" or "rule"
    source: str
    model_path: Path | None = None
    preprocess: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    output_kind: str = "logits"
    output_index: int = 0
    input_name: str = ""
    rule: str = ""
    params: dict[str, float] = field(default_factory=dict)


def _model_spec(cfg: BuildConfig, b: BaselineConfig, bundle_labels: list[str]) -> BaselineSpec:
    base = Path(cfg.base_dir)
    fail = lambda key, what: ConfigError(f"{cfg.source}: baseline.{key}: {what}")  # noqa: E731
    if b.config:
        other_path = base / b.config
        try:
            other = load_config(other_path)
        except ConfigError as e:
            raise ConfigError(f"{cfg.source}: baseline.config: {e}") from e
        if not other.model.labels:
            raise fail("config", f"{other_path} sets no model.labels; the baseline must name its classes")
        key, path = "config", other.model_path
        steps, labels, out_kind = other.preprocess, list(other.model.labels), other.model.output
        in_name, out_name = other.model.input_name, other.model.output_name
        source = b.source or f"{other.model.name or other.model_path.stem} ({b.config})"
    else:
        key, path = "model", base / b.model
        steps, labels, out_kind = b.preprocess, list(b.labels or bundle_labels), b.output
        in_name, out_name = b.input_name, b.output_name
        source = b.source or b.model
    if not path.is_file():
        raise fail(key, f"{path}: no such model file")
    if path.suffix != ".onnx":
        raise fail(key, f"{path}: a baseline model is an fp32 ONNX file (.onnx)")
    if bundle_labels:
        outside = [lbl for lbl in labels if lbl not in bundle_labels]
        if outside:
            raise fail(
                key,
                f"label {outside[0]!r} of the baseline is not one of the bundle's labels "
                f"({', '.join(bundle_labels)}); a baseline answers with the bundle's labels",
            )
    try:
        Pipeline.from_spec(steps)
        info = inspect_model(path)
    except EdgekitError as e:
        raise fail(key, str(e)) from e
    floats = [i for i in info.inputs if i.dtype.startswith("float")]
    if len(info.inputs) != 1 or not floats:
        raise fail(key, f"{path}: a baseline model takes one floating-point input, it has {len(info.inputs)}")
    if in_name and in_name != info.inputs[0].name:
        raise fail(key, f"{path}: input {in_name!r} is not the model's input {info.inputs[0].name!r}")
    names = [o.name for o in info.outputs]
    if out_name:
        if out_name not in names:
            raise fail(key, f"{path}: output {out_name!r} is not an output; outputs: {names}")
        index = names.index(out_name)
    else:
        index = next((i for i, o in enumerate(info.outputs) if o.dtype.startswith("float")), -1)
        if index < 0:
            raise fail(key, f"{path}: no floating-point output to read class scores from")
    try:
        n_classes = check_score_shape(info.outputs[index].shape, names[index], str(path))
    except EdgekitError as e:
        raise fail(key, str(e)) from e
    if n_classes is not None and n_classes != len(labels):
        raise fail(
            key, f"{path}: the score output has {n_classes} classes but {len(labels)} labels are named"
        )
    return BaselineSpec("model", source, path, list(steps), labels, out_kind, index, info.inputs[0].name)


def resolve_baseline(cfg: BuildConfig) -> BaselineSpec | None:
    """The ``[baseline]`` checked before any work (None without one); ConfigError otherwise."""
    b = cfg.baseline
    if b is None:
        return None
    if not cfg.data.evaluation:
        raise ConfigError(
            f"{cfg.source}: baseline: needs [data] evaluation, to be validated like the model"
        )
    if b.rule:  # the rule's name and params are checked by the config's validation
        return BaselineSpec("rule", b.source or f"rule {b.rule}", rule=b.rule, params=dict(b.params))
    return _model_spec(cfg, b, list(cfg.model.labels))


def _timings(call: Any, xs: np.ndarray, warmup: int, runs: int) -> list[float]:
    for i in range(min(warmup, len(xs))):
        call(xs[i : i + 1])
    out = []
    for i in range(runs):
        t0 = time.perf_counter()
        call(xs[i % len(xs) : i % len(xs) + 1])
        out.append(time.perf_counter() - t0)
    return out


def _provenance(cfg: BuildConfig, what: str, runs: int) -> str:
    return (
        f"host {platform.machine()}, measured in process: {what} of one capture, median and p99 of "
        f"{runs} runs, {cfg.profile.threads} thread(s)"
    )


def _validate_model(run: Run, spec: BaselineSpec, x_raw: np.ndarray) -> BaselineResult:
    from edgekit.backends import open_backend

    cfg, ev = run.cfg, run.need(run.ev, "ev")
    pipe = Pipeline.from_spec(spec.preprocess)
    xp = preprocess(pipe, x_raw, f"{cfg.data.evaluation} (baseline preprocessing)")
    path = run.need(spec.model_path, "baseline model")
    with open_backend(path, threads=cfg.profile.threads) as backend:
        scores = run_scores(backend, xp, spec.input_name, spec.output_index)

        def one(x: np.ndarray) -> Any:
            y = pipe(x)
            if spec.output_index == 0:
                return backend.run(y)
            return backend.run_all({spec.input_name: y})[spec.output_index]

        runs = max(1, min(cfg.profile.runs, _TIMED_RUNS))
        times = _timings(one, x_raw, cfg.profile.warmup, runs)
    # the baseline's answers as indices into the bundle's labels
    lookup = {name: i for i, name in enumerate(run.labels)}
    to_bundle = np.array([lookup[name] for name in spec.labels], dtype=np.int64)
    pred = to_bundle[scores.argmax(axis=1)]
    ind = ev.in_dist
    # the baseline has no penultimate features of its own: a logit score ("auto" and the feature
    # scores of the primary fall back to max-softmax)
    kind = logit_score(cfg.ood.score)
    _conf, oscore = metrics.ood_scores(scores, kind, spec.output_kind)
    ood = metrics.calibrate_ood(
        oscore,
        ind,
        ev.ood,
        kind=kind,
        target_accept=cfg.ood.target_in_distribution_accept,
        ood_classes=cfg.data.ood_classes,
    )
    agreement = None
    if run.ref_pred is not None:
        agreement = float((pred[ind] == run.ref_pred[ind]).mean())
    return BaselineResult(
        kind="model",
        name=path.name,
        source=spec.source,
        accuracy=float((pred[ind] == ev.y[ind]).mean()),
        accuracy_of=f"the bundle's labels, {int(ind.sum())} in-distribution captures",
        n=int(ind.sum()),
        labels=spec.labels,
        per_class_recall=metrics.per_class_recall(ev.y[ind], pred[ind], run.labels),
        agreement_with_model=agreement,
        ood=ood,
        latency_p50_ms=float(np.median(times)) * 1e3,
        latency_p99_ms=float(np.quantile(times, 0.99)) * 1e3,
        latency_provenance=_provenance(cfg, "preprocessing + inference (onnxruntime)", runs),
        preprocess=spec.preprocess,
        output_index=spec.output_index,
        output_kind=spec.output_kind,
        model_path=str(path),
        bundle_file=f"baseline/{path.name}",
        size_bytes=path.stat().st_size,
    )


def _validate_rule(run: Run, spec: BaselineSpec, x_raw: np.ndarray) -> BaselineResult:
    # the daemon's own rule code, so the build measures exactly what the device answers with
    from edgekit.runtime.baseline import RuleBaseline

    cfg, ev = run.cfg, run.need(run.ev, "ev")
    if "noise" not in run.labels:
        raise ConfigError(f"{cfg.source}: baseline.rule: energy-detector answers 'noise', not a label here")
    rule = RuleBaseline(spec.rule, spec.params, None, spec.source)
    said_noise = np.array([rule.answer(x_raw[i : i + 1]).label == "noise" for i in range(len(x_raw))])
    ind = ev.in_dist
    is_noise = ev.y == run.labels.index("noise")
    runs = max(1, min(cfg.profile.runs, _TIMED_RUNS))
    times = _timings(rule.answer, x_raw, cfg.profile.warmup, runs)
    return BaselineResult(
        kind="rule",
        name=spec.rule,
        source=spec.source,
        accuracy=float((said_noise[ind] == is_noise[ind]).mean()),
        accuracy_of=(
            f"the noise-or-signal decision (a signal's type is answered 'unknown'), "
            f"{int(ind.sum())} in-distribution captures"
        ),
        n=int(ind.sum()),
        labels=["noise"],
        latency_p50_ms=float(np.median(times)) * 1e3,
        latency_p99_ms=float(np.quantile(times, 0.99)) * 1e3,
        latency_provenance=_provenance(cfg, "the rule", runs),
        rule=spec.rule,
        params=spec.params,
    )


def baseline(run: Run) -> Run:
    """Stage ``baseline``: validate the ``[baseline]`` and put it in the result (after judge)."""
    spec = resolve_baseline(run.cfg)
    if spec is None:
        return run
    result = run.need(run.result, "result")
    with run.timer.stage("baseline") as d:
        ds, ev = run.eval_ds, run.ev
        if ds is None or ev is None:
            raise ConfigError(
                f"{run.cfg.source}: baseline: needs [data] evaluation to be validated like the model"
            )
        if spec.kind == "model":
            spec_labels = set(spec.labels)
            outside = sorted(spec_labels - set(run.labels))
            if outside:  # model.labels unset: the bundle's labels came from the data
                raise ConfigError(
                    f"{run.cfg.source}: baseline: label {outside[0]!r} is not one of the bundle's labels"
                )
            b = _validate_model(run, spec, ds.x)
        else:
            b = _validate_rule(run, spec, ds.x)
        result.baseline = b
        sel = result.variant(result.selected) if result.selected else None
        sel_acc = sel.accuracy.accuracy if sel and sel.accuracy else None
        d.append(f"{b.kind} {b.name}: accuracy {b.accuracy:.4f}, p50 {b.latency_p50_ms:.2f} ms")
        run.log(
            f"  baseline {b.name}: accuracy {b.accuracy:.4f} ({b.accuracy_of})"
            + (f"; selected variant {sel_acc:.4f}" if sel_acc is not None else "")
        )
        if sel and sel.latency and b.latency_p50_ms is not None and b.latency_p50_ms >= sel.latency.p50_ms:
            run.warnings.append(
                f"baseline {b.name}: {b.latency_p50_ms:.2f} ms per capture (p50) is no faster than "
                f"the selected variant {sel.name} ({sel.latency.p50_ms:.2f} ms): falling back on an "
                "overrun will not save time"
            )
    return run


def manifest_section(b: BaselineResult) -> tuple[dict[str, Any], dict[str, Path]]:
    """The manifest's ``baseline`` section and the files to copy (bundle path -> source)."""
    latency = {
        "p50_ms": b.latency_p50_ms,
        "p99_ms": b.latency_p99_ms,
        "provenance": b.latency_provenance,
    }
    common = {"accuracy": b.accuracy, "accuracy_of": b.accuracy_of, "source": b.source, "latency": latency}
    if b.kind == "rule":
        return {"kind": "rule", "rule": b.rule, "params": b.params, **common}, {}
    section = {
        "kind": "model",
        "file": b.bundle_file,
        "preprocess": b.preprocess,
        "labels": b.labels,
        "output": {"index": b.output_index, "kind": b.output_kind},
        "ood": {"score": b.ood.score, "threshold": b.ood.threshold} if b.ood else None,
        **common,
    }
    return section, {b.bundle_file: Path(b.model_path)}
