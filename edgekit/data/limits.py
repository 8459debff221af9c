"""Size limits checked before allocating: a declared size is compared with the memory available.

A dataset file or recipe states how big it will be (an ``.npy`` header's shape and dtype, a
recipe's ``n``) before a byte is allocated, so an absurd size is refused with one line and the
estimate instead of a ``MemoryError`` or the machine swapping. The bound is a fraction of the
memory available *now* (``psutil.virtual_memory().available``): a build holds the data, its
preprocessed copy and the model's outputs at once, so a dataset alone may use at most half.
"""

from __future__ import annotations

import psutil

from edgekit.errors import DataError

__all__ = ["MEMORY_FRACTION", "available_memory_bytes", "check_allocation", "fmt_bytes"]

MEMORY_FRACTION = 0.5
"""The share of currently available memory one dataset may take."""


def fmt_bytes(n: float) -> str:
    """``1.5 GiB``-style sizes for messages."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop always returns


def available_memory_bytes() -> int:
    """Memory the kernel says can be given to a process now, without swapping."""
    return int(psutil.virtual_memory().available)


def check_allocation(
    nbytes: int, what: str, *, available: int | None = None, hint: str = "use fewer captures"
) -> None:
    """Refuse, with one :class:`DataError` line, an allocation of ``nbytes`` for ``what`` that
    exceeds ``MEMORY_FRACTION`` of the available memory (``available`` overrides the probe)."""
    avail = available_memory_bytes() if available is None else available
    limit = int(avail * MEMORY_FRACTION)
    if nbytes > limit:
        raise DataError(
            f"{what} needs about {fmt_bytes(nbytes)} in memory, more than "
            f"{MEMORY_FRACTION:.0%} of the {fmt_bytes(avail)} available; {hint}"
        )
