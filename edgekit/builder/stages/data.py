"""Evaluation and calibration data as the model sees it: labels, preprocessing, shape checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgekit.builder import metrics
from edgekit.builder.scenarios import check_columns
from edgekit.builder.stages.context import EvalData
from edgekit.config import BuildConfig
from edgekit.data.dataset import Dataset, nonfinite_rows
from edgekit.errors import ConfigError, DataError, UsageError
from edgekit.signals.preprocess import Pipeline

__all__ = ["check_input_shape", "finite_only", "labels_for", "prepare_eval", "preprocess"]


def labels_for(cfg: BuildConfig, n_out: int | None, data: Dataset | None) -> list[str]:
    """The class names in output order: ``model.labels``, else the data's, else ``class_i``."""
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


def finite_only(cfg: BuildConfig, ds: Dataset, key: str, warnings: list[str]) -> Dataset:
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


def preprocess(pipe: Pipeline, x: np.ndarray, what: str) -> np.ndarray:
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


def prepare_eval(cfg: BuildConfig, ds: Dataset, labels: Sequence[str], pipe: Pipeline) -> EvalData:
    """Map the evaluation data's labels onto the model's by name, check slices, preprocess."""
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
    check_columns(cfg, ds.meta)  # [[scenarios]] filters and [context] observables
    x = preprocess(pipe, ds.x, where)
    meta = dict(ds.meta)
    slices = metrics.make_slices(meta, cfg.slices.columns, cfg.slices.bins, in_dist)
    return EvalData(x, y, in_dist, ood, meta, cfg.data.evaluation, slices)


def check_input_shape(
    cfg: BuildConfig, info: Any, input_name: str, x: np.ndarray, what: str
) -> None:
    """The preprocessed data must fit the (prepared) model's declared input."""
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
