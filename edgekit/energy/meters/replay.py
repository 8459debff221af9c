"""Play a recorded power trace back as a meter: ``replay:trace.csv`` / ``replay:path=..,loop=1``.

The CSV (``timestamp_s,power_w[,voltage_v,current_a]``, optional ``# key=value`` metadata lines)
is laid on the injected clock: trace time 0 is the clock's time when the meter opens, unless
``align=absolute`` keeps the trace's own timestamps. Only samples up to the clock's "now" are
visible, as with a live meter; with a ``VirtualClock`` attribution runs without sleeping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.energy.meters.base import (
    Meter,
    MeterInfo,
    MeterRoots,
    PowerSample,
    SampleArrays,
    parse_spec,
)
from edgekit.energy.simulate import Trace
from edgekit.errors import MeterError

__all__ = ["KEYS", "ReplayMeter", "open_spec"]

KEYS = frozenset({"path", "loop", "align"})


class ReplayMeter:
    """A ``Trace`` played against a clock."""

    def __init__(
        self,
        trace: Trace,
        roots: MeterRoots,
        *,
        spec: str = "replay",
        loop: bool = False,
        align: str = "start",
    ) -> None:
        self.trace = trace
        self._clock = roots.clock
        self._loop = loop
        t = trace.timestamps_s
        self._period_s = float(np.median(np.diff(t)))
        self._span_s = float(t[-1] - t[0]) + self._period_s
        self._offset_s = self._clock.monotonic() - float(t[0]) if align == "start" else 0.0
        self._shifted_s = t + self._offset_s  # computed once: reads must stay cheap at 1 kHz
        rate_hz = 1.0 / self._period_s if self._period_s > 0 else 0.0
        kind = trace.meta.get("kind", "measured")
        self._info = MeterInfo(
            name="replay",
            spec=spec,
            kind="estimated" if kind == "estimated" else "measured",
            sample_rate_hz=rate_hz,
            resolution_w=None,
            measures=trace.meta.get("measures", "recorded trace"),
            notes=f"replay of {len(t)} samples over {self._span_s:.3f} s"
            + (", looped" if loop else ""),
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    def _timeline(self, until_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Shifted timestamps and powers up to ``until_s`` (repeating the trace when looping)."""
        t = self._shifted_s
        p = self.trace.power_w
        if self._loop and until_s > t[-1]:
            repeats = int((until_s - t[0]) // self._span_s) + 1
            t = np.concatenate([t + k * self._span_s for k in range(repeats)])
            p = np.tile(p, repeats)
        n = int(np.searchsorted(t, until_s, side="right"))
        return t[:n], p[:n]

    def samples_between(self, t0_s: float, t1_s: float) -> SampleArrays:
        t, p = self._timeline(self._clock.monotonic())
        lo = max(int(np.searchsorted(t, t0_s, side="left")) - 1, 0)
        hi = min(int(np.searchsorted(t, t1_s, side="right")) + 1, len(t))
        return SampleArrays(t[lo:hi].copy(), p[lo:hi].copy())

    def count_between(self, t0_s: float, t1_s: float) -> int:
        t, _ = self._timeline(self._clock.monotonic())
        return int(np.searchsorted(t, t1_s, "right") - np.searchsorted(t, t0_s, "left"))

    def read(self) -> PowerSample:
        now_s = self._clock.monotonic()
        t, p = self._timeline(now_s)
        if len(t) == 0:
            raise MeterError("replay: the trace has no sample before now")
        if not self._loop and now_s > t[-1] + 2 * self._period_s:
            raise MeterError(f"replay: trace exhausted at {t[-1] - self._offset_s:.3f} s")
        i = len(t) - 1
        index = i % len(self.trace.timestamps_s)
        voltage = None if self.trace.voltage_v is None else float(self.trace.voltage_v[index])
        current = None if self.trace.current_a is None else float(self.trace.current_a[index])
        return PowerSample(float(t[i]), float(p[i]), voltage, current)

    def close(self) -> None:
        pass


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open ``replay:<csv path>``."""
    args = parse_spec(spec, KEYS, positional="path")
    path = args.positional or args.get_str("path")
    if not path:
        raise MeterError(f"meter spec {spec!r}: replay needs a CSV path (replay:trace.csv)")
    align = args.get_str("align", "start") or "start"
    if align not in ("start", "absolute"):
        raise MeterError(f"meter spec {spec!r}: align={align!r} is not 'start' or 'absolute'")
    loop = (args.get_str("loop", "0") or "0").lower() in ("1", "true", "yes")
    return ReplayMeter(Trace.read_csv(Path(path)), roots, spec=spec, loop=loop, align=align)
