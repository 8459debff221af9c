"""JSON-safe copies of result data: no NaN or infinity (written as null), plain types only.

A foundation helper so that the bundle, bench results and reports (and the device, which loads
bundles) share it without importing the report renderers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["json_safe"]


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps(allow_nan=False)`` accepts; NaN and inf become None."""
    if obj is None or isinstance(obj, str | bool):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = sorted(obj, key=repr) if isinstance(obj, set | frozenset) else obj
        return [json_safe(v) for v in items]
    if isinstance(obj, PurePath):
        return str(obj)
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars, without importing numpy
    if callable(tolist):
        return json_safe(tolist())
    return str(obj)
