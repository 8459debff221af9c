"""Energy per inference, continuously: rolling windows attributed the way ``edgekit bench``
does it (``energy.attribution``), without stopping the daemon to measure idle.

Per window of ``window_s`` (10 s by default, as bench): power is integrated over the window
with ``integrate_energy_j`` (trapezoid on the meter's samples, edges interpolated) and divided
by the inferences that ran in it (total energy per inference, idle share included, the figure
bench calls ``energy_per_inference_mj``). Idle power is measured in the same window, over the
gaps between inferences (the daemon cannot pause to measure it before and after as bench
does), and dynamic energy per inference is ``(E - P_idle * T) / n``. ``window_uncertainty_j``
bounds what the meter could not resolve. A window is *resolved* only with at least
``min_samples`` samples, a sample past its end, and one inference; otherwise it is counted and
reported as unresolved, never guessed. Every window carries the meter's provenance.

A meter can hand over a reading that is not a number (NaN, infinity: a parser taking ``1e999``,
a driver's garbage) or values so large their integral overflows. Such a window is *invalid*:
unresolved, its ``why`` starting with ``INVALID_WHY`` and naming how many readings were not
finite, with no figure at all. Interpolating over the bad readings would make a number up.

A window closes only once the readings covering it are in: a reading after its end arrived
(readings come in order), or a whole further window passed without one (then it closes
unresolved). While waiting, the daemon is not woken on a timer when the readings come in its
own events (the link meter's POWER batches: each one wakes the loop anyway); a meter sampled
by a thread (``recheck_s``) is looked at again at that interval.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.energy.integrate import integrate_energy_j, window_uncertainty_j
from edgekit.energy.meters.base import MeterInfo, TraceSource

__all__ = ["INVALID_WHY", "EnergyWindow", "RollingEnergy"]

INVALID_WHY = "invalid meter readings"
"""How the ``why`` of a window unresolved for non-finite readings or figures begins."""


@dataclass(frozen=True)
class EnergyWindow:
    """One rolling window's attribution (energies in joules, per inference unless named)."""

    start_s: float
    duration_s: float
    n_inferences: int
    n_samples: int
    resolved: bool
    why: str
    energy_j: float | None = None
    energy_per_inference_j: float | None = None
    idle_power_w: float | None = None
    dynamic_energy_per_inference_j: float | None = None
    uncertainty_per_inference_j: float | None = None
    meter: str = ""
    kind: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class RollingEnergy:
    """Attributes a meter's samples to the inferences noted with ``note_inference``."""

    def __init__(
        self,
        source: TraceSource,
        info: MeterInfo,
        *,
        window_s: float = 10.0,
        min_samples: int = 20,
        start_s: float,
        recheck_s: float | None = None,
    ) -> None:
        self.source = source
        self.info = info
        self.window_s = window_s
        self.min_samples = min_samples
        self.recheck_s = recheck_s
        self._t0 = start_s
        self._spans: deque[tuple[float, float]] = deque()
        self.last: EnergyWindow | None = None
        self.last_resolved: EnergyWindow | None = None

    @property
    def provenance(self) -> str:
        word = "ESTIMATED" if self.info.kind == "estimated" else "measured"
        return (
            f"{word} by {self.info.name} ({self.info.spec}), rolling {self.window_s:g} s windows, "
            "idle power from the gaps between inferences"
        )

    def note_inference(self, start_s: float, end_s: float) -> None:
        """An inference ran from ``start_s`` to ``end_s`` (host monotonic seconds)."""
        self._spans.append((start_s, end_s))

    def seconds_until_due(self, now_s: float) -> float:
        """How long until ``poll`` may close the window: its end; past it, at once when a
        reading after the end is in, else the give-up time (or ``recheck_s``, if sooner)."""
        t1 = self._t0 + self.window_s
        if now_s < t1:
            return t1 - now_s
        if self.source.count_between(t1, math.inf) > 0:
            return 0.0
        give_up_s = max(0.0, t1 + self.window_s - now_s)
        return give_up_s if self.recheck_s is None else min(self.recheck_s, give_up_s)

    def poll(self, now_s: float) -> EnergyWindow | None:
        """Close the current window when it is over and the meter has a sample past its end."""
        t0, t1 = self._t0, self._t0 + self.window_s
        if now_s < t1:
            return None
        if self.source.count_between(t1, math.inf) == 0 and now_s < t1 + self.window_s:
            return None  # wait (at most one more window) for a sample after the edge
        spans = []
        while self._spans and self._spans[0][0] < t1:
            start, end = self._spans.popleft()
            if end > t0:
                spans.append((max(start, t0), min(end, t1)))
        self._t0 = t1 if now_s < t1 + self.window_s else now_s  # skip windows nobody polled
        window = self._attribute(t0, t1, spans)
        self.last = window
        if window.resolved:
            self.last_resolved = window
        return window

    def _attribute(self, t0: float, t1: float, spans: list[tuple[float, float]]) -> EnergyWindow:
        n = len(spans)
        n_samples = self.source.count_between(t0, t1)
        base: dict[str, Any] = {
            "start_s": t0,
            "duration_s": t1 - t0,
            "n_inferences": n,
            "n_samples": n_samples,
            "meter": self.info.name,
            "kind": self.info.kind,
        }
        if n == 0:
            return EnergyWindow(resolved=False, why="no inference in the window", **base)
        if n_samples < self.min_samples:
            return EnergyWindow(
                resolved=False, why=f"{n_samples} meter samples, need >= {self.min_samples}", **base
            )
        if self.source.count_between(t1, math.inf) == 0:
            return EnergyWindow(resolved=False, why="no meter sample after the window's end", **base)
        samples = self.source.samples_between(t0, t1)
        bad = int(np.count_nonzero(~np.isfinite(samples.power_w)))
        if bad:
            return EnergyWindow(
                resolved=False,
                why=f"{INVALID_WHY}: {bad} of the {len(samples.power_w)} used not finite (NaN or infinity)",
                **base,
            )
        # huge readings may overflow to infinity: checked below, so numpy need not warn
        with np.errstate(over="ignore", invalid="ignore"):
            energy_j = integrate_energy_j(samples, t0, t1)
            busy_s = sum(e - s for s, e in spans)
            gap_j, gap_s, cursor = 0.0, 0.0, t0
            for s, e in [*spans, (t1, t1)]:
                if s > cursor:
                    gap_j += integrate_energy_j(samples, cursor, s)
                    gap_s += s - cursor
                cursor = max(cursor, e)
            idle_w = gap_j / gap_s if gap_s > 0 else energy_j / (t1 - t0)
            dynamic_j = (energy_j - idle_w * (t1 - t0)) / n
            uncertainty_j = window_uncertainty_j(samples, t0, t1)
        if not all(map(math.isfinite, (energy_j, idle_w, dynamic_j, uncertainty_j))):
            # finite readings whose sum overflows (a meter reporting ~1e308 W)
            return EnergyWindow(
                resolved=False, why=f"{INVALID_WHY}: the energy overflows (readings too large)", **base
            )
        return EnergyWindow(
            resolved=True,
            why=f"{n} inferences busy {busy_s * 1e3:.1f} ms of {t1 - t0:.1f} s",
            energy_j=energy_j,
            energy_per_inference_j=energy_j / n,
            idle_power_w=idle_w,
            dynamic_energy_per_inference_j=dynamic_j,
            uncertainty_per_inference_j=uncertainty_j / n,
            **base,
        )
