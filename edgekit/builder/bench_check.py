"""Schema and plausibility checks of a ``bench.json`` before a build trusts its figures.

``edgekit build --target-results`` replaces host figures with the target's, so a malformed or
edited file could pass budgets it should fail: negative energy or latency, or an estimate whose
``kind`` was changed to ``"measured"`` to satisfy ``require_measured_energy``. Every field the
build reads is checked for type, presence, unit range (finite, non-negative, below a physical
bound) and internal consistency, and a ``measured`` energy figure must be consistent with its
provenance: a physical meter (not the CPU model or the null meter) named the same in the figure,
its spec and the run's meter record, a positive sample rate, and windows whose inferences add up
and whose figure lies inside its own interval. The board identity and each variant's file digest,
which decide whether a build counts a figure as measured on its target, must be well formed. This
cannot stop a forger who rewrites every field consistently (only a signature could); it stops a
hand-edited or damaged file. Any failure is one
:class:`~edgekit.errors.DataError` line naming the file and the field path.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

from edgekit.bench_result import BENCH_SCHEMA_VERSION
from edgekit.energy.meters import SCHEMES
from edgekit.errors import DataError

__all__ = ["ESTIMATE_METERS", "LIMITS", "PHYSICAL_METERS", "check_bench"]

ESTIMATE_METERS = frozenset({"model", "null"})
"""Meter schemes whose figures are estimates by construction."""
PHYSICAL_METERS = frozenset(SCHEMES) - ESTIMATE_METERS
"""Meter schemes that read a physical power monitor (``replay`` replays a recorded one)."""

LIMITS = {
    "ms": 3_600_000.0,  # an hour per inference or cold start
    "mb": 1_048_576.0,  # a TiB of resident memory
    "mj": 1_000_000.0,  # a kJ per inference
    "hz": 10_000_000.0,  # meter sample rate
}
"""Upper bounds of plausibility, by unit suffix; anything above is a damaged file."""

_REL_TOL = 1e-6  # recomputed figures must match to this relative tolerance (float rounding)


class _Check:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str) -> DataError:
        return DataError(f"{self.source}: {where}: {what}")

    def table(self, parent: Any, key: str | int, where: str) -> dict[str, Any]:
        value = parent[key] if isinstance(parent, list) and isinstance(key, int) else parent.get(key)
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {_show(value)}")
        return value

    def text(self, d: dict[str, Any], key: str, where: str) -> str:
        value = d.get(key)
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", f"expected a string, got {_show(value)}")
        return value

    def number(
        self,
        d: dict[str, Any],
        key: str,
        where: str,
        *,
        lo: float = 0.0,
        hi: float | None = None,
        integer: bool = False,
        optional: bool = False,
    ) -> float | None:
        """A finite number in [lo, hi]; the upper bound defaults to the unit's (field suffix)."""
        path = f"{where}.{key}"
        value = d.get(key)
        if value is None and optional:
            return None
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            need = "an integer" if integer else "a number"
            raise self.fail(path, f"expected {need}, got {_show(value)}")
        if not math.isfinite(value):
            raise self.fail(path, f"must be finite, got {value}")
        if hi is None:
            hi = LIMITS.get(key.rsplit("_", 1)[-1], math.inf)
        if not lo <= value <= hi:
            raise self.fail(path, f"{value:g} is out of the plausible range [{lo:g}, {hi:g}]")
        return float(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=1e-12)


def _median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _latency(c: _Check, v: dict[str, Any], where: str) -> None:
    lat = c.table(v, "latency", f"{where}.latency")
    w = f"{where}.latency"
    figs = {k: c.number(lat, k, w) for k in ("min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms")}
    c.number(lat, "mean_ms", w)
    c.number(lat, "std_ms", w)
    order = [figs[k] or 0.0 for k in ("min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms")]
    if any(b < a for a, b in pairwise(order)):
        raise c.fail(w, "percentiles out of order (need min <= p50 <= p90 <= p99 <= max)")
    c.number(lat, "runs", w, lo=1, hi=1e9, integer=True)
    c.number(lat, "warmup", w, hi=1e9, integer=True)
    c.number(lat, "batch", w, lo=1, hi=1e6, integer=True)
    c.number(lat, "threads", w, lo=1, hi=4096, integer=True)
    cold = c.table(v, "cold_start", f"{where}.cold_start")
    for k in ("cold_start_ms", "load_ms", "first_inference_ms"):
        c.number(cold, k, f"{where}.cold_start")


def _energy(c: _Check, e: dict[str, Any], run_meter: dict[str, Any], where: str) -> str:
    """Check one variant's energy figure; return its kind."""
    kind = e.get("kind")
    if kind not in ("measured", "estimated", "unverified"):
        raise c.fail(
            f"{where}.kind", f"expected 'measured', 'estimated' or 'unverified', got {_show(kind)}"
        )
    total = c.number(e, "energy_per_inference_mj", where) or 0.0
    mj = LIMITS["mj"]
    c.number(e, "dynamic_energy_per_inference_mj", where, lo=-mj, hi=mj)
    n = c.number(e, "n_inferences", where, lo=1, hi=1e12, integer=True) or 0
    rate = c.number(e, "sample_rate_hz", where) or 0.0
    spread = e.get("spread_mj")
    if not (isinstance(spread, list) and len(spread) == 2):
        raise c.fail(f"{where}.spread_mj", f"expected [low, high] in mJ, got {_show(spread)}")
    lo, hi = (c.number({"v": s}, "v", f"{where}.spread_mj", lo=-mj, hi=mj) for s in spread)
    if lo is None or hi is None or lo > hi:
        raise c.fail(f"{where}.spread_mj", "low must not exceed high")
    meter = c.text(e, "meter", where)
    spec = c.text(e, "meter_spec", where)
    windows = e.get("windows")
    if not isinstance(windows, list) or not windows:
        raise c.fail(f"{where}.windows", f"expected a non-empty list, got {_show(windows)}")
    per_inf, total_n, total_samples, total_s = [], 0, 0, 0.0
    for i, _ in enumerate(windows):
        ww = f"{where}.windows[{i}]"
        win = c.table(windows, i, ww)
        wn = int(c.number(win, "n_inferences", ww, lo=1, hi=1e12, integer=True) or 0)
        total_samples += int(c.number(win, "n_samples", ww, lo=2, hi=1e12, integer=True) or 0)
        total_s += c.number(win, "duration_s", ww, lo=1e-6, hi=1e6) or 0.0
        c.number(win, "energy_j", ww, hi=1e9)
        per_inf.append(c.number(win, "energy_per_inference_mj", ww) or 0.0)
        total_n += wn
    # The figure is the attribution over the whole run (idle interpolated across each window), not
    # a plain statistic of the windows; what must hold is that its own interval contains it.
    if not (lo is not None and hi is not None and lo - 1e-9 <= total <= hi + 1e-9):
        raise c.fail(
            where,
            f"energy_per_inference_mj {total:g} lies outside its own interval spread_mj [{lo:g}, {hi:g}]",
        )
    if n != total_n:
        raise c.fail(where, "n_inferences is not the sum of its windows'")
    # windows are widened by the meter's smear at their edges, so samples / duration is only
    # close to the meter's rate: a factor of two apart is a damaged or hand-edited file
    seen = total_samples / total_s if total_s > 0 else 0.0
    if not (0.5 * seen <= rate <= 2.0 * seen):
        raise c.fail(where, f"sample_rate_hz {rate:g} does not match its windows' {seen:.4g} samples/s")
    if kind == "measured":
        scheme = meter.split(":", 1)[0]
        if scheme not in PHYSICAL_METERS:
            raise c.fail(
                where,
                f"kind 'measured' from meter {meter!r}, which is an estimate; measured figures "
                f"come from a physical meter ({', '.join(sorted(PHYSICAL_METERS))})",
            )
        # a replayed recording keeps the recorded meter's name and spec; its provenance says so
        replayed = run_meter.get("name") == "replay"
        if not replayed and (spec.split(":", 1)[0] != scheme or run_meter.get("name") != meter):
            raise c.fail(where, f"meter {meter!r} disagrees with meter_spec or the run's meter")
        provenance = e.get("provenance")
        if replayed and not (isinstance(provenance, dict) and provenance.get("kind") == "measured"):
            raise c.fail(where, "kind 'measured' from a replay whose recording does not carry its provenance")
        if run_meter.get("kind") != "measured" or rate <= 0:
            raise c.fail(where, "kind 'measured' but the run's meter is not a measuring one")
        label = e.get("label")
        if label is not None and not str(label).startswith("measured"):
            raise c.fail(f"{where}.label", f"{_show(label)} contradicts kind 'measured'")
    return str(kind)


def check_bench(data: Any, source: str, *, model_name: str | None = None) -> None:
    """Refuse a ``bench.json`` object that is malformed, implausible or inconsistent.

    ``model_name``, when given, must be the name of the bundle the bench measured.
    """
    c = _Check(source)
    if not isinstance(data, dict):
        raise c.fail("(top level)", "not an edgekit bench.json (expected an object)")
    version = data.get("schema_version")
    if version != BENCH_SCHEMA_VERSION or isinstance(version, bool):
        raise c.fail("schema_version", f"{_show(version)}; this edgekit reads {BENCH_SCHEMA_VERSION}")
    for key in ("bundle", "meter", "environment_before", "environment_after", "options", "inputs"):
        c.table(data, key, key)
    bundle_name = c.text(data["bundle"], "name", "bundle")
    if model_name is not None and bundle_name != model_name:
        raise c.fail(
            "bundle.name", f"the bench measured {bundle_name!r}, but this build is {model_name!r}"
        )
    run_meter = data["meter"]
    variants = data.get("variants")
    if not isinstance(variants, list) or not variants:
        raise c.fail("variants", f"expected a non-empty list, got {_show(variants)}")
    seen: set[str] = set()
    for i, _ in enumerate(variants):
        where = f"variants[{i}]"
        v = c.table(variants, i, where)
        name = c.text(v, "name", where)
        if name in seen:
            raise c.fail(f"{where}.name", f"{name!r} appears twice")
        seen.add(name)
        for key in ("file", "runtime", "memory_provenance"):
            c.text(v, key, where)
        _latency(c, v, where)
        c.number(v, "peak_memory_mb", where, lo=1e-6)
        c.number(v, "cpu_ms_per_inference", where, optional=True)
        energy = v.get("energy")
        kind = None
        if energy is not None:
            kind = _energy(c, c.table(v, "energy", f"{where}.energy"), run_meter, f"{where}.energy")
        _battery(c, v, "battery", kind, where)
        _sha256(c, v, "file_sha256", where)
        duty = v.get("duty_energy")
        duty_kind = None
        if duty is not None:
            duty_kind = _energy(
                c, c.table(v, "duty_energy", f"{where}.duty_energy"), run_meter, f"{where}.duty_energy"
            )
        _battery(c, v, "duty_battery", duty_kind, where)
    board = data.get("board")
    if board is not None:
        b = c.table(data, "board", "board")
        for key in ("board", "model", "soc"):
            if b.get(key) is not None:
                c.text(b, key, "board")


def _battery(c: _Check, v: dict[str, Any], key: str, kind: str | None, where: str) -> None:
    """A battery projection inherits the kind of the energy figure it was made from."""
    if v.get(key) is None:
        return
    b = c.table(v, key, f"{where}.{key}")
    if b.get("kind") != kind:
        raise c.fail(f"{where}.{key}.kind", f"{_show(b.get('kind'))} differs from the energy's")


def _sha256(c: _Check, v: dict[str, Any], key: str, where: str) -> None:
    """Absent (an older bench: never counted as measured on a target), or 64 lowercase hex digits."""
    value = v.get(key)
    if value in (None, ""):
        return
    if not (isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value)):
        raise c.fail(f"{where}.{key}", f"expected a SHA-256 (64 hex digits), got {_show(value)}")
