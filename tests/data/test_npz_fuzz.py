"""Fuzzing ``load_npz``: random bytes, mutated real files and forged ``.npy`` headers give a
Dataset or one DataError line, never another exception and never a large allocation."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.data.dataset import Dataset, load_npz
from edgekit.errors import DataError

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PEAK_LIMIT = 64 << 20  # bytes: the valid file is ~10 KiB; anything near this is a forged size obeyed


def _valid() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez(
        buf,
        x=rng.normal(size=(6, 2, 16)).astype(np.float32),
        y=np.array([0, 1, 2, 0, 1, 2]),
        labels=np.array(["a", "b", "c"]),
        meta_snr=np.arange(6.0),
    )
    return buf.getvalue()


VALID = _valid()


def _load(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    tracemalloc.start()
    try:
        ds = load_npz(path)
        assert isinstance(ds, Dataset)
    except DataError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"{peak} bytes allocated"


def test_the_unmutated_file_loads(tmp_path: Path) -> None:
    (tmp_path / "v.npz").write_bytes(VALID)
    assert len(load_npz(tmp_path / "v.npz")) == 6


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(tmp_path_factory: object, data: bytes) -> None:
    _load(Path(str(tmp_path_factory.mktemp("r"))) / "f.npz", data)  # type: ignore[attr-defined]


@FUZZ
@given(
    flips=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, len(VALID)),
)
def test_mutated_real_file(tmp_path_factory: object, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(VALID)
    for pos, byte in flips:
        data[pos] = byte
    _load(Path(str(tmp_path_factory.mktemp("m"))) / "f.npz", bytes(data[: max(cut, 1)]))  # type: ignore[attr-defined]


DESCRS = ["<f4", "<f8", "<i8", "|u1", "<c8", "|b1", "<U3", "|S2", "|O", "V8", "<M8[s]", "<f2"]
DIMS = st.integers(min_value=-3, max_value=2**62)


@FUZZ
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(["x", "y", "labels", "meta_a", "other"]),
            st.sampled_from(DESCRS),
            st.lists(DIMS, max_size=4),
            st.booleans(),
            st.integers(0, 512),
        ),
        max_size=4,
        unique_by=lambda h: h[0],
    ),
    compress=st.booleans(),
)
def test_forged_headers(
    tmp_path_factory: object,
    headers: list[tuple[str, str, list[int], bool, int]],
    compress: bool,
) -> None:
    path = Path(str(tmp_path_factory.mktemp("h"))) / "f.npz"  # type: ignore[attr-defined]
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", mode) as zf:
        for name, descr, shape, fortran, payload in headers:
            buf = io.BytesIO()
            header = {"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}
            np.lib.format.write_array_header_1_0(buf, header)
            zf.writestr(f"{name}.npy", buf.getvalue() + b"\x01" * payload)
    _load(path, path.read_bytes())
