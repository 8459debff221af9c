"""Judge a build against figures measured on the target by ``edgekit bench`` (``bench.json``).

For each variant the bench measured (matched by name), its on-target latency, peak memory and
energy replace the host figures in the verdict; the host latency stays in the variant's notes.
Variants the bench did not measure keep their host figures, and the report says which is which.

An energy figure counts as *measured on the target* (what ``require_measured_energy`` needs) only
by :func:`edgekit.energy.provenance.is_measured_on_target`: its kind is ``measured`` (a physical
meter live, or a replayed recording that carries its provenance), the board it ran on is
``[target] board``, and the variant file it measured has this build's SHA-256. The bundle ID is
not compared: it hashes the manifest, whose build timestamps change on every rebuild, while the
variant file's digest says exactly which model was measured. Otherwise the figure is still shown,
with the reason, and energy budgets under ``require_measured_energy`` are *not evaluated*.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from edgekit.bench_result import BenchResult, VariantBench
from edgekit.builder.bench_check import check_bench
from edgekit.builder.energy_estimate import battery_fields
from edgekit.config import BatteryConfig
from edgekit.energy.provenance import is_measured_on_target
from edgekit.errors import DataError
from edgekit.results import EnergyFigure, LatencyResult, VariantResult

__all__ = ["apply_target_results", "load_target_results"]


_MAX_BYTES = 64 << 20  # a bench.json is kilobytes; anything this big is not one


def load_target_results(path: str | Path, *, model_name: str | None = None) -> BenchResult:
    """Read and check a ``bench.json`` (:func:`~edgekit.builder.bench_check.check_bench`);
    a malformed, implausible or inconsistent file is one :class:`DataError` line.

    Called before the build's first stage, so a bad file costs nothing."""
    p = Path(path)
    try:
        if not p.is_file():
            raise DataError(f"{p}: no such bench results file (expected a bench.json)")
        if p.stat().st_size > _MAX_BYTES:
            raise DataError(f"{p}: {p.stat().st_size} bytes is too big for a bench.json")
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise DataError(f"{p}: cannot read bench results ({e.strerror or e})") from e
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise DataError(f"{p}: malformed JSON: {e}") from e
    check_bench(data, str(p), model_name=model_name)
    try:
        return BenchResult.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DataError(f"{p}: bench.json does not match schema: {e!r}") from e


def _board(bench: BenchResult) -> str:
    env = bench.environment_before
    return str(
        bench.board.get("model")
        or getattr(env, "board_model", None)
        or getattr(env, "machine", None)
        or "the target"
    )


def _identity(bench: BenchResult, vb: VariantBench) -> dict[str, Any]:
    """What the bench recorded about where and what it measured, for ``is_measured_on_target``."""
    env = bench.environment_before
    return {
        "board": bench.board.get("board") or env.board,
        "board_model": bench.board.get("model") or env.board_model,
        "soc": bench.board.get("soc") or env.soc,
        "bundle_id": bench.bundle_id or None,
        **vb.identity,
    }


def _latency(vb: VariantBench, board: str, source: str) -> LatencyResult:
    lat = vb.latency
    return LatencyResult(
        cold_ms=vb.cold_start.cold_start_ms,
        p50_ms=lat.p50_ms,
        p90_ms=lat.p90_ms,
        p99_ms=lat.p99_ms,
        mean_ms=lat.mean_ms,
        std_ms=lat.std_ms,
        runs=lat.runs,
        threads=lat.threads,
        batch=lat.batch,
        peak_memory_mb=vb.peak_memory_mb,
        runtime=vb.runtime,
        provenance=f"target, measured by edgekit bench on {board} ({source}): {lat.provenance}",
        cpu_ms_per_inference=vb.cpu_ms_per_inference,
    )


def _energy(
    vb: VariantBench, battery: BatteryConfig, source: str, on_target: tuple[bool, str]
) -> EnergyFigure | None:
    e = vb.energy
    if not e:
        return None
    dynamic = max(float(e.get("dynamic_energy_per_inference_mj") or 0.0), 0.0)
    lo, hi = (e.get("spread_mj") or (math.nan, math.nan))[:2]
    dlo, dhi = (e.get("dynamic_spread_mj") or (math.nan, math.nan))[:2]
    raw_kind = e.get("kind")
    kind: Literal["measured", "estimated", "unverified"] = (
        raw_kind if raw_kind in ("measured", "unverified") else "estimated"
    )
    raw_windows = e.get("windows")
    windows = raw_windows if isinstance(raw_windows, int) else len(raw_windows or [])
    verdict, reason = on_target
    where = "measured on the target" if verdict else f"{kind}, not counted as measured on the target"
    return EnergyFigure(
        energy_per_inference_mj=float(e["energy_per_inference_mj"]),
        dynamic_energy_per_inference_mj=dynamic,
        spread_mj=(float(hi) - float(lo)) / 2,
        kind=kind,
        meter=str(e.get("meter_spec") or e.get("meter") or "?"),
        sample_rate_hz=float(e.get("sample_rate_hz") or 0.0),
        n_inferences=int(e.get("n_inferences") or 0),
        windows=windows,
        provenance=(
            f"{where} ({reason}); edgekit bench ({source}): meter {e.get('meter')}, "
            f"{e.get('sample_rate_hz')} Hz, {e.get('n_inferences')} inferences, "
            f"interval {_num(lo)}-{_num(hi)} mJ, dynamic {_num(dlo)}-{_num(dhi)} mJ"
        ),
        dynamic_spread_mj=(_float(dhi) - _float(dlo)) / 2,
        measured_on_target=verdict,
        target_reason=reason,
        **battery_fields(battery, dynamic, kind, (_float(dlo), _float(dhi))),
    )


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)


def _num(x: Any) -> str:
    return "?" if x is None or not math.isfinite(float(x)) else f"{float(x):.3g}"


def apply_target_results(
    variants: list[VariantResult],
    bench: BenchResult,
    battery: BatteryConfig,
    source: str,
    *,
    target_board: str,
) -> list[str]:
    """Swap in the bench's figures for every variant it measured; return one note per variant.

    Each energy figure is judged with ``is_measured_on_target`` against ``target_board`` and the
    variant's own file digest (``VariantResult.sha256``)."""
    by_name = {vb.name: vb for vb in bench.variants}
    board = _board(bench)
    notes = []
    for vr in variants:
        vb = by_name.get(vr.name)
        if vb is None or vr.status != "built":
            continue
        if vr.latency is not None:
            vr.notes.append(
                f"host latency p50 {vr.latency.p50_ms:.3g} ms, p99 {vr.latency.p99_ms:.3g} ms "
                "(replaced by the target's in the verdict)"
            )
        vr.latency = _latency(vb, board, source)
        on_target = (False, "no energy figure")
        if vb.energy:
            on_target = is_measured_on_target(
                vb.energy, target_board=target_board, variant_sha256=vr.sha256 or None,
                board=_identity(bench, vb),
            )
        energy = _energy(vb, battery, source, on_target)
        if energy is not None:
            vr.energy = energy
        verdict = (
            "energy measured on the target"
            if on_target[0]
            else f"energy not measured on the target: {on_target[1]}"
        )
        notes.append(f"{vr.name}: latency, memory and energy from {source} ({board}); {verdict}")
    ran_on = _identity(bench, bench.variants[0])["board"] if bench.variants else None
    if ran_on != target_board:
        notes.append(
            f"the bench ran on {ran_on or 'an unrecognised board'} ({board}), not [target] board "
            f"{target_board}: its latency and memory are that board's"
        )
    missing = [v.name for v in variants if v.status == "built" and v.name not in by_name]
    if missing:
        notes.append(f"not in {source}, host figures kept: {', '.join(missing)}")
    return notes
