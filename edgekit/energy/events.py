"""The inference event log: when each window, idle segment and inference ran, on the host clock.

JSON Lines: a header object first (``"format": "edgekit-events/1"`` plus provenance and the
attribution settings used live), then one event per line. Events (times in host monotonic
seconds):

- ``{"event": "idle", "start_s", "end_s"}``: nothing ran; idle power is measured here.
- ``{"event": "window", "index", "start_s", "end_s"}``: a measurement window.
- ``{"event": "inference", "start_s", "end_s"}`` or ``{"event": "batch", ..., "n": N}``: one
  inference, or N back to back whose boundaries were not timestamped one by one.
- ``{"event": "marker", "start_s", "end_s"}``: a deliberate full-load pulse for clock alignment.
- ``{"event": "sync", "host_s", "meter_s"}``: one host <-> meter clock correspondence.
- ``{"event": "env", "t_s", ...}``: governor, frequency, temperature at that moment.
- ``{"event": "end", "t_s"}``: the recording is complete (a log without it was cut short).

``docs/energy-files.md`` is the reference. ``EventRecorder`` builds a log as a run goes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import DataError

__all__ = ["EVENTS_FORMAT", "EventLog", "EventRecorder", "read_events", "write_events"]

EVENTS_FORMAT = "edgekit-events/1"
_INTERVAL_EVENTS = ("idle", "window", "inference", "batch", "marker")


@dataclass
class EventLog:
    """A parsed event log. Calls (inferences and batches) are arrays sorted by start."""

    header: dict[str, Any] = field(default_factory=dict)
    idle: list[tuple[float, float]] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)
    call_start_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    call_end_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    call_n: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    markers: list[tuple[float, float]] = field(default_factory=list)
    syncs: list[tuple[float, float]] = field(default_factory=list)
    env: list[dict[str, Any]] = field(default_factory=list)
    end_s: float | None = None
    source: str = "events"
    call_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def complete(self) -> bool:
        return self.end_s is not None

    @property
    def n_inferences(self) -> int:
        return int(self.call_n.sum())

    def where_call(self, i: int) -> str:
        """``file:line`` of call ``i`` when read from a file."""
        if self.call_lines.size > i and self.call_lines[i] > 0:
            return f"{self.source}:{int(self.call_lines[i])}"
        return f"{self.source} (call {i} at {self.call_start_s[i]:.6f} s)"

    def span_s(self) -> tuple[float, float]:
        """First and last instant any event covers."""
        starts = [s for s, _ in self.idle + self.windows + self.markers]
        ends = [e for _, e in self.idle + self.windows + self.markers]
        if not starts:
            raise DataError(f"{self.source}: no idle or window events")
        return min(starts), max(ends)


class EventRecorder:
    """Collects events as a run goes; ``log()`` gives the ``EventLog``, ``write()`` the file."""

    def __init__(self, header: dict[str, Any] | None = None) -> None:
        self.header: dict[str, Any] = dict(header or {})
        self._idle: list[tuple[float, float]] = []
        self._windows: list[tuple[float, float]] = []
        self._calls: list[tuple[float, float, int]] = []
        self._markers: list[tuple[float, float]] = []
        self._syncs: list[tuple[float, float]] = []
        self._env: list[dict[str, Any]] = []
        self._end: float | None = None

    def idle(self, start_s: float, end_s: float) -> None:
        self._idle.append((start_s, end_s))

    def window(self, start_s: float, end_s: float) -> None:
        self._windows.append((start_s, end_s))

    def call(self, start_s: float, end_s: float, n: int = 1) -> None:
        self._calls.append((start_s, end_s, n))

    def marker(self, start_s: float, end_s: float) -> None:
        self._markers.append((start_s, end_s))

    def sync(self, host_s: float, meter_s: float) -> None:
        self._syncs.append((host_s, meter_s))

    def env(self, t_s: float, values: dict[str, Any]) -> None:
        self._env.append({"t_s": t_s, **values})

    def end(self, t_s: float) -> None:
        self._end = t_s

    def log(self) -> EventLog:
        calls = sorted(self._calls)
        return EventLog(
            header=dict(self.header),
            idle=sorted(self._idle),
            windows=sorted(self._windows),
            call_start_s=np.array([c[0] for c in calls], dtype=np.float64),
            call_end_s=np.array([c[1] for c in calls], dtype=np.float64),
            call_n=np.array([c[2] for c in calls], dtype=np.int64),
            markers=sorted(self._markers),
            syncs=sorted(self._syncs),
            env=sorted(self._env, key=lambda e: e["t_s"]),
            end_s=self._end,
            source="recorded run",
        )


def _records(log: EventLog) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    out += [{"event": "idle", "start_s": s, "end_s": e} for s, e in log.idle]
    out += [
        {"event": "window", "index": i, "start_s": s, "end_s": e}
        for i, (s, e) in enumerate(log.windows)
    ]
    for s, e, n in zip(log.call_start_s.tolist(), log.call_end_s.tolist(), log.call_n.tolist(),
                       strict=True):
        out.append(
            {"event": "inference", "start_s": s, "end_s": e}
            if n == 1
            else {"event": "batch", "start_s": s, "end_s": e, "n": n}
        )
    out += [{"event": "marker", "start_s": s, "end_s": e} for s, e in log.markers]
    out += [{"event": "sync", "host_s": h, "meter_s": m} for h, m in log.syncs]
    out += [{"event": "env", **e} for e in log.env]
    out.sort(key=lambda r: r.get("start_s", r.get("t_s", r.get("host_s", 0.0))))
    if log.end_s is not None:
        out.append({"event": "end", "t_s": log.end_s})
    return out


def write_events(log: EventLog, path: str | Path) -> Path:
    """Write the log as JSON Lines (header first); floats keep full precision."""
    p = Path(path)
    with p.open("w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps({"format": EVENTS_FORMAT, **log.header}, allow_nan=False) + "\n")
        for record in _records(log):
            f.write(json.dumps(record, allow_nan=False) + "\n")
    return p


def _number(rec: dict[str, Any], key: str, where: str) -> float:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"{where}: {rec.get('event')!r} needs a finite number {key!r}, got {value!r}")
    return float(value)


def read_events(path: str | Path) -> EventLog:
    """Read an event log; ``DataError`` naming file and line for anything malformed."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()  # a leading BOM is not an error
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot read event log ({e})") from e
    rec = EventRecorder()
    lines_of_calls: list[tuple[float, int]] = []
    header_seen = False
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: not JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}: each line must be a JSON object")
        if not header_seen:
            if obj.get("format") != EVENTS_FORMAT:
                raise DataError(
                    f"{where}: the first line must be the header with "
                    f'"format": "{EVENTS_FORMAT}", got {obj.get("format")!r}'
                )
            rec.header = {k: v for k, v in obj.items() if k != "format"}
            header_seen = True
            continue
        kind = obj.get("event")
        if kind in _INTERVAL_EVENTS:
            start, end = _number(obj, "start_s", where), _number(obj, "end_s", where)
            if end < start:
                raise DataError(f"{where}: {kind} ends ({end}) before it starts ({start})")
            if kind == "idle":
                rec.idle(start, end)
            elif kind == "window":
                rec.window(start, end)
            elif kind == "marker":
                rec.marker(start, end)
            else:
                n = obj.get("n", 1) if kind == "batch" else 1
                if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                    raise DataError(f"{where}: batch needs an integer n >= 1, got {n!r}")
                rec.call(start, end, n)
                lines_of_calls.append((start, lineno))
        elif kind == "sync":
            rec.sync(_number(obj, "host_s", where), _number(obj, "meter_s", where))
        elif kind == "env":
            t = _number(obj, "t_s", where)
            rec.env(t, {k: v for k, v in obj.items() if k not in ("event", "t_s")})
        elif kind == "end":
            rec.end(_number(obj, "t_s", where))
        else:
            accepted = ", ".join([*_INTERVAL_EVENTS, "sync", "env", "end"])
            raise DataError(f"{where}: unknown event {kind!r}; accepted: {accepted}")
    if not header_seen:
        raise DataError(f"{p}: empty event log (no header line)")
    log = rec.log()
    log.source = str(p)
    log.call_lines = np.array([ln for _, ln in sorted(lines_of_calls)], dtype=np.int64)
    return log
