"""Attribute a power trace to the inferences of an event log: ``attribute(trace, events)``.

The one code path behind ``edgekit bench`` (live), ``edgekit energy attribute`` (offline, from the
files ``--record`` writes) and, for rolling windows, the daemon. Stages, in order:

1. the event log's layout (windows, calls, idle on both sides) and the trace's units;
2. the meter clock mapped onto the host clock (``clock_align``);
3. idle power in every idle segment, interpolated across each window (``baseline``);
4. blocks of each window: energy, baseline, inferences, busy time (``uncertainty``);
5. aliasing between the sample clock and the loop (``aliasing``);
6. dynamic and total energy per inference with a block-bootstrap interval widened by the
   systematic terms (idle interpolation, clock fit, window edges, aliasing);
7. idle drift against the dynamic energy, and regime changes across the run (``regimes``).

Anything that makes a figure indefensible raises ``EnergyRefused`` with its cause; anything that
only weakens it becomes a warning naming the cause.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from edgekit.energy.aliasing import check_aliasing
from edgekit.energy.baseline import Interpolator, measure_idle, significant_curvature
from edgekit.energy.clock_align import align_clock
from edgekit.energy.events import EventLog
from edgekit.energy.integrate import Integrator
from edgekit.energy.layout import layout_of
from edgekit.energy.meters.model import BOARDS, BoardProfile, load_profile
from edgekit.energy.plausibility import check_trace
from edgekit.energy.provenance import Provenance, recording_provenance
from edgekit.energy.regimes import regime_figures
from edgekit.energy.result import EnergyRefused, EnergyResult, WindowMeasurement
from edgekit.energy.tracefile import PowerTrace
from edgekit.energy.uncertainty import (
    Blocks,
    block_bootstrap,
    estimate,
    make_blocks,
    ratio_se,
    t_quantile,
    variance_inflation,
)
from edgekit.errors import MeterError

__all__ = ["AttributionOptions", "attribute", "profile_for"]

DRIFT_WARN = 0.02  # idle drift at stake, relative to the dynamic energy
INTERPOLATION_REFUSE = 0.10  # spline and line disagree by this share of the dynamic energy
PRECISION_WARN = 0.02  # an interval half-width beyond this share of its figure is called out


@dataclass(frozen=True)
class AttributionOptions:
    """Settings of an attribution; recorded in the event log header so a re-analysis matches."""

    block_s: float | None = None  # None: max(1 s, 50 samples, 2 call cycles, 10 x averaging)
    resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    settle_s: float = 0.25  # idle after a window is measured only after this long

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AttributionOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def profile_for(board: str | None) -> BoardProfile:
    """The board's power profile for the unit check; with no known board, the envelope of all
    profiles (lowest idle, highest maximum), so only magnitudes no supported board explains
    are flagged."""
    if board:
        try:
            return load_profile(board)
        except MeterError:
            pass
    profiles = [load_profile(b) for b in BOARDS if b != "generic"]
    return BoardProfile(
        board="any", name="any supported board", measures="board input",
        idle_w=min(p.idle_w for p in profiles), max_w=max(p.max_w for p in profiles),
        cores=4, active_per_core_w=max(p.active_per_core_w for p in profiles),
        sources=tuple(f"envelope of the {p.board} profile" for p in profiles),
    )


def _on_host_clock(
    trace: PowerTrace, events: EventLog
) -> tuple[Integrator, dict[str, Any], list[str], float]:
    h = trace.header
    t = trace.timestamps_s - h.delay_s - 0.5 * h.averaging_s  # centre of each averaging window
    diffs = np.diff(t)
    period = float(np.median(diffs[diffs > 0])) if np.any(diffs > 0) else 0.0
    if period <= 0:
        raise EnergyRefused("resolution", f"{trace.source}: all samples share one timestamp")
    fit, notes = align_clock(Integrator(t, trace.power_w), events, clock=h.clock, period_s=period,
                             averaging_s=h.averaging_s)
    return Integrator(fit.to_host(t), trace.power_w), fit.to_dict(), notes, period


def _check_coverage(integ: Integrator, idle: list[tuple[float, float]], period: float, src: str) -> None:
    need0, need1 = idle[0][0], idle[-1][1]
    have0, have1 = float(integ.t[0]), float(integ.t[-1])
    if have0 > need0 + period or have1 < need1 - period:
        raise EnergyRefused(
            "coverage",
            f"{src}: the trace covers {have0:.3f}-{have1:.3f} s (host clock) but the events need "
            f"{need0:.3f}-{need1:.3f} s; the recording is cut short or belongs to another run",
        )


def _auto_block_s(calls: np.ndarray, period: float, averaging_s: float) -> float:
    cycle = float(np.median(np.diff(calls[:, 0]))) if calls.shape[0] > 1 else 0.0
    return max(1.0, 50.0 * period, 2.0 * cycle, 10.0 * averaging_s)


def attribute(
    trace: PowerTrace,
    events: EventLog,
    *,
    options: AttributionOptions | None = None,
    profile: BoardProfile | None = None,
    provenance: Provenance | None = None,
) -> EnergyResult:
    """Per-inference total and dynamic energy with intervals, or ``EnergyRefused`` naming why.

    ``profile`` is the board profile for the unit check (default: the trace header's board, else
    generic). ``provenance`` overrides the one derived from the two headers (live runs pass it).
    """
    opts = options or AttributionOptions.from_dict(events.header.get("attribution"))
    layout = layout_of(events)
    warnings = check_trace(trace, profile or profile_for(trace.header.board))
    if not events.complete:
        warnings.append(f"events: {events.source} has no 'end' record (cut short?)")
    integ, clock, notes, period = _on_host_clock(trace, events)
    warnings += notes
    _check_coverage(integ, layout.idle, period, trace.source)
    h = trace.header
    block_s = opts.block_s or _auto_block_s(layout.calls, period, h.averaging_s)
    idle = []
    for s, e in layout.idle:
        seg = measure_idle(integ, s, e, settle_s=opts.settle_s, tail_s=2 * period + h.averaging_s,
                           block_s=block_s, period_s=period)
        if seg is None:
            raise EnergyRefused("resolution", f"idle segment {s:.3f}-{e:.3f} s holds too few "
                                f"samples at {1 / period:.3g} Hz; record longer idle segments")
        idle.append(seg)
    idle_w = np.array([seg.mean_w for seg in idle])
    interp = Interpolator(np.array([seg.mid_s for seg in idle]), spline=significant_curvature(idle))
    # the meter spreads each window edge over about one averaging window and one sample period
    smear = h.averaging_s + period + h.delay_s
    smear_s = [(min(smear, 0.4 * (ws - layout.idle[layout.before[k]][0])),
                min(smear, 0.4 * (layout.idle[layout.after[k]][1] - we)))
               for k, (ws, we) in enumerate(layout.windows)]
    blocks = make_blocks(integ, layout.calls, layout.windows, interp, block_s, smear_s)
    for k, (ws, we) in enumerate(layout.windows):
        if int(integ.count(ws, we)) < 2:
            raise EnergyRefused("resolution", f"window {k} ({we - ws:.3f} s) holds fewer than 2 "
                                f"samples at {1 / period:.3g} Hz; use longer windows")
    point = estimate(blocks, idle_w)
    n_total = float(blocks.n.sum())
    levels, alias_warn, alias_bias_w = check_aliasing(
        integ.t, integ.p, layout.calls, layout.windows, float(idle_w.mean()),
        averaging_s=h.averaging_s, sample_period_s=period)
    warnings += alias_warn
    regimes, regime_warn = regime_figures(blocks, idle, idle_w, layout.calls, integ, events.env,
                                          opts.confidence)
    # a regime change splits its window's blocks into two populations: resample them apart
    strata = blocks.window * 8 + np.searchsorted([r.start_s for r in regimes[1:]], blocks.start_s,
                                                 side="right")
    dyn_star, tot_star = block_bootstrap(blocks, idle, resamples=opts.resamples, seed=opts.seed,
                                         strata=strata)
    inflation, rho = variance_inflation(
        blocks, blocks.energy_j - blocks.baseline_j(idle_w) - point.dynamic_j * blocks.n, strata)
    se_dyn = math.sqrt(inflation) * float(np.std(dyn_star, ddof=1))
    se_tot = math.sqrt(inflation) * float(np.std(tot_star, ddof=1))
    df = max(blocks.n.size - len(np.unique(strata)), 1)
    tq = t_quantile(opts.confidence, df)
    windows_s = float(blocks.span_s.sum())
    win_idx = blocks.window
    per_window_y = np.bincount(win_idx, weights=blocks.energy_j - blocks.baseline_j(idle_w))
    per_window_power = np.abs(per_window_y) / np.bincount(win_idx, weights=blocks.span_s)
    interp_j = np.abs((blocks.weights - blocks.weights_linear) @ idle_w).sum()
    if len(idle) == 2:  # one window: no curvature information, a step is as likely as a line
        interp_j = abs(idle_w[-1] - idle_w[0]) * windows_s / 4.0
    systematic_j = {
        "interpolation": float(interp_j) / n_total,
        "clock": float(np.sum(per_window_power) * 2.0 * clock["residual_s"]) / n_total,
        "edges": _edge_error_j(integ, layout.windows) / n_total,
        "aliasing": alias_bias_w * windows_s / n_total,
    }
    sys_j = sum(systematic_j.values())
    half_dyn = tq * se_dyn + sys_j
    half_tot = tq * se_tot + sys_j
    dyn_total_j = point.dynamic_j * n_total
    warnings += _precision(point.total_j, half_tot, point.dynamic_j, half_dyn, period, h.averaging_s)
    drift_j = float(sum(abs(idle_w[layout.after[k]] - idle_w[layout.before[k]]) * (we - ws) / 2.0
                        for k, (ws, we) in enumerate(layout.windows)))
    negligible_j = 1e-4 * float(blocks.energy_j.sum())  # below this, drift cannot matter
    if interp_j > max(INTERPOLATION_REFUSE * abs(dyn_total_j), negligible_j):
        raise EnergyRefused("drift", f"idle power moves {idle_w.min():.4g}-{idle_w.max():.4g} W and "
                            "not along a smooth curve: interpolating it decides "
                            f"{_share(interp_j, dyn_total_j)} of the dynamic energy; "
                            "measure on a quieter board or with shorter windows")
    if drift_j > max(DRIFT_WARN * abs(dyn_total_j), negligible_j):
        warnings.append(
            f"idle drift: idle power moved {idle_w[0]:.4g} -> {idle_w[-1]:.4g} W (range "
            f"{idle_w.min():.4g}-{idle_w.max():.4g} W); {_share(drift_j, dyn_total_j)} "
            "of the dynamic energy rests on interpolating idle across the windows "
            f"({'spline' if interp.spline else 'straight line'})"
        )
    warnings += regime_warn
    windows = _window_figures(blocks, idle_w, layout, integ, tq)
    prov = provenance or recording_provenance(h, events.header, trace.source)
    per_win = np.array([w.energy_per_inference_mj for w in windows])
    return EnergyResult(
        energy_per_inference_mj=point.total_j * 1e3,
        dynamic_energy_per_inference_mj=point.dynamic_j * 1e3,
        idle_power_w=float(blocks.baseline_j(idle_w).sum() / windows_s),
        active_power_w=float(blocks.energy_j.sum() / windows_s),
        spread_mj=((point.total_j - half_tot) * 1e3, (point.total_j + half_tot) * 1e3),
        iqr_mj=float(np.subtract(*np.percentile(per_win, [75, 25]))),
        mad_mj=float(np.median(np.abs(per_win - np.median(per_win)))),
        n_inferences=int(n_total),
        meter=str(prov.meter or h.meter or "unknown"),
        meter_spec=str(prov.meter_spec or h.meter_spec or h.meter or "unknown"),
        measures=str(h.measures or "not stated"),
        kind=prov.kind,
        sample_rate_hz=float(blocks.n_samples.sum() / windows_s),
        duration_s=float(sum(we - ws for ws, we in layout.windows)),
        idle_power_before_w=float(idle_w[0]),
        idle_power_after_w=float(idle_w[-1]),
        windows=windows,
        dynamic_spread_mj=((point.dynamic_j - half_dyn) * 1e3, (point.dynamic_j + half_dyn) * 1e3),
        confidence=opts.confidence,
        uncertainty_mj={"statistical": tq * se_dyn * 1e3,
                        **{k: v * 1e3 for k, v in systematic_j.items()}},
        mode=str(events.header.get("mode") or "back-to-back"),
        duty_hz=events.header.get("duty_hz"),
        regimes=regimes,
        warnings=tuple(warnings),
        clock=clock,
        aliasing={"levels": [lv.to_dict() for lv in levels],
                  "dithered": bool(events.header.get("dither"))},
        idle={"segments": [[s.mid_s, s.mean_w, s.stderr_w] for s in idle],
              "interpolation": "natural cubic spline" if interp.spline else "straight line",
              "drift_w": float(idle_w[-1] - idle_w[0]), "settle_s": opts.settle_s},
        provenance=prov.to_dict(),
        method=(f"{len(layout.windows)} windows, {blocks.n.size} blocks of ~{block_s:.3g} s, "
                f"block bootstrap x{opts.resamples} (seed {opts.seed}) within windows, variance x"
                f"{inflation:.3g} (small-sample and lag-1 correlation {rho:.2f}), "
                f"{opts.confidence:.0%} interval = estimate +- t({df}) x SE + systematic terms"),
    )


def _share(part: float, whole: float) -> str:
    """``part`` as a percentage of ``whole``; "more than all" when ``whole`` is (nearly) zero."""
    if abs(whole) < 1e-12 or abs(part / whole) > 10:
        return "more than all"
    return f"{abs(part / whole):.1%}"


def _precision(total: float, half_tot: float, dyn: float, half_dyn: float, period: float,
               averaging_s: float) -> list[str]:
    """A warning when either figure is known to worse than ``PRECISION_WARN``, with the likely cause."""
    rel_t = half_tot / abs(total) if total else math.inf
    rel_d = half_dyn / abs(dyn) if dyn else math.inf
    if rel_t <= PRECISION_WARN and rel_d <= PRECISION_WARN:
        return []
    sampling = "averaging" if averaging_s > 0 else "point-sampling"
    dyn_text = f"+-{rel_d:.1%}" if rel_d <= 10 else "+-more than itself (not told apart from 0)"
    return [
        f"precision: total energy per inference known to +-{rel_t:.1%}, dynamic to {dyn_text} "
        f"({sampling} meter at {1 / period:.3g} Hz; longer or more windows, or a faster/averaging "
        "meter, narrow it; a dynamic energy small against idle is hard to separate)"
    ]


def _edge_error_j(integ: Integrator, windows: list[tuple[float, float]]) -> float:
    """At each window edge: the step between the straddling samples x half their spacing."""
    t, p = integ.t, integ.p
    total = 0.0
    for edge in (x for w in windows for x in w):
        i = int(np.searchsorted(t, edge, side="right"))
        if 0 < i < t.size:
            total += 0.5 * abs(float(p[i] - p[i - 1])) * float(t[i] - t[i - 1])
    return total


def _window_figures(blocks: Blocks, idle_w: np.ndarray, layout: Any, integ: Integrator,
                    tq: float) -> tuple[WindowMeasurement, ...]:
    base = blocks.baseline_j(idle_w)
    out = []
    for k, (ws, we) in enumerate(layout.windows):
        sel = blocks.window == k
        r = estimate(blocks, idle_w, sel)
        n = int(blocks.n[sel].sum())
        energy = float(blocks.energy_j[sel].sum())
        se = ratio_se((blocks.energy_j - base)[sel], blocks.n[sel])
        out.append(WindowMeasurement(
            start_s=ws, duration_s=we - ws, n_inferences=n, n_samples=int(integ.count(ws, we)),
            energy_j=energy, mean_power_w=energy / (we - ws),
            energy_per_inference_mj=r.total_j * 1e3, dynamic_energy_per_inference_mj=r.dynamic_j * 1e3,
            uncertainty_mj=tq * se * 1e3 if math.isfinite(se) else math.nan,
            idle_before_w=float(idle_w[layout.before[k]]), idle_after_w=float(idle_w[layout.after[k]]),
            baseline_j=float(base[sel].sum()), busy_s=float(blocks.busy_s[sel].sum()),
        ))
    return tuple(out)
