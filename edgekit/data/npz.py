"""A careful ``.npz`` reader: every member's ``.npy`` header is read and checked before any array
is allocated.

``numpy.load`` trusts the header: a 2.5 KB file whose header declares a petabyte shape makes it
try to allocate a petabyte, and a member that is not ``.npy`` surfaces as a library traceback.
Here each member must be ``<name>.npy`` with a version 1.0 or 2.0 header, a non-object dtype and
non-negative dimensions; the bytes its header declares must match the member's stored size; and
the arrays to be read must fit in memory (:func:`edgekit.data.limits.check_allocation`). Only then
is anything read, with ``allow_pickle=False``.
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from edgekit.data.limits import check_allocation, fmt_bytes
from edgekit.errors import DataError

__all__ = ["MAX_HEADER_BYTES", "MemberHeader", "read_headers", "read_npz"]

MAX_HEADER_BYTES = 10_000
"""Longest ``.npy`` header accepted (numpy's own default limit)."""

# What a damaged or hostile archive can raise while being read; each becomes one DataError line.
_READ_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    NotImplementedError,  # a compression method zipfile does not support
    RuntimeError,  # an encrypted member
    KeyError,
    SyntaxError,  # a header that is not a Python literal
    TypeError,
)


@dataclass(frozen=True)
class MemberHeader:
    """What one ``.npy`` member declares: key (name without ``.npy``), shape, dtype, order."""

    key: str
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool

    @property
    def nbytes(self) -> int:
        """Bytes the declared array takes (Python integers: no overflow)."""
        return math.prod(self.shape) * self.dtype.itemsize


def _header(fp: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(
            fp, max_header_size=MAX_HEADER_BYTES
        )
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(
            fp, max_header_size=MAX_HEADER_BYTES
        )
    else:
        raise ValueError(f".npy format version {version[0]}.{version[1]} (1.0 or 2.0 accepted)")
    return tuple(int(d) for d in shape), bool(fortran), np.dtype(dtype)


def read_headers(p: Path, zf: zipfile.ZipFile) -> dict[str, MemberHeader]:
    """Every member's declared array, checked against its stored size; nothing is allocated."""
    out: dict[str, MemberHeader] = {}
    for info in zf.infolist():
        name = info.filename
        if info.is_dir() or not name.endswith(".npy"):
            raise DataError(
                f"{p}: archive member {name!r} is not a .npy array; an .npz dataset holds only "
                "x.npy, y.npy, labels.npy and meta_<column>.npy"
            )
        key = name[: -len(".npy")]
        if key in out:
            raise DataError(f"{p}: archive member {name!r} appears twice")
        with zf.open(info) as fp:
            try:
                shape, fortran, dtype = _header(fp)
            except _READ_ERRORS as e:
                raise DataError(f"{p}: member {name!r} is unreadable: no valid .npy header ({e})") from e
            header_len = fp.tell()
        if dtype.hasobject:
            raise DataError(f"{p}: array {key!r} contains pickled objects; refusing")
        if any(d < 0 for d in shape):
            raise DataError(f"{p}: array {key!r} declares a negative dimension {shape}")
        head = MemberHeader(key, info, shape, dtype, fortran)
        stored = info.file_size - header_len
        if head.nbytes != stored:
            raise DataError(
                f"{p}: array {key!r} declares shape {shape} {dtype} ({fmt_bytes(head.nbytes)}) "
                f"but the archive holds {fmt_bytes(max(stored, 0))} for it (truncated or forged)"
            )
        out[key] = head
    return out


def read_npz(p: Path, wanted: Callable[[str], bool]) -> dict[str, np.ndarray]:
    """The arrays of ``p`` whose key ``wanted`` accepts, after every header has been checked.

    Any problem is one :class:`DataError` line naming ``p`` (and the member when there is one).
    """
    try:
        with zipfile.ZipFile(p) as zf:
            heads = read_headers(p, zf)
            chosen = [h for h in heads.values() if wanted(h.key)]
            check_allocation(sum(h.nbytes for h in chosen), f"{p}")
            arrays: dict[str, np.ndarray] = {}
            for h in chosen:
                with zf.open(h.info) as fp:
                    try:
                        arrays[h.key] = np.lib.format.read_array(
                            fp, allow_pickle=False, max_header_size=MAX_HEADER_BYTES
                        )
                    except _READ_ERRORS as e:
                        raise DataError(f"{p}: array {h.key!r} is unreadable ({e})") from e
    except DataError:
        raise
    except _READ_ERRORS as e:
        raise DataError(f"{p}: unreadable .npz archive ({type(e).__name__}: {e})") from e
    return arrays
