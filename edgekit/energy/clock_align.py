"""Map the meter's clock onto the host's: offset and rate, from sync points or power edges.

A meter with its own clock (a USB power logger, the scanner's monitor) drifts against the host
that logged the inference events: 0.5 % fast moves a window's end by 50 ms in 10 s and leaks
active power into the idle-after segment. The fit is ``meter_t = offset + rate x host_t``:

- from ``sync`` events (host/meter time pairs, e.g. the link's TIME exchange) when given;
- otherwise from power edges the event log predicts: marker pulses and window starts and ends.
  A coarse offset comes from cross-correlating the trace with the busy pattern; each edge is then
  located by the step integral (for a step from level B to A at time e, the integral of p - B
  over [c - r, c + r] is (A - B)(c + r - e)), which is robust to noise and to averaging meters
  (it finds the middle of their ramp); a robust weighted line through the edges gives the fit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgekit.energy.events import EventLog
from edgekit.energy.integrate import Integrator
from edgekit.energy.result import EnergyRefused

__all__ = ["BusyPattern", "ClockFit", "align_clock", "locate_edge"]

MAX_RATE_ERROR = 0.01  # edges are searched for assuming at most 1 % skew


@dataclass(frozen=True)
class ClockFit:
    """``meter_t = offset_s + rate x host_t``; ``residual_s`` is the RMS of the fitted points."""

    method: str
    offset_s: float = 0.0
    rate: float = 1.0
    residual_s: float = 0.0
    n_points: int = 0

    def to_host(self, meter_t: np.ndarray) -> np.ndarray:
        return (np.asarray(meter_t, dtype=np.float64) - self.offset_s) / self.rate

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Edge:
    host_s: float
    rising: bool
    quiet_s: float  # idle time on the idle side of the edge
    busy_s: float  # length of the busy stretch on the other side


class BusyPattern:
    """When the board was made busy (calls and marker pulses), as a running busy time."""

    def __init__(self, events: EventLog) -> None:
        spans = sorted([*events.markers,
                        *zip(events.call_start_s.tolist(), events.call_end_s.tolist(), strict=True)])
        self.start = np.array([s for s, _ in spans], dtype=np.float64)
        self.end = np.array([e for _, e in spans], dtype=np.float64)
        self._cum = np.concatenate(([0.0], np.cumsum(self.end - self.start)))

    def busy_s(self, t: np.ndarray | float) -> np.ndarray:
        """Busy seconds before each host time ``t``."""
        t = np.asarray(t, dtype=np.float64)
        k = np.searchsorted(self.start, t, side="right") - 1
        kc = np.clip(k, 0, None)
        inside = np.clip(t - self.start[kc], 0.0, (self.end - self.start)[kc])
        return np.where(k >= 0, self._cum[kc] + inside, 0.0)

    def between(self, a: float, b: float) -> float:
        return float(self.busy_s(b) - self.busy_s(a))


def _expected_edges(events: EventLog, busy: BusyPattern) -> list[_Edge]:
    """Edges the events predict: each marker pulse's ends, each window's first start and last end."""
    stretches = list(events.markers)
    starts, ends = events.call_start_s, events.call_end_s
    for s, e in events.windows:  # the load starts with the first call and stops with the last
        inside = np.flatnonzero((starts >= s) & (starts < e))
        if inside.size:
            stretches.append((float(starts[inside[0]]), float(ends[inside[-1]])))
    stretches.sort()
    out = []
    for i, (s, e) in enumerate(stretches):
        before = s - stretches[i - 1][1] if i > 0 else math.inf
        after = stretches[i + 1][0] - e if i + 1 < len(stretches) else math.inf
        out += [_Edge(s, True, before, e - s), _Edge(e, False, after, e - s)]
    return out


def locate_edge(
    integ: Integrator, busy: BusyPattern, edge: _Edge, prior: ClockFit, radius_s: float,
    guard_s: float, period_s: float, averaging_s: float = 0.0,
) -> tuple[float, float] | None:
    """(meter time of ``edge``, its standard error), or None when the step does not resolve.

    The trace near the edge is matched to the known busy pattern shifted by d: with idle level I
    (from the idle side) and busy level A (from the busy side, divided by its busy fraction), the
    integral of p - I over [c - r, c + r] must equal (A - I) x busy time in that span shifted by
    d; d is found by bisection, so gaps between calls do not bias the edge.
    """
    centre = prior.offset_s + prior.rate * edge.host_s
    lo, hi = centre - radius_s, centre + radius_s

    def busy_in(a: float, b: float, shift: float) -> float:
        ha, hb = (a - shift - prior.offset_s) / prior.rate, (b - shift - prior.offset_s) / prior.rate
        return busy.between(ha, hb) * prior.rate

    idle_side = (lo - guard_s, lo) if edge.rising else (hi, hi + guard_s)
    busy_side = (hi, hi + guard_s) if edge.rising else (lo - guard_s, lo)
    n_idle, n_busy = int(integ.count(*idle_side)), int(integ.count(*busy_side))
    frac = busy_in(*busy_side, 0.0) / guard_s
    if min(n_idle, n_busy) < 2 or frac < 0.2:
        return None
    level_i = float(integ.energy_j(*idle_side)) / guard_s
    level_a = level_i + (float(integ.energy_j(*busy_side)) / guard_s - level_i) / frac
    step = level_a - level_i
    if step <= 0:  # running draws more than idling: a step the other way is not this edge
        return None
    t = integ.t
    quiet = integ.p[(t >= idle_side[0]) & (t <= idle_side[1])]
    noise = float(np.std(quiet)) if quiet.size > 1 else 0.0
    level_error = noise / math.sqrt(min(n_idle, n_busy))
    if abs(step) <= max(6.0 * level_error, 1e-12):
        return None
    area = float(integ.energy_j(lo, hi)) - level_i * (hi - lo)

    def mismatch(shift: float) -> float:
        return step * busy_in(lo, hi, shift) - area

    a, b = -radius_s, radius_s
    fa, fb = mismatch(a), mismatch(b)
    if fa * fb > 0:
        return None
    for _ in range(60):
        m = 0.5 * (a + b)
        fm = mismatch(m)
        if fa * fm <= 0:
            b = m
        else:
            a, fa = m, fm
    shift = 0.5 * (a + b)
    n_r = max(int(integ.count(lo, hi)), 1)
    sigma = (noise * math.sqrt(n_r) * period_s + 2.0 * radius_s * level_error) / abs(step)
    if averaging_s < 0.5 * period_s:
        # A point sampler cannot see where between two samples the load switched: each sample
        # interval holding a switch moves the integral by up to step x period / 2 (one switch:
        # step x period x (u - 1/2), u uniform), independently of the other intervals.
        ha, hb = (lo - prior.offset_s) / prior.rate, (hi - prior.offset_s) / prior.rate
        switches = int(np.count_nonzero((busy.start >= ha) & (busy.start <= hb))
                       + np.count_nonzero((busy.end >= ha) & (busy.end <= hb)))
        sigma = math.hypot(sigma, period_s * math.sqrt(min(max(switches, 1), n_r) / 12.0))
    if sigma > radius_s / 3.0:
        return None
    return centre + shift, max(sigma, 1e-9)


def _coarse_offset(integ: Integrator, events: EventLog, period_s: float) -> float:
    """Offset (meter - host) maximising the correlation of power with the busy pattern."""
    h0, h1 = events.span_s()
    m0, m1 = float(integ.t[0]), float(integ.t[-1])
    dt = max(period_s, (max(h1 - h0, m1 - m0)) / 2**17, 1e-3)
    hx = np.arange(h0, h1, dt)
    cells = BusyPattern(events).busy_s(np.append(hx, hx[-1] + dt))
    busy = np.diff(cells) / dt
    mx = np.arange(m0, m1, dt)
    power = np.diff(integ.cumulative(np.append(mx, mx[-1] + dt))) / dt  # cell means
    x, y = busy - busy.mean(), power - power.mean()
    size = 1 << math.ceil(math.log2(x.size + y.size))
    corr = np.fft.irfft(np.conj(np.fft.rfft(x, size)) * np.fft.rfft(y, size), size)
    lag = int(np.argmax(corr))
    if lag > size // 2:
        lag -= size
    return m0 - h0 + lag * dt


def _robust_line(h: np.ndarray, m: np.ndarray, w: np.ndarray, fit_rate: bool) -> tuple[float, float]:
    if fit_rate:
        rate, offset = np.polyfit(h, m, 1, w=w)
        return float(offset), float(rate)
    return float(np.average(m - h, weights=w**2)), 1.0


def _fit_edges(
    integ: Integrator, busy: BusyPattern, edges: list[_Edge], prior: ClockFit, period_s: float,
    averaging_s: float,
    span_s: float, coarse: bool,
) -> tuple[ClockFit | None, int]:
    """Locate the edges around the ``prior`` mapping and fit a line; None when none resolve."""
    pad = (MAX_RATE_ERROR * span_s / 2.0 + 4.0 * period_s) if coarse else 0.0
    base_r = max(3.0 * period_s + averaging_s, 0.005) + pad
    points: list[tuple[float, float, float]] = []
    for edge in edges:
        quiet = min(edge.quiet_s, edge.busy_s)
        radius = min(base_r, 0.4 * quiet)
        guard = min(0.45 * quiet - radius, 1.0)
        if radius <= period_s or guard < 2.0 * period_s or (coarse and radius < base_r):
            continue  # (a short pulse cannot be searched for as widely as the coarse guess needs)
        found = locate_edge(integ, busy, edge, prior, radius, guard, period_s, averaging_s)
        if found is not None:  # second pass, tighter, around the first estimate
            r2 = max(min(radius, 4.0 * found[1] + 2.0 * period_s + averaging_s), 1.5 * period_s)
            tight = ClockFit("", found[0] - prior.rate * edge.host_s, prior.rate)
            found = locate_edge(integ, busy, edge, tight, r2, guard, period_s, averaging_s) or found
        if found is not None:
            points.append((edge.host_s, found[0], found[1]))
    if not points:
        return None, 0
    h, m, s = (np.array(c) for c in zip(*points, strict=True))
    fit_rate = len(points) >= 3 and float(np.ptp(h)) >= 0.3 * span_s
    for _ in range(3):  # drop outliers (a spike near an edge), refit
        offset_s, rate = _robust_line(h, m, 1.0 / s, fit_rate)
        resid = m - (offset_s + rate * h)
        scale = max(1.4826 * float(np.median(np.abs(resid - np.median(resid)))), float(np.median(s)))
        keep = np.abs(resid) <= 5.0 * scale
        if keep.all() or keep.sum() < 2:
            break
        h, m, s = h[keep], m[keep], s[keep]
        fit_rate = h.size >= 3 and float(np.ptp(h)) >= 0.3 * span_s
    offset_s, rate = _robust_line(h, m, 1.0 / s, fit_rate)
    resid = m - (offset_s + rate * h)
    rms = float(np.sqrt(np.mean(resid**2))) if h.size > 1 else float(s[0])
    return ClockFit("", offset_s, rate, max(rms, float(np.median(s))), int(h.size)), int(h.size)


def _from_syncs(events: EventLog) -> ClockFit:
    h = np.array([p[0] for p in events.syncs])
    m = np.array([p[1] for p in events.syncs])
    if h.size >= 2 and np.ptp(h) > 0:
        rate, offset = np.polyfit(h, m, 1)
    else:
        rate, offset = 1.0, float(np.mean(m - h))
    resid = m - (offset + rate * h)
    rms = float(np.sqrt(np.mean(resid**2)))
    return ClockFit("sync points", float(offset), float(rate), rms, int(h.size))


def align_clock(
    integ: Integrator, events: EventLog, *, clock: str, period_s: float, averaging_s: float
) -> tuple[ClockFit, list[str]]:
    """The meter -> host mapping for a trace, and notes about what was corrected.

    ``integ`` integrates the trace on its own timestamps. A ``host``-clock trace keeps the
    identity unless enough edges resolve to measure a lag; a ``meter``-clock trace without sync
    points must resolve at least one edge, else ``EnergyRefused('clock')``.
    """
    if events.syncs:
        synced = _from_syncs(events)
        return synced, [_describe(synced)]
    busy = BusyPattern(events)
    edges = _expected_edges(events, busy)
    h0, h1 = events.span_s()
    span = h1 - h0
    if clock == "host":
        found, n = _fit_edges(integ, busy, edges, ClockFit("identity"), period_s, averaging_s, span,
                              False)
        if n * 2 < len(edges):  # most edges are not where the host clock puts them: look wider
            try:
                wide, notes = _meter_clock(integ, events, busy, edges, period_s, averaging_s, span)
            except EnergyRefused:
                wide = None
            if wide is not None and wide.n_points > n:
                return wide, [
                    "clock: the trace says its timestamps are the host's, but its power edges do "
                    "not line up with the events; aligned as a meter clock", *notes]
        if found is None or n < 4 or not _significant(found, edges):
            return ClockFit("host clock (declared), identity", n_points=n), []
        refined = ClockFit("host clock, refined on power edges", found.offset_s, found.rate,
                           found.residual_s, n)
        return refined, [_describe(refined)] if abs(refined.offset_s) > 2 * period_s else []
    fit, notes = _meter_clock(integ, events, busy, edges, period_s, averaging_s, span)
    return fit, notes


def _significant(fit: ClockFit, edges: list[_Edge]) -> bool:
    """Whether a fit differs from the identity by more than 3 standard errors (an insignificant
    correction of a host-clocked trace would only add noise, e.g. to the aliasing phases)."""
    h = np.array([e.host_s for e in edges])
    se_offset = fit.residual_s / math.sqrt(max(fit.n_points, 1))
    se_rate = se_offset / max(float(np.std(h)), 1e-9)
    moved_s = abs(fit.offset_s + (fit.rate - 1.0) * float(np.mean(h)))
    return moved_s > 3.0 * se_offset or abs(fit.rate - 1.0) > 3.0 * se_rate


def _meter_clock(
    integ: Integrator, events: EventLog, busy: BusyPattern, edges: list[_Edge], period_s: float,
    averaging_s: float, span: float,
) -> tuple[ClockFit, list[str]]:
    """Coarse offset by correlation, then edges around it, then edges around the fitted line."""
    offset0 = _coarse_offset(integ, events, period_s)
    fit, _ = _fit_edges(integ, busy, edges, ClockFit("coarse", offset0), period_s, averaging_s,
                        span, True)
    if fit is not None:  # once more around the fitted line (the coarse guess ignores skew)
        again, _ = _fit_edges(integ, busy, edges, fit, period_s, averaging_s, span, False)
        fit = again if again is not None and again.n_points >= fit.n_points else fit
    if fit is None:
        raise EnergyRefused(
            "clock",
            "the trace runs on the meter's own clock and neither sync events nor resolvable power "
            "edges (marker pulses, window starts and ends) tie it to the host clock; record "
            "marker pulses or sync points, or record with a host-clocked meter",
        )
    method = "power edges" + (" (markers and windows)" if events.markers else " (windows)")
    fit = ClockFit(method, fit.offset_s, fit.rate, fit.residual_s, fit.n_points)
    return fit, [_describe(fit)]


def _describe(fit: ClockFit) -> str:
    skew = (fit.rate - 1.0) * 100.0
    return (
        f"clock: meter time = {fit.offset_s:+.6f} s + {fit.rate:.6f} x host time from "
        f"{fit.n_points} {fit.method} (meter {'fast' if skew > 0 else 'slow'} by {abs(skew):.3f} %, "
        f"residual {fit.residual_s * 1e3:.3f} ms); corrected"
    )
