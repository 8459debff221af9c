"""The load stage: the model, the data, the prepared model (concrete shapes) and the fp32
reference scores every variant is compared with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekit.builder.prepare import check_score_shape, prepare_model
from edgekit.builder.stages.context import EvalData, Run
from edgekit.builder.stages.data import (
    check_input_shape,
    finite_only,
    labels_for,
    prepare_eval,
    preprocess,
)
from edgekit.builder.stages.scoring import run_scores
from edgekit.builder.target_results import load_target_results
from edgekit.config import BuildConfig
from edgekit.data.dataset import load_source
from edgekit.data.limits import check_allocation
from edgekit.errors import ConfigError, DataError, ModelError, UsageError
from edgekit.model_info import declared_input_bytes, inspect_model, load_onnx
from edgekit.signals.preprocess import Pipeline

__all__ = ["load", "resolve_io", "select_io", "spec_shape"]


def select_io(cfg: BuildConfig, info: Any) -> tuple[str, int, int | None]:
    """The input to feed, the index of the score output and its class count."""
    return resolve_io(
        info, cfg.model.input_name, cfg.model.output_name, str(cfg.model_path), str(cfg.source)
    )


def resolve_io(
    info: Any, input_name: str, output_name: str, where: str, source: str
) -> tuple[str, int, int | None]:
    """The input to feed, the index of the score output and its class count of the model
    ``info`` describes (the model at ``where``): the named input and output when given (names
    from ``source``), else the first input and the first floating-point output.

    One rule for the model and its privacy reference models, so both are read the same way."""
    inputs = [i.name for i in info.inputs]
    if not inputs:
        raise ModelError(f"{where}: the model has no input to feed")
    input_name = input_name or inputs[0]
    if input_name not in inputs:
        raise UsageError(f"{source}: model.input_name {input_name!r} is not an input; inputs: {inputs}")
    outs = info.outputs
    if output_name:
        names = [o.name for o in outs]
        if output_name not in names:
            raise UsageError(
                f"{source}: model.output_name {output_name!r} is not an output; outputs: {names}"
            )
        idx = names.index(output_name)
    else:
        floats = [i for i, o in enumerate(outs) if o.dtype.startswith("float")]
        if not floats:
            listed = ", ".join(f"{o.name!r} ({o.dtype})" for o in outs) or "none"
            raise ModelError(
                f"{where}: no floating-point output to read class scores from "
                f"(outputs: {listed}); edgekit needs logits or probabilities, shape (N, classes)"
                + _ZIPMAP_HINT * any(o.dtype == "non-tensor" for o in outs)
            )
        # Two outputs that could each be (N, classes) (logits and an auxiliary head, say): taking
        # the first would judge whichever the exporter happened to write first, silently.
        scores = [i for i in floats if _score_like(outs[i].shape)]
        if len(scores) > 1:
            named = ", ".join(repr(outs[i].name) for i in scores)
            raise ModelError(
                f"{where}: outputs {named} could each hold the class scores; set "
                "model.output_name to the one that does (edgekit judges one output)"
            )
        idx = floats[0]
    out = outs[idx]
    if not out.dtype.startswith("float"):
        raise ModelError(
            f"{where}: output {out.name!r} is {out.dtype}; class scores must be "
            "floating point (logits or probabilities), shape (N, classes)"
        )
    n_classes = check_score_shape(out.shape, out.name, where)
    spec = next(i for i in info.inputs if i.name == input_name)
    if not spec.dtype.startswith("float"):
        raise ModelError(
            f"{where}: input {input_name!r} is {spec.dtype}; edgekit feeds floating-point captures"
        )
    return input_name, idx, n_classes


# skl2onnx writes classifier probabilities as a sequence of maps (ZipMap) unless told otherwise.
_ZIPMAP_HINT = (
    "; a sequence-of-maps output is skl2onnx's ZipMap: convert with "
    "options={id(model): {'zipmap': False}} for a (N, classes) probabilities tensor"
)


def _score_like(shape: list[int | str]) -> bool:
    """Whether an output declared ``shape`` could be (N, classes) scores (check_score_shape)."""
    try:
        check_score_shape(shape, "", "")
    except ModelError:
        return False
    return True


def spec_shape(info: Any, input_name: str) -> str:
    """The declared shape of ``input_name``, for messages."""
    spec = next(i for i in info.inputs if i.name == input_name)
    return "[" + ", ".join(map(str, spec.shape)) + "]"


def _target(run: Run) -> None:
    """bench.json is checked before any work, so a bad file costs nothing."""
    cfg = run.cfg
    run.target = run.opts.target_results or (
        Path(cfg.base_dir) / cfg.target.results if cfg.target.results else None
    )
    if run.target is not None:
        run.bench = load_target_results(run.target, model_name=cfg.model.name or cfg.model_path.stem)
    try:
        run.pipe = Pipeline.from_spec(cfg.preprocess)
    except ConfigError as e:
        raise ConfigError(f"{cfg.source}: {e}") from e


def _check_declared(cfg: BuildConfig, info: Any, input_name: str) -> None:
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


def _data(run: Run, d: list[str], n_out: int | None) -> None:
    """Evaluation and calibration data, preprocessed; warnings for what is missing."""
    cfg, pipe, warnings = run.cfg, run.need(run.pipe, "pipe"), run.warnings
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
        eval_ds = finite_only(cfg, eval_ds, "evaluation", warnings) if eval_ds else None
        cal_ds = finite_only(cfg, cal_ds, "calibration", warnings) if cal_ds else None
    run.eval_ds, run.cal_ds = eval_ds, cal_ds
    run.labels = labels_for(cfg, n_out, eval_ds)
    ev: EvalData | None = None
    if eval_ds is not None:
        ev = prepare_eval(cfg, eval_ds, run.labels, pipe)
        d.append(
            f"evaluation: {len(ev.y)} rows ({int(ev.in_dist.sum())} in-distribution, "
            f"{int(ev.ood.sum())} OOD)"
        )
    else:
        warnings.append("no evaluation data ([data] evaluation): accuracy budgets are not evaluated")
    run.ev = ev
    if cal_ds is not None:
        if len(cal_ds) == 0:
            raise DataError(f"{cfg.data.calibration} (data.calibration): no captures")
        run.calibration = preprocess(
            pipe, cal_ds.x[: cfg.data.calibration_size], f"{cfg.data.calibration} (data.calibration)"
        )
        d.append(
            f"int8 calibration: {len(run.calibration)} of the {len(cal_ds)} captures in "
            "data.calibration (data.calibration_size)"
        )
    else:
        warnings.append("no calibration data ([data] calibration): static int8 variants are skipped")


def _prepare(run: Run, d: list[str]) -> None:
    """Concrete shapes before any quantiser or converter sees the model (prepare.py)."""
    cfg, ev, calibration = run.cfg, run.ev, run.calibration
    first = ev.x if ev is not None else calibration
    where = cfg.data.evaluation if ev is not None else cfg.data.calibration
    prep_dir = run.scratch / "prepared"
    prep_dir.mkdir()
    prepared = prepare_model(
        cfg,
        run.need(run.model, "model"),
        run.input_name,
        None if first is None else list(first.shape[1:]),
        prep_dir / cfg.model_path.name,
        where=str(where or ""),
    )
    run.prepared = prepared
    run.model, run.info = prepared.model, inspect_model(prepared.path)
    for x_, what in ((ev.x if ev else None, cfg.data.evaluation), (calibration, cfg.data.calibration)):
        if x_ is not None:
            check_input_shape(cfg, run.info, run.input_name, x_, what)
    for note in prepared.notes:
        run.log(f"  {note}")
        d.append(note)


def _reference(run: Run) -> None:
    """The fp32 reference's scores, prediction and accuracy on the evaluation data."""
    from edgekit.backends import open_backend

    ev, prepared = run.ev, run.need(run.prepared, "prepared")
    if ev is None:
        return
    ref = open_backend(prepared.path, threads=run.cfg.profile.threads)
    try:
        run.ref_scores = run_scores(ref, ev.x, run.input_name, run.out_index)
    finally:
        ref.close()
    run.ref_pred = run.ref_scores.argmax(axis=1)
    run.ref_acc = float((run.ref_pred[ev.in_dist] == ev.y[ev.in_dist]).mean())


def load(run: Run) -> Run:
    """Model, data, prepared model and reference scores (stage ``load``)."""
    _target(run)
    cfg = run.cfg
    with run.timer.stage("load") as d:
        run.model = load_onnx(cfg.model_path)
        run.info = inspect_model(cfg.model_path)
        run.input_name, run.out_index, n_out = select_io(cfg, run.info)
        _check_declared(cfg, run.info, run.input_name)
        _data(run, d, n_out)
        _prepare(run, d)
        _reference(run)
        info = run.info
        d.append(f"{info.node_count} nodes, {info.parameter_count:,} parameters")
    return run
