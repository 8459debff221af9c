"""The manifest's ``context`` section: validated precision per label and on-device condition.

Written by the build (from each shipped variant's ``VariantResult.context``), read by the daemon
(``edgekit.runtime.context``) to attach "in conditions like these, this model was right 61 % of
273 times" to every result. Optional and additive: a manifest without it is still schema 1, and
a loader that does not know it ignores it. Layout::

    "context": {
      "method": "wilson", "confidence": 0.95, "source": "<evaluation data>",
      "conditions": {"snr_db": {"edges": [-10, 0, 10, 20], "describe": "..."}},
      "variants": {"<variant>": [
        {"label": "bpsk", "condition": "snr_db", "bin": "[0, 10)", "low": 0, "high": 10,
         "n": 273, "correct": 167, "precision": 0.6117, "ci_low": 0.552, "ci_high": 0.668}, ...]}
    }

``condition`` ``""`` with ``bin`` ``"all"`` is the label over all conditions; ``low``/``high``
null mean an open bin. Bins are left-closed: ``low <= value < high``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from edgekit.errors import BundleError

if TYPE_CHECKING:
    from edgekit.config import BuildConfig
    from edgekit.results import VariantResult

__all__ = ["MAX_CELLS", "check_context", "context_section"]

MAX_CELLS = 100_000
"""Cells per variant at most (labels x bins): far above any real table."""


def context_section(variants: Sequence[VariantResult], cfg: BuildConfig) -> dict[str, Any] | None:
    """The section for the shipped ``variants``, or None when none has a context table."""
    # imported here, by the build: the observables' SNR estimator needs scipy.signal, which
    # loading a bundle (the daemon's start-up, via the schema check) does not
    from edgekit.signals.observe import OBSERVABLES

    tables = {v.name: v.context for v in variants if v.context}
    if not tables:
        return None
    conditions: dict[str, Any] = {}
    for cells in tables.values():
        for c in cells:
            if not c.condition:
                continue
            entry = conditions.setdefault(c.condition, {"edges": set(), "describe": ""})
            entry["edges"].update(e for e in (c.low, c.high) if e is not None)
            if c.condition in OBSERVABLES:
                entry["describe"] = OBSERVABLES[c.condition][1]
    first = next(iter(tables.values()))[0]
    return {
        "method": "wilson",
        "confidence": first.confidence,
        "source": cfg.data.evaluation,
        "conditions": {
            k: {"edges": sorted(v["edges"]), "describe": v["describe"]} for k, v in conditions.items()
        },
        "variants": {
            name: [
                {k: v for k, v in dataclasses.asdict(c).items() if k != "confidence"} for c in cells
            ]
            for name, cells in tables.items()
        },
    }


def _name(name: Any) -> str:
    """A table key as shown in a one-line message (control characters escaped, at most 60)."""
    text = repr(str(name))[1:-1]
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(key: str, expect: str, v: Any) -> BundleError:
    text = repr(v)
    return BundleError(f"{key}: must be {expect}, got {text if len(text) <= 60 else text[:57] + '...'}")


def _number(v: Any, key: str, lo: float, hi: float, null: bool = False) -> float | None:
    if v is None and null:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise _bad(key, f"a number in [{lo:g}, {hi:g}]" + (" or null" if null else ""), v)
    return float(v)


def _count(v: Any, key: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _bad(key, "a count (an integer >= 0)", v)
    return v


def _cell(c: Any, key: str, conditions: dict[str, Any]) -> None:
    if not isinstance(c, dict):
        raise _bad(key, "a table", c)
    for name in ("label", "condition", "bin"):
        if not isinstance(c.get(name), str) or len(c[name]) > 256:
            raise _bad(f"{key}.{name}", "a string of at most 256 characters", c.get(name))
    if c["condition"] and c["condition"] not in conditions:
        raise BundleError(f"{key}.condition: {_name(c['condition'])!r} is not in context.conditions")
    n = _count(c.get("n"), f"{key}.n")
    k = _count(c.get("correct"), f"{key}.correct")
    if k > n:
        raise BundleError(f"{key}.correct: {k} is more than n = {n}")
    _number(c.get("precision"), f"{key}.precision", 0.0, 1.0, null=True)
    lo = _number(c.get("ci_low"), f"{key}.ci_low", 0.0, 1.0)
    hi = _number(c.get("ci_high"), f"{key}.ci_high", 0.0, 1.0)
    if lo is not None and hi is not None and lo > hi:
        raise BundleError(f"{key}: ci_low {lo:g} is above ci_high {hi:g}")
    a = _number(c.get("low"), f"{key}.low", -math.inf, math.inf, null=True)
    b = _number(c.get("high"), f"{key}.high", -math.inf, math.inf, null=True)
    if a is not None and b is not None and a >= b:
        raise BundleError(f"{key}: low {a:g} is not below high {b:g}")


def check_context(v: Any, key: str) -> None:
    """Validate the section (the manifest schema calls this for ``context``)."""
    if v is None:
        return
    if not isinstance(v, dict):
        raise _bad(key, "a table or null", v)
    _number(v.get("confidence"), f"{key}.confidence", 0.0, 1.0)
    conditions = v.get("conditions", {})
    if not isinstance(conditions, dict):
        raise _bad(f"{key}.conditions", "a table", conditions)
    for raw_name, cond in conditions.items():
        name = _name(raw_name)
        edges = cond.get("edges") if isinstance(cond, dict) else None
        if not isinstance(edges, list) or len(edges) > 1000:
            raise _bad(f"{key}.conditions.{name}.edges", "a list of at most 1000 numbers", edges)
        nums = [_number(e, f"{key}.conditions.{name}.edges", -math.inf, math.inf) for e in edges]
        if any(b is not None and a is not None and b <= a for a, b in pairwise(nums)):
            raise _bad(f"{key}.conditions.{name}.edges", "strictly increasing numbers", edges)
    tables = v.get("variants", {})
    if not isinstance(tables, dict):
        raise _bad(f"{key}.variants", "a table of variant name -> list of cells", tables)
    for raw_name, cells in tables.items():
        where = f"{key}.variants.{_name(raw_name)}"
        if not isinstance(cells, list) or len(cells) > MAX_CELLS:
            raise _bad(where, f"a list of at most {MAX_CELLS} cells", cells)
        for i, c in enumerate(cells):
            _cell(c, f"{where}[{i}]", conditions)
