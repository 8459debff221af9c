"""Measured numbers on their way into the journal and the log: NaN and infinity become null,
and the record names the fields that were not finite.

JSON has no NaN or infinity: the journal writes with ``allow_nan=False`` and refuses them (a
``ValueError`` inside the daemon's loop), and the log would write a bare ``NaN`` that ``jq``
rejects. A meter, a fuel gauge or arithmetic on a degenerate window can still produce one, so
the events the daemon builds from measured numbers pass through ``finite_fields``: such a value
is stored as ``null`` and ``non_finite`` maps its field to what it was (``"nan"``, ``"inf"``,
``"-inf"``). Never a made-up number, never an exception in the loop.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

__all__ = ["NON_FINITE_KEY", "finite_fields"]

NON_FINITE_KEY = "non_finite"
"""The key of the field -> ``"nan"``/``"inf"``/``"-inf"`` map ``finite_fields`` adds."""


def _word(x: float) -> str:
    if math.isnan(x):
        return "nan"
    return "inf" if x > 0 else "-inf"


def _clean(value: Any, path: str, bad: dict[str, str]) -> Any:
    # numbers.Real covers float, numpy floats (np.float32 is no float subclass) and ints; ints
    # and bools are always finite and are passed through as they are
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        x = float(value)
        if math.isfinite(x):
            return value
        bad[path] = _word(x)
        return None
    if isinstance(value, Mapping):
        return {k: _clean(v, f"{path}.{k}", bad) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, f"{path}[{i}]", bad) for i, v in enumerate(value)]
    return value


def finite_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with every non-finite number (nested in dicts and lists too) replaced by None,
    plus ``non_finite`` naming each such field (dotted path) when there was one."""
    bad: dict[str, str] = {}
    out = {k: _clean(v, str(k), bad) for k, v in data.items()}
    if bad:
        out[NON_FINITE_KEY] = bad
    return out
