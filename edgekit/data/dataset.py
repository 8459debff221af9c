"""Labelled datasets in memory and on disk (``.npz``, never pickled).

A ``Dataset`` is inputs ``x`` (first axis = captures), integer labels ``y`` indexing
``labels``, and per-capture metadata columns (``snr_db``, ``class``, ...) so accuracy can be
sliced. On disk: ``x``, ``y``, ``labels`` (unicode array) and ``meta_<name>`` per column.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from edgekit.data.limits import check_allocation
from edgekit.data.npz import read_npz
from edgekit.errors import DataError

__all__ = ["SYNTHETIC_PARAMS", "Dataset", "load_npz", "load_source", "nonfinite_rows", "save_npz"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs, labels and per-capture metadata, all with the same first dimension N.

    ``x`` is ``(N, 2, L)`` float32 for radio captures (any ``(N, ...)`` float for third-party
    data); ``y`` is ``(N,)`` int64 indexing ``labels``; ``meta`` maps column name -> ``(N,)``
    array (synthetic data: ``snr_db``, ``class``, ``cfo_hz``, ``multipath``, ``sps``).
    """

    x: np.ndarray
    y: np.ndarray
    labels: tuple[str, ...]
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.x.shape[0] if self.x.ndim else -1
        if self.x.ndim < 2:
            raise DataError(
                f"dataset x must have shape (N, ...) with ndim >= 2, got {self.x.shape}"
            )
        if self.y.shape != (n,):
            raise DataError(f"dataset y must have shape ({n},) to match x, got {self.y.shape}")
        for name, col in self.meta.items():
            if col.shape != (n,):
                raise DataError(
                    f"dataset meta column {name!r} must have shape ({n},), got {col.shape}"
                )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, mask_or_idx: np.ndarray | Any) -> Dataset:
        """Rows selected by a boolean mask of length N or an array of integer indices."""
        sel = np.asarray(mask_or_idx)
        if sel.dtype == np.bool_ and sel.shape != (len(self),):
            raise IndexError(f"boolean mask must have shape ({len(self)},), got {sel.shape}")
        if sel.dtype != np.bool_ and not np.issubdtype(sel.dtype, np.integer):
            if sel.size == 0:
                sel = sel.astype(np.int64)
            else:
                raise IndexError(f"subset needs a boolean mask or integer indices, got {sel.dtype}")
        return Dataset(
            x=self.x[sel],
            y=self.y[sel],
            labels=self.labels,
            meta={k: v[sel] for k, v in self.meta.items()},
        )


def save_npz(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write ``ds`` to ``path`` atomically (temp file in the same folder, then ``os.replace``)."""
    target = Path(path)
    arrays: dict[str, np.ndarray] = {
        "x": ds.x,
        "y": ds.y,
        "labels": np.array(ds.labels, dtype=str),
    }
    for name, col in ds.meta.items():
        if col.dtype == object:
            raise DataError(f"{target}: meta column {name!r} is an object array; cannot save")
        arrays[f"meta_{name}"] = col
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or "."
        )
    except OSError as e:
        raise DataError(f"{target}: cannot write the dataset ({e.strerror or e})") from e
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as e:  # disk full, quota, file-size limit: nothing half-written is left
        Path(tmp).unlink(missing_ok=True)
        raise DataError(f"{target}: cannot write the dataset ({e.strerror or e})") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_npz(path: str | os.PathLike[str], *, allow_nonfinite: bool = False) -> Dataset:
    """Read and validate a dataset written by ``save_npz`` (or a compatible third party).

    Refuses, with one ``DataError`` line naming the file, anything malformed: missing file,
    not an npz, a member that is not ``.npy``, a header declaring more than fits in memory or
    more than the file holds, missing keys, pickled objects, wrong shape or dtype, labels out of
    range, and (unless ``allow_nonfinite``) captures holding NaN or inf.
    """
    p = Path(path)
    if p.is_dir():
        raise DataError(f"{p}: is a folder, expected a dataset file (.npz)")
    if not p.is_file():
        raise DataError(f"{p}: no such dataset file")
    if not zipfile.is_zipfile(p):
        raise DataError(f"{p}: not an .npz archive (truncated or wrong format)")
    arrays = read_npz(p, lambda key: key in ("x", "y", "labels") or key.startswith("meta_"))
    ds = _from_arrays(p, arrays)
    if not allow_nonfinite:
        bad = nonfinite_rows(ds.x)
        if bad.any():
            raise DataError(
                f"{p}: {int(bad.sum())} of {len(ds)} captures hold NaN or inf (first at row "
                f"{int(np.argmax(bad))}); fix the data, or set data.drop_nonfinite = true in the "
                "build config to drop them"
            )
    return ds


def nonfinite_rows(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Boolean ``(N,)``: which captures hold any NaN or inf (checked in chunks: bounded memory)."""
    n = len(x)
    bad = np.zeros(n, dtype=bool)
    flat = x.reshape(n, -1) if n else x.reshape(0, 0)
    for i in range(0, n, chunk):
        bad[i : i + chunk] = ~np.isfinite(flat[i : i + chunk]).all(axis=1)
    return bad


_META_KINDS = "biufUS"  # bool, integers, floats, strings: what a slice can be made of


def _from_arrays(p: Path, arrays: dict[str, np.ndarray]) -> Dataset:
    missing = [k for k in ("x", "y", "labels") if k not in arrays]
    if missing:
        raise DataError(
            f"{p}: missing array(s) {', '.join(missing)}; a dataset needs x, y, labels "
            f"and optional meta_<name> columns"
        )
    x, y, labels = arrays["x"], arrays["y"], arrays["labels"]
    if x.ndim < 2:
        raise DataError(f"{p}: x must have shape (N, ...) with ndim >= 2, got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{p}: x must be floating point, got {x.dtype}")
    n = x.shape[0]
    if labels.ndim != 1 or labels.dtype.kind != "U" or labels.size == 0:
        raise DataError(
            f"{p}: labels must be a non-empty 1-D unicode array, got {labels.dtype} {labels.shape}"
        )
    names = [str(s) for s in labels]
    dup = sorted({s for s in names if names.count(s) > 1})
    if dup:
        raise DataError(f"{p}: labels repeat {dup}; each label once")
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{p}: y must be ({n},) integers to match x, got {y.dtype} {y.shape}")
    if n and (y.min() < 0 or y.max() >= labels.size):
        raise DataError(
            f"{p}: y values must be in [0, {labels.size - 1}] (indices into {labels.size} labels),"
            f" got [{y.min()}, {y.max()}]"
        )
    meta: dict[str, np.ndarray] = {}
    for key, col in arrays.items():
        if not key.startswith("meta_"):
            continue
        name = key[len("meta_") :]
        if not name:
            raise DataError(f"{p}: array 'meta_' has no column name (meta_<column>)")
        if col.shape != (n,):
            raise DataError(f"{p}: meta column {name!r} must have shape ({n},), got {col.shape}")
        if col.dtype.kind not in _META_KINDS:
            raise DataError(
                f"{p}: meta column {name!r} has dtype {col.dtype}; accepted: bool, integer, "
                "float or string"
            )
        meta[name] = col
    with np.errstate(over="ignore"):  # values beyond float32 become inf, refused as non-finite
        x32 = x.astype(np.float32, copy=False)
    return Dataset(x=x32, y=y.astype(np.int64, copy=False), labels=tuple(names), meta=meta)


SYNTHETIC_PARAMS: dict[str, str] = {
    "n": "captures (required, integer > 0)",
    "seed": "random seed (required, integer >= 0)",
    "snr": "SNR range in dB as A,B (default -10,20)",
    "classes": "comma list of class names (default: the 10 in-distribution classes)",
    "cfo": "max carrier offset in Hz (default 10000)",
    "multipath": "fraction of captures through a fading channel, 0..1 (default 0.3)",
    "drift": "front-end degradation strength, 0..1 (default 0)",
}
"""Query parameters accepted by ``synthetic:rf?...`` recipes, with what each means."""


def load_source(
    spec: str,
    *,
    base_dir: Path | None = None,
    allow_nonfinite: bool = False,
    limit: int | None = None,
) -> Dataset:
    """Load a dataset from an ``.npz`` path or a ``synthetic:rf?n=..&seed=..`` recipe.

    Relative paths resolve against ``base_dir`` (the config file's folder) when given. Recipe
    parameters are listed in ``SYNTHETIC_PARAMS``; anything else is a one-line ``DataError``.
    A recipe whose ``n`` would not fit in memory is refused before generating. ``allow_nonfinite``
    is passed to :func:`load_npz` (synthetic captures are always finite). ``limit``: of a
    synthetic recipe, only its first ``limit`` captures (the same rows, generated faster); an
    ``.npz`` is loaded whole.
    """
    parts = urlsplit(spec)
    # one-letter "schemes" are Windows drive letters: treat them as paths
    if parts.scheme and len(parts.scheme) > 1:
        if parts.scheme != "synthetic":
            raise DataError(
                f"data source {spec!r}: unknown scheme {parts.scheme!r}; accepted: a path to an "
                f".npz file or synthetic:rf?n=N&seed=S[&{'&'.join(_optional_params())}]"
            )
        return _synthetic(spec, parts.path, parts.query, limit)
    path = Path(spec).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    return load_npz(path, allow_nonfinite=allow_nonfinite)


def _optional_params() -> list[str]:
    return [f"{k}=..." for k in SYNTHETIC_PARAMS if k not in ("n", "seed")]


def _synthetic(spec: str, kind: str, query: str, limit: int | None = None) -> Dataset:
    from edgekit.data import synth  # deferred: synth imports this module

    accepted = ", ".join(SYNTHETIC_PARAMS)

    def bad(what: str) -> DataError:
        return DataError(f"data source {spec!r}: {what}; accepted params: {accepted}")

    if kind != "rf":
        raise DataError(f"data source {spec!r}: unknown synthetic kind {kind!r}; accepted: rf")
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in SYNTHETIC_PARAMS:
            raise bad(f"unknown param {key!r}")
        if key in params:
            raise bad(f"param {key!r} given twice")
        params[key] = value
    for required in ("n", "seed"):
        if required not in params:
            raise bad(f"missing required param {required!r}")

    def number(key: str, kind_: type[int] | type[float], lo: float, hi: float) -> Any:
        try:
            value = kind_(params[key])
        except ValueError:
            what = "an integer" if kind_ is int else "a number"
            raise bad(f"{key}={params[key]!r} is not {what}") from None
        if not (lo <= value <= hi):
            raise bad(f"{key}={params[key]!r} is out of range [{lo:g}, {hi:g}]")
        return value

    kwargs: dict[str, Any] = {
        "n": number("n", int, 1, 10_000_000),
        "seed": number("seed", int, 0, 2**63 - 1),
    }
    if "snr" in params:
        pieces = params["snr"].split(",")
        try:
            lo, hi = (float(v) for v in pieces)
        except ValueError:
            raise bad(f"snr={params['snr']!r} must be two numbers A,B in dB") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise bad(f"snr={params['snr']!r} must be finite with A <= B")
        kwargs["snr_range_db"] = (lo, hi)
    if "classes" in params:
        names = [c.strip() for c in params["classes"].split(",") if c.strip()]
        unknown = [c for c in names if c not in synth.ALL_CLASSES]
        if not names or unknown:
            raise DataError(
                f"data source {spec!r}: unknown class(es) {', '.join(unknown) or '(none given)'};"
                f" accepted: {', '.join(synth.ALL_CLASSES)}"
            )
        if len(set(names)) != len(names):
            raise bad(f"classes={params['classes']!r} repeats a class")
        kwargs["classes"] = tuple(names)
    if "cfo" in params:
        kwargs["cfo_max_hz"] = number("cfo", float, 0.0, synth.SAMPLE_RATE_HZ / 2 - 1)
    if "multipath" in params:
        kwargs["multipath_prob"] = number("multipath", float, 0.0, 1.0)
    if "drift" in params:
        kwargs["drift"] = number("drift", float, 0.0, 1.0)
    n = kwargs.pop("n")
    rows = n if limit is None else min(n, limit)
    check_allocation(rows * synth.BYTES_PER_CAPTURE, f"data source {spec!r} (n={n})")
    return synth.generate(n, limit=limit, **kwargs)
