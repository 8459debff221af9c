"""Malformed ``.npz`` datasets, each written from scratch with numpy and zipfile.

Each entry: id, writer(path), and text the one-line refusal must contain. They are fed to
``edgekit data info`` and, as the evaluation set, to ``edgekit build``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.corpus._inputs import npz_bytes, raw_npz, valid_arrays, write_npz

__all__ = ["BUILD_ONLY_NPZ", "NPZ_CASES"]

Writer = Callable[[Path], None]


def _npy(arr: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _forged_header(shape: tuple[int, ...], descr: str = "<f4", payload: int = 2000) -> bytes:
    """A .npy header declaring ``shape`` followed by a few bytes: a 2.5 KB "petabyte" array."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * payload


def _with(**changes: np.ndarray | None) -> Writer:
    def write(path: Path) -> None:
        arrays = valid_arrays()
        for key, value in changes.items():
            if value is None:
                arrays.pop(key)
            else:
                arrays[key] = value
        write_npz(path, arrays)

    return write


def _mutate(fn: Callable[[dict[str, np.ndarray]], None]) -> Writer:
    def write(path: Path) -> None:
        arrays = valid_arrays()
        fn(arrays)
        write_npz(path, arrays)

    return write


def _members(**extra: bytes) -> Writer:
    """The valid members with some replaced or added (raw bytes)."""

    def write(path: Path) -> None:
        members = {f"{k}.npy": _npy(v) for k, v in valid_arrays().items()}
        members.update(extra)
        raw_npz(path, members)

    return write


def _nan_every_7th(a: dict[str, np.ndarray]) -> None:
    a["x"][::7, 0, 3] = np.nan


def _inf_one(a: dict[str, np.ndarray]) -> None:
    a["x"][5, 1, 0] = np.inf


def _all_ood(a: dict[str, np.ndarray]) -> None:
    a["y"][:] = 4  # every row is the held-out class "z"


def _zero_rows(a: dict[str, np.ndarray]) -> None:
    for k in list(a):
        if k != "labels":
            a[k] = a[k][:0]


def _truncated(path: Path) -> None:
    data = npz_bytes(valid_arrays())
    path.write_bytes(data[: len(data) // 2])


n = len(valid_arrays()["y"])

NPZ_CASES: list[tuple[str, Writer, tuple[str, ...]]] = [
    ("empty-file", lambda p: p.write_bytes(b""), ("not an .npz",)),
    ("text-file", lambda p: p.write_text("x,y\n1,2\n"), ("not an .npz",)),
    ("truncated", _truncated, ()),
    ("petabyte-header", _members(**{"x.npy": _forged_header((10**9, 2, 1 << 20))}), ("'x'",)),
    ("huge-y-header", _members(**{"y.npy": _forged_header((10**15,), "<i8")}), ("'y'",)),
    ("negative-dim", _members(**{"x.npy": _forged_header((-1, 2, 64))}), ("'x'",)),
    ("not-npy-member", _members(**{"readme.txt": b"hello"}), ("readme.txt",)),
    ("folder-member", _members(**{"sub/": b""}), ("sub/",)),
    ("bad-npy-magic", _members(**{"x.npy": b"\x93NUMPY garbage"}), ("x.npy",)),
    (
        "pickled-object",
        _members(**{"meta_o.npy": _npy(np.array([{}] * n, dtype=object), allow_pickle=True)}),
        ("pickled",),
    ),
    ("missing-x", _with(x=None), ("missing",)),
    ("missing-labels", _with(labels=None), ("missing",)),
    ("x-integers", _with(x=np.zeros((n, 2, 64), np.int16)), ("x must be floating",)),
    ("x-complex", _with(x=np.zeros((n, 2, 64), np.complex64)), ("x must be floating",)),
    ("x-1d", _with(x=np.zeros(n, np.float32)), ("ndim",)),
    ("y-floats", _with(y=np.zeros(n, np.float64)), ("y must be",)),
    ("y-out-of-range", _with(y=np.full(n, 9, np.int64)), ("y values",)),
    ("y-negative", _with(y=np.full(n, -1, np.int64)), ("y values",)),
    ("y-wrong-length", _with(y=np.zeros(n - 1, np.int64)), ("y must be",)),
    ("labels-integers", _with(labels=np.arange(5)), ("labels",)),
    ("labels-empty", _with(labels=np.array([], dtype="<U1")), ("labels",)),
    ("labels-repeat", _with(labels=np.array(["a", "b", "c", "d", "a"])), ("labels repeat",)),
    ("meta-2d", _with(meta_snr_db=np.zeros((n, 2))), ("meta column",)),
    ("meta-wrong-length", _with(meta_snr_db=np.zeros(3)), ("meta column",)),
    ("meta-no-name", _with(meta_=np.zeros(n)), ("meta_",)),
]
"""Refused by ``load_npz`` itself, so by both ``data info`` and ``build``."""

BUILD_ONLY_NPZ: list[tuple[str, Writer, tuple[str, ...]]] = [
    ("nan-every-7th", _mutate(_nan_every_7th), ("NaN", "data.drop_nonfinite")),
    ("inf-one", _mutate(_inf_one), ("NaN or inf",)),
    ("float64-overflow", _with(x=np.full((n, 2, 64), 1e300)), ("NaN or inf",)),
    ("zero-rows", _mutate(_zero_rows), ("no captures",)),
    ("all-ood", _mutate(_all_ood), ("out-of-distribution",)),
    ("short-captures", _with(x=np.zeros((n, 2, 32), np.float32)), ("expects",)),
]
"""Files ``data info`` describes (NaN rows are counted there) but a build cannot use."""
