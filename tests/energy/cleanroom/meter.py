"""A meter sampling the board as docs/energy-files.md describes, and the two files it leaves.

Point samples or averaging (``averaging_s``, ``delay_s``), power or voltage and current columns
in any documented unit, timestamp jitter, a meter clock with offset and skew (``clock=meter``,
optionally with ``sync`` events), dropped samples, and the quantisation of a real INA219 / INA226
(bus-voltage LSB 4 mV / 1.25 mV, a chosen current LSB, power register LSB 20 / 25 x current LSB).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .scenario import Schedule

__all__ = ["Meter", "Recording", "record", "sample", "write_events", "write_trace"]

# (bus-voltage LSB V, power LSB as a multiple of the current LSB), from the TI data sheets
INA_LSB = {"ina219": (0.004, 20.0), "ina226": (0.00125, 25.0)}
TIME_SCALE = {"timestamp_s": 1.0, "timestamp_ms": 1e3, "timestamp_us": 1e6, "timestamp_ns": 1e9}
UNIT_SCALE = {"power_w": 1.0, "power_mw": 1e3, "power_uw": 1e6, "voltage_v": 1.0, "voltage_mv": 1e3,
              "current_a": 1.0, "current_ma": 1e3, "current_ua": 1e6}


@dataclass(frozen=True)
class Meter:
    rate_hz: float = 1000.0
    averaging: bool = False          # True: each sample is the mean over the last averaging_s
    averaging_s: float | None = None  # default: one sample period
    delay_s: float = 0.0
    noise_w: float = 0.01            # white noise on each reading
    ina: str | None = None           # "ina219" / "ina226": quantise like that chip
    current_lsb_a: float = 0.0001
    supply_v: float = 5.1
    columns: tuple[str, ...] = ("timestamp_s", "power_w")
    jitter_s: float = 0.0            # timestamp jitter (clipped to a third of a period)
    drop_p: float = 0.0              # each sample lost with this probability
    clock: str = "host"              # "host" or "meter"
    clock_line: bool = True          # write the `clock` header line
    offset_s: float = 0.0            # meter = offset + rate * host
    skew: float = 0.0                # rate = 1 + skew
    sync: int = 0                    # number of `sync` events to log
    header: dict[str, str] = field(default_factory=dict)  # extra `# key=value` lines


@dataclass
class Recording:
    power: Path
    events: Path
    schedule: Schedule
    meter: Meter


def sample(sched: Schedule, m: Meter, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Reported timestamps (meter or host clock, seconds) and true power readings (W)."""
    rate = 1.0 + m.skew
    period = 1.0 / m.rate_hz
    # the meter ticks evenly on its own clock; host time of each tick inverts meter = off + rate*host
    # the meter's first tick falls at a random phase against the host's events, as a real one does
    m_start = m.offset_s + rate * sched.start_s + rng.uniform(0.0, period)
    m_end = m.offset_s + rate * sched.end_s
    ticks = m_start + period * np.arange(int((m_end - m_start) / period) + 1)
    host = (ticks - m.offset_s) / rate
    taken = host - m.delay_s / rate  # the reading belongs to delay_s before its timestamp
    if m.averaging:
        a = (m.averaging_s if m.averaging_s is not None else period) / rate
        p = sched.model.mean_power(taken - a, taken)
    else:
        p = sched.model.power_at(taken)
    p = p + rng.normal(0.0, m.noise_w, p.shape) if m.noise_w else p
    stamp = ticks if m.clock == "meter" else host
    if m.jitter_s:
        stamp = stamp + np.clip(rng.normal(0.0, m.jitter_s, stamp.shape), -period / 3, period / 3)
    if m.drop_p:
        keep = rng.random(stamp.shape) >= m.drop_p
        stamp, p = stamp[keep], p[keep]
    return stamp, p


def _columns(m: Meter, p: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Values of every quantity in SI units, quantised like the chip when one is named."""
    v = np.full(p.shape, m.supply_v)
    i = p / v
    if m.ina:
        v_lsb, p_mult = INA_LSB[m.ina]
        v = np.round(v / v_lsb) * v_lsb
        i = np.round(i / m.current_lsb_a) * m.current_lsb_a
        p_lsb = p_mult * m.current_lsb_a
        p = np.round(v * i / p_lsb) * p_lsb
    return {"power": p, "voltage": v, "current": i}


def write_trace(path: Path, stamp: np.ndarray, p: np.ndarray, m: Meter, rng: np.random.Generator,
                header: dict[str, str]) -> None:
    vals = _columns(m, p, rng)
    cols = []
    for name in m.columns:
        if name.startswith("timestamp"):
            cols.append(stamp * TIME_SCALE[name])
        else:
            cols.append(vals[name.split("_")[0]] * UNIT_SCALE[name])
    lines = [f"# {k}={v}" for k, v in header.items()]
    lines.append(",".join(m.columns))
    table = np.column_stack(cols)
    body = "\n".join(",".join(f"{x:.17g}" for x in row) for row in table.tolist())
    path.write_text("\n".join(lines) + "\n" + body + "\n")


def write_events(path: Path, header: dict[str, object], events: list[dict[str, object]]) -> None:
    with path.open("w") as fh:
        fh.write(json.dumps(header) + "\n")
        for ev in events:
            fh.write(json.dumps(ev) + "\n")


def record(sched: Schedule, m: Meter, rng: np.random.Generator, folder: Path, name: str = "run",
           events_header: dict[str, object] | None = None) -> Recording:
    """Write ``<name>.power.csv`` and ``<name>.events.jsonl`` for this schedule and meter."""
    stamp, p = sample(sched, m, rng)
    header: dict[str, str] = {"format": "edgekit-power-trace/1", "kind": "measured",
                              "meter": m.ina or "ina260", "sample_rate_hz": repr(m.rate_hz),
                              "board": "rpi4b"}
    if m.averaging:
        header["averaging_s"] = repr(m.averaging_s if m.averaging_s is not None else 1.0 / m.rate_hz)
    if m.delay_s:
        header["delay_s"] = repr(m.delay_s)
    if m.clock_line:
        header["clock"] = m.clock
    header.update(m.header)
    header = {k: v for k, v in header.items() if v is not None}
    trace = folder / f"{name}.power.csv"
    write_trace(trace, stamp, p, m, rng, header)
    events = list(sched.events)
    if m.sync:
        rate = 1.0 + m.skew
        for h in np.linspace(sched.start_s + 0.5, sched.end_s - 0.5, m.sync):
            events.append({"event": "sync", "host_s": float(h), "meter_s": float(m.offset_s + rate * h)})
    eh: dict[str, object] = {"format": "edgekit-events/1", "meter": header["meter"], "board": "rpi4b",
                             "mode": "back-to-back", "dither": True}
    if events_header:
        eh.update(events_header)
    ev = folder / f"{name}.events.jsonl"
    write_events(ev, eh, events)
    return Recording(trace, ev, sched, m)
