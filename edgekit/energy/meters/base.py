"""The one ``Meter`` protocol every power meter implements, and the data it returns.

A meter is a boundary object: ``read()`` returns one ``PowerSample`` now, ``info`` says what it
measures and how well, ``close()`` releases the device. Meters that hold a timeline of samples
(replay, the serial link, the simulator) also implement ``TraceSource`` so attribution can take
the exact samples of a window instead of polling them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np

from edgekit.energy.clock import Clock, MonotonicClock
from edgekit.errors import MeterError

__all__ = [
    "Meter",
    "MeterInfo",
    "MeterKind",
    "MeterRoots",
    "PowerSample",
    "SampleArrays",
    "SpecArgs",
    "TraceSource",
    "parse_spec",
]

MeterKind = Literal["measured", "estimated", "unverified"]


@dataclass(frozen=True)
class MeterInfo:
    """What a meter is: its name and spec, measured or estimated, nominal rate and resolution.

    ``averaging_s``: each sample averages the load over this long before it is read (an INA with
    averaging, a differencing counter); 0 for a point sample. Attribution centres samples on it.
    """

    name: str
    spec: str
    kind: MeterKind
    sample_rate_hz: float
    resolution_w: float | None
    measures: str
    notes: str = ""
    averaging_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PowerSample(NamedTuple):
    """One reading: monotonic time, power, and bus voltage / current when the meter knows them."""

    timestamp_s: float
    power_w: float
    voltage_v: float | None = None
    current_a: float | None = None


class SampleArrays(NamedTuple):
    """Timestamps (monotonic s) and powers (W) of a run of samples, oldest first."""

    timestamps_s: np.ndarray
    power_w: np.ndarray


@runtime_checkable
class Meter(Protocol):
    """A power meter: ``info``, ``read()`` one sample now, ``close()``."""

    @property
    def info(self) -> MeterInfo: ...

    def read(self) -> PowerSample: ...

    def close(self) -> None: ...


@runtime_checkable
class TraceSource(Protocol):
    """A meter that already holds its samples on a timeline (no polling thread needed)."""

    def samples_between(self, t0_s: float, t1_s: float) -> SampleArrays:
        """Samples in [t0_s, t1_s] plus the nearest one on each side, when they exist."""
        ...

    def count_between(self, t0_s: float, t1_s: float) -> int:
        """How many samples have timestamps in [t0_s, t1_s]."""
        ...


@dataclass
class MeterRoots:
    """Where meters find their devices; tests point these at fakes (the code path is the same)."""

    sysfs_root: Path = Path("/sys")
    proc_root: Path = Path("/proc")
    devicetree_root: Path | None = None
    vcgencmd: str | Path = "vcgencmd"
    bus: Any = None
    clock: Clock = field(default_factory=MonotonicClock)
    utilisation: Callable[[], float] | None = None

    @property
    def devicetree(self) -> Path:
        return (
            self.devicetree_root
            if self.devicetree_root is not None
            else (self.proc_root / "device-tree")
        )

    @classmethod
    def from_kwargs(cls, roots: Mapping[str, Any]) -> MeterRoots:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(roots) - known)
        if unknown:
            raise MeterError(
                f"unknown meter root(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}"
            )
        values = dict(roots)
        for key in ("sysfs_root", "proc_root", "devicetree_root"):
            if values.get(key) is not None:
                values[key] = Path(values[key])
        return cls(**values)


@dataclass(frozen=True)
class SpecArgs:
    """A parsed spec ``scheme:positional`` or ``scheme:key=value,key=value``."""

    spec: str
    scheme: str
    positional: str | None
    options: dict[str, str]

    def _fail(self, key: str, value: str, expected: str) -> MeterError:
        return MeterError(f"meter spec {self.spec!r}: {key}={value!r} is not {expected}")

    def get_str(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def get_int(self, key: str, default: int) -> int:
        raw = self.options.get(key)
        if raw is None:
            return default
        try:
            return int(raw, 0)  # accepts 0x40 as well as 64
        except ValueError:
            raise self._fail(key, raw, "an integer (decimal or 0x hex)") from None

    def get_float(self, key: str, default: float | None) -> float | None:
        raw = self.options.get(key)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self._fail(key, raw, "a number") from None
        if not np.isfinite(value):
            raise self._fail(key, raw, "a finite number")
        return value

    def get_positive(self, key: str, default: float | None) -> float | None:
        value = self.get_float(key, default)
        if value is not None and value <= 0:
            raise self._fail(key, self.options.get(key, str(value)), "a positive number")
        return value


def parse_spec(spec: str, keys: frozenset[str], positional: str | None = None) -> SpecArgs:
    """Split ``scheme:rest`` and check the keys; one-line ``MeterError`` naming spec and keys.

    ``positional`` names what a bare value means (``battery:BAT0`` -> the supply name); when the
    scheme takes one and ``rest`` has no ``=``, the whole rest is that value (so paths with commas
    survive in ``replay:``).
    """
    scheme, _, rest = spec.partition(":")
    scheme = scheme.strip().lower()
    accepted = ", ".join(sorted(keys)) or "none"
    options: dict[str, str] = {}
    bare: str | None = None
    rest = rest.strip()
    if rest and positional is not None and "=" not in rest:
        return SpecArgs(spec, scheme, rest, options)
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq:
            if positional is None or bare is not None:
                raise MeterError(
                    f"meter spec {spec!r}: {item!r} is not key=value; accepted keys: {accepted}"
                )
            bare = item
            continue
        if key not in keys:
            raise MeterError(f"meter spec {spec!r}: unknown key {key!r}; accepted keys: {accepted}")
        if key in options:
            raise MeterError(f"meter spec {spec!r}: key {key!r} given twice")
        options[key] = value.strip()
    return SpecArgs(spec, scheme, bare, options)
