"""The power-trace file: timestamped power (or voltage and current) with a header of provenance.

A CSV whose ``# key=value`` lines come first (format, kind, meter, sample rate, averaging, clock,
board, bundle ID, variant) and whose column names carry their units: ``timestamp_s|ms|us|ns``,
``power_w|mw|uw``, ``voltage_v|mv``, ``current_a|ma|ua``. Power, or voltage and current, or both
(then they are cross-checked by ``plausibility``). The format is documented in
``docs/energy-files.md``; files written here round-trip every float exactly (``repr`` precision),
so an offline re-analysis reproduces the live figure bit for bit.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import DataError

__all__ = [
    "CLOCKS",
    "TRACE_FORMAT",
    "PowerTrace",
    "TraceHeader",
    "read_trace",
    "write_trace",
]

TRACE_FORMAT = "edgekit-power-trace/1"
CLOCKS = ("host", "meter")

_TIME = {"timestamp_s": 1.0, "timestamp_ms": 1e-3, "timestamp_us": 1e-6, "timestamp_ns": 1e-9}
_POWER = {"power_w": 1.0, "power_mw": 1e-3, "power_uw": 1e-6}
_VOLTAGE = {"voltage_v": 1.0, "voltage_mv": 1e-3}
_CURRENT = {"current_a": 1.0, "current_ma": 1e-3, "current_ua": 1e-6}
_ACCEPTED = ", ".join([*_TIME, *_POWER, *_VOLTAGE, *_CURRENT])


@dataclass(frozen=True)
class TraceHeader:
    """What a trace says about itself; ``None`` when the file does not say.

    ``clock`` is ``host`` when timestamps are the recording host's monotonic clock (the clock of
    the event log), ``meter`` when they are the meter's own (then attribution aligns them).
    ``averaging_s``: each sample averages the load over this long before its timestamp (0: a
    point sample); ``delay_s``: how late, on average, a timestamp is after that window ends.
    """

    format: str | None = None
    kind: str | None = None
    meter: str | None = None
    meter_spec: str | None = None
    measures: str | None = None
    sample_rate_hz: float | None = None
    averaging_s: float = 0.0
    delay_s: float = 0.0
    resolution_w: float | None = None
    clock: str = "meter"
    board: str | None = None
    board_model: str | None = None
    soc: str | None = None
    bundle_id: str | None = None
    variant: str | None = None
    variant_sha256: str | None = None
    recorded_by: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    _FLOATS = ("sample_rate_hz", "averaging_s", "delay_s", "resolution_w")

    @classmethod
    def from_meta(cls, meta: dict[str, str], where: str) -> TraceHeader:
        """Typed header from ``# key=value`` lines; unknown keys are kept in ``extra``."""
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for key, raw in meta.items():
            if key not in known:
                extra[key] = raw
                continue
            if key in cls._FLOATS:
                try:
                    number = float(raw)
                except ValueError:
                    raise DataError(f"{where}: header {key}={raw!r} is not a number") from None
                if not math.isfinite(number) or number < 0:
                    raise DataError(f"{where}: header {key}={raw!r} must be finite and >= 0")
                values[key] = number
            else:
                values[key] = raw
        clock = values.get("clock", "meter")
        if clock not in CLOCKS:
            raise DataError(f"{where}: header clock={clock!r}; accepted: {', '.join(CLOCKS)}")
        return cls(**values, extra=extra)

    def to_meta(self) -> dict[str, str]:
        """The header as ``key -> value`` strings, ``None`` fields left out."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or value is None:
                continue
            out[f.name] = repr(value) if isinstance(value, float) else str(value)
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class PowerTrace:
    """Samples in SI units, oldest first; ``voltage_v``/``current_a`` when the meter gave them.

    ``power_w`` is the power column when there is one, else voltage x current. ``power_column``
    names the column power came from (for messages about units).
    """

    timestamps_s: np.ndarray
    power_w: np.ndarray
    header: TraceHeader = field(default_factory=TraceHeader)
    voltage_v: np.ndarray | None = None
    current_a: np.ndarray | None = None
    source: str = "trace"
    power_column: str = "power_w"
    first_data_line: int = 0

    def __post_init__(self) -> None:
        t = np.asarray(self.timestamps_s, dtype=np.float64)
        object.__setattr__(self, "timestamps_s", t)
        object.__setattr__(self, "power_w", np.asarray(self.power_w, dtype=np.float64))
        if t.shape != self.power_w.shape or t.ndim != 1:
            raise DataError(f"{self.source}: timestamps and power differ in length")

    def __len__(self) -> int:
        return int(self.timestamps_s.size)

    def with_header(self, **changes: Any) -> PowerTrace:
        return replace(self, header=replace(self.header, **changes))

    def line_of(self, index: int) -> str:
        """``file:line`` of sample ``index`` when read from a file, else ``sample N``."""
        if self.first_data_line:
            return f"{self.source}:{self.first_data_line + index}"
        return f"{self.source} sample {index}"


_ABSURD = 1e9  # W, V or A: far beyond any board, far below where float sums overflow


def _columns(header: list[str], where: str) -> tuple[str, str | None, str | None, str | None]:
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in _TIME | _POWER | _VOLTAGE | _CURRENT]
    if unknown:
        raise DataError(f"{where}: unknown column(s) {', '.join(unknown)}; accepted: {_ACCEPTED}")
    if len(set(names)) != len(names):
        raise DataError(f"{where}: a column appears twice in {','.join(names)}")

    def one(table: dict[str, float], what: str) -> str | None:
        found = [n for n in names if n in table]
        if len(found) > 1:
            raise DataError(f"{where}: more than one {what} column ({', '.join(found)})")
        return found[0] if found else None

    time_col = one(_TIME, "timestamp")
    if time_col is None or names[0] != time_col:
        raise DataError(f"{where}: the first column must be a timestamp ({', '.join(_TIME)})")
    power, volt, curr = one(_POWER, "power"), one(_VOLTAGE, "voltage"), one(_CURRENT, "current")
    if power is None and (volt is None or curr is None):
        raise DataError(f"{where}: needs a power column, or both voltage and current columns")
    if (volt is None) != (curr is None):
        raise DataError(f"{where}: voltage and current come together (one of them is missing)")
    return time_col, power, volt, curr


def _parse_rows(body: list[tuple[int, str]], ncols: int, path: Path) -> np.ndarray:
    """Numbers of the data lines; the first bad line is named on failure."""
    text = "\n".join(line for _, line in body)
    try:
        data = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError:
        data = None
    if data is not None and data.shape[1] == ncols and np.all(np.isfinite(data)):
        return data
    for lineno, line in body:  # slow path, only to name the offending line
        cells = line.split(",")
        if len(cells) != ncols:
            raise DataError(f"{path}:{lineno}: {len(cells)} columns, the header has {ncols}")
        try:
            values = [float(c) for c in cells]
        except ValueError:
            raise DataError(f"{path}:{lineno}: not numbers: {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"{path}:{lineno}: a value is not finite: {line.strip()!r}")
    raise DataError(f"{path}: cannot parse the samples")


def read_trace(path: str | Path) -> PowerTrace:
    """Read a power trace; ``DataError`` naming file and line for anything malformed."""
    p = Path(path)
    try:
        # utf-8-sig: a logger's CSV exported by a Windows tool or a spreadsheet starts with a BOM
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot read power trace ({e})") from e
    meta: dict[str, str] = {}
    header: list[str] | None = None
    header_line = 0
    body: list[tuple[int, str]] = []
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            key, eq, value = text[1:].partition("=")
            if eq and header is None:
                meta[key.strip()] = value.strip()
            continue
        if header is None:
            header, header_line = text.split(","), lineno
            continue
        body.append((lineno, text))
    if header is None:
        raise DataError(f"{p}: no column header line (e.g. timestamp_s,power_w)")
    time_col, power_col, volt_col, curr_col = _columns(header, f"{p}:{header_line}")
    names = [h.strip().lower() for h in header]
    if len(body) < 2:
        raise DataError(f"{p}: a trace needs at least 2 samples, has {len(body)}")
    data = _parse_rows(body, len(names), p)
    t = data[:, 0] * _TIME[time_col]
    backwards = np.flatnonzero(np.diff(t) < 0)
    if backwards.size:
        raise DataError(f"{p}:{body[int(backwards[0]) + 1][0]}: timestamps go backwards")
    volt = data[:, names.index(volt_col)] * _VOLTAGE[volt_col] if volt_col else None
    curr = data[:, names.index(curr_col)] * _CURRENT[curr_col] if curr_col else None
    if power_col is not None:
        power = data[:, names.index(power_col)] * _POWER[power_col]
    else:
        power = np.asarray(volt) * np.asarray(curr)
    # A finite but absurd reading (a corrupt row, 1e308 W) would overflow the running integral
    # and turn every figure into nan or 0 without a word: no meter reads beyond a gigawatt.
    for name, values in (("power", power), ("voltage", volt), ("current", curr)):
        if values is not None and not np.all(np.abs(values) <= _ABSURD):
            i = int(np.flatnonzero(~(np.abs(values) <= _ABSURD))[0])
            raise DataError(f"{p}:{body[i][0]}: {name} {values[i]:.6g} (SI units) is no meter's "
                            f"reading; accepted: magnitudes up to {_ABSURD:.0e}")
    first = body[0][0] if all(b[0] == body[0][0] + i for i, b in enumerate(body)) else 0
    return PowerTrace(
        t,
        power,
        TraceHeader.from_meta(meta, str(p)),
        volt,
        curr,
        source=str(p),
        power_column=power_col or f"{volt_col} x {curr_col}",
        first_data_line=first,
    )


def write_trace(trace: PowerTrace, path: str | Path) -> Path:
    """Write ``trace`` (SI columns, ``repr`` precision) with its header; returns the path."""
    p = Path(path)
    meta = {"format": TRACE_FORMAT, **trace.header.to_meta()}
    has_vi = trace.voltage_v is not None and trace.current_a is not None
    cols = [trace.timestamps_s, trace.power_w]
    if has_vi:
        cols += [np.asarray(trace.voltage_v), np.asarray(trace.current_a)]
    with p.open("w", encoding="utf-8", newline="\n") as f:
        for key, value in meta.items():
            f.write(f"# {key}={value}\n")
        f.write("timestamp_s,power_w" + (",voltage_v,current_a" if has_vi else "") + "\n")
        # %.17g round-trips every float64 exactly
        np.savetxt(f, np.column_stack(cols), fmt="%.17g", delimiter=",")
    return p
