"""Replay a recorded run: ``replay:DIR``, ``replay:FILE.power.csv``, ``replay:power=..,events=..``.

A recording is a power trace *and* its inference event log (``edgekit bench --record DIR``
writes both). Its energy figure comes from attributing that trace to those events
(``recording_for(variant)`` -> ``attribute``), never from inferences run live on whatever host
replays it: trace power x this host's inference rate is no figure at all. A trace without events
can still be read sample by sample (``read``, e.g. to check a meter's plausibility), but gives no
energy (``EnergyRefused('replay')``). Its kind follows ``provenance.recording_provenance``:
measured only with a physical meter, the board and the bundle ID named in the header.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.energy.events import EventLog, read_events
from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, PowerSample, parse_spec
from edgekit.energy.provenance import recording_provenance
from edgekit.energy.recording import (
    EVENTS_SUFFIX,
    POWER_SUFFIX,
    Recording,
    find_recording,
    read_recording,
)
from edgekit.energy.result import EnergyRefused
from edgekit.energy.tracefile import PowerTrace, read_trace
from edgekit.errors import DataError, MeterError

__all__ = ["KEYS", "ReplayMeter", "open_spec"]

KEYS = frozenset({"path", "power", "events", "variant"})


class ReplayMeter:
    """A recording (or a bare trace) opened for replay; ``read`` plays the trace on the clock."""

    def __init__(
        self, power: Path, events: Path | None, roots: MeterRoots, *, spec: str,
        folder: Path | None = None,
    ) -> None:
        self.power_path, self.events_path, self.folder = power, events, folder
        self.trace: PowerTrace = read_trace(power)
        self._clock = roots.clock
        t = self.trace.timestamps_s
        diffs = np.diff(t)
        self._period_s = float(np.median(diffs[diffs > 0])) if np.any(diffs > 0) else 1.0
        self._offset_s = self._clock.monotonic() - float(t[0])
        header = self.trace.header
        events_header = None
        self._events: EventLog | None = None
        if events is not None:
            self._events = read_events(events)
            events_header = self._events.header
        self.provenance = recording_provenance(header, events_header, f"replay:{power}")
        kind = self.provenance.kind if events is not None else "unverified"
        self._info = MeterInfo(
            name="replay",
            spec=spec,
            kind=kind,  # type: ignore[arg-type]
            sample_rate_hz=header.sample_rate_hz or 1.0 / self._period_s,
            resolution_w=header.resolution_w,
            measures=header.measures or "recorded trace",
            notes=(f"replay of {power.name} ({len(t)} samples, meter {header.meter or 'unnamed'})"
                   + (f" with {events.name}" if events else ", NO event log: gives no energy")
                   + f"; {self.provenance.reason}"),
            averaging_s=header.averaging_s,
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    @property
    def recording(self) -> Recording | None:
        """The recording opened (None without an event log)."""
        if self._events is None:
            return None
        return Recording(self.trace, self._events)

    def recording_for(self, variant: str | None) -> Recording:
        """The recording of ``variant`` (from the folder, when one was given), with its events."""
        power, events = self.power_path, self.events_path
        if self.folder is not None and power.name != f"{variant}{POWER_SUFFIX}":
            try:  # the variant's own recording; without a name, only an unambiguous folder
                power, events = find_recording(self.folder, variant)
            except DataError as e:
                raise MeterError(f"replay: {e}") from e
        if events is None:
            raise EnergyRefused(
                "replay",
                f"{power} has no event log ({power.name.removesuffix(POWER_SUFFIX)}{EVENTS_SUFFIX} "
                "is missing): a trace without its inference events cannot give an energy figure; "
                "record with edgekit bench --record DIR",
            )
        if (power, events) == (self.power_path, self.events_path) and self._events is not None:
            return Recording(self.trace, self._events)
        return read_recording(power, events)

    def read(self) -> PowerSample:
        now_s = self._clock.monotonic()
        t = self.trace.timestamps_s + self._offset_s
        i = int(np.searchsorted(t, now_s, side="right")) - 1
        if i < 0:
            raise MeterError("replay: the trace has no sample before now")
        if now_s > t[-1] + 2 * self._period_s:
            raise MeterError(f"replay: trace exhausted after {t[-1] - t[0]:.3f} s")
        tr = self.trace
        voltage = None if tr.voltage_v is None else float(tr.voltage_v[i])
        current = None if tr.current_a is None else float(tr.current_a[i])
        return PowerSample(float(t[i]), float(tr.power_w[i]), voltage, current)

    def close(self) -> None:
        pass


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open ``replay:DIR`` / ``replay:FILE`` / ``replay:power=..,events=..`` / ``..,variant=..``."""
    args = parse_spec(spec, KEYS, positional="path")
    path = args.positional or args.get_str("path")
    power = args.get_str("power")
    events = args.get_str("events")
    variant = args.get_str("variant")
    if not path and not power:
        raise MeterError(f"meter spec {spec!r}: replay needs a recording folder or a trace file "
                         "(replay:DIR, replay:FILE.power.csv, replay:power=..,events=..)")
    try:
        if power:
            ev = Path(events) if events else None
            return ReplayMeter(Path(power), ev, roots, spec=spec)
        p = Path(str(path))
        if p.is_dir():
            power_path, events_path = find_recording(p, variant) if variant else _first(p)
            return ReplayMeter(power_path, events_path, roots, spec=spec, folder=p)
        if events is None and p.name.endswith(POWER_SUFFIX):
            sibling = p.with_name(p.name.removesuffix(POWER_SUFFIX) + EVENTS_SUFFIX)
            events = str(sibling) if sibling.is_file() else None
        return ReplayMeter(p, Path(events) if events else None, roots, spec=spec)
    except DataError as e:
        raise MeterError(f"meter spec {spec!r}: {e}") from e


def _first(folder: Path) -> tuple[Path, Path | None]:
    """The folder's only recording, or its first by name (``recording_for`` picks per variant)."""
    traces = sorted(folder.glob(f"*{POWER_SUFFIX}"))
    if not traces:
        raise DataError(f"{folder}: no *{POWER_SUFFIX} recording in this folder")
    name = traces[0].name.removesuffix(POWER_SUFFIX)
    return find_recording(folder, name)
