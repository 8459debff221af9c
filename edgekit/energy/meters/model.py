"""Estimated power from CPU utilisation and a board profile: ``model:rpi4[,scope=system]``.

power_w = idle_w + active_per_core_w x busy_cores (capped at max_w), where busy_cores comes from
psutil: this process's CPU time by default, or the whole host's with ``scope=system``. The default
is the process because the estimate is of *this* workload on the profiled board: the host running
the bench is rarely that board, and other processes on it (a build, another user) would otherwise
move the estimated idle power with their load, making the attribution refuse on drift or hide the
marker pulses, and the figure depend on the neighbours. Profiles live in
``edgekit/energy/profiles`` with their sources. The meter's kind is ``"estimated"`` and every figure
derived from it must say so: it models the CPU only, not memory, radio, USB or the accelerator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from edgekit.energy.boards import board_from_model_string as _board_key
from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, PowerSample, parse_spec
from edgekit.errors import MeterError

__all__ = [
    "BOARDS",
    "BOARD_ALIASES",
    "KEYS",
    "BoardProfile",
    "ModelMeter",
    "board_from_model_string",
    "load_profile",
    "open_spec",
]

KEYS = frozenset({"board", "scope"})
BOARDS = ("rpi4b", "rpi5", "zero2w", "cm4", "generic")
BOARD_ALIASES = {
    "rpi4": "rpi4b",
    "pi4": "rpi4b",
    "rpi4b": "rpi4b",
    "rpi5": "rpi5",
    "pi5": "rpi5",
    "zero2w": "zero2w",
    "zero2": "zero2w",
    "pizero2w": "zero2w",
    "cm4": "cm4",
    "generic": "generic",
}
_MIN_INTERVAL_S = 0.1  # psutil's CPU counters tick at ~100 Hz; faster reads return noise


@dataclass(frozen=True)
class BoardProfile:
    """Published power figures for one board (see ``sources``)."""

    board: str
    name: str
    measures: str
    idle_w: float
    max_w: float
    cores: int
    active_per_core_w: float
    sources: tuple[str, ...]

    def power_w(self, busy_cores: float) -> float:
        """Idle plus per-core active power for ``busy_cores`` (clamped to 0..cores), capped."""
        busy = min(max(busy_cores, 0.0), float(self.cores))
        return min(self.idle_w + self.active_per_core_w * busy, self.max_w)


def load_profile(board: str) -> BoardProfile:
    """Load ``profiles/<board>.json`` (aliases such as ``rpi4`` accepted)."""
    key = BOARD_ALIASES.get(board.lower())
    if key is None:
        raise MeterError(f"unknown board {board!r}; accepted: {', '.join(sorted(BOARD_ALIASES))}")
    raw: dict[str, Any] = json.loads(
        resources.files("edgekit.energy").joinpath(f"profiles/{key}.json").read_text("utf-8")
    )
    return BoardProfile(
        board=raw["board"],
        name=raw["name"],
        measures=raw["measures"],
        idle_w=float(raw["idle_w"]),
        max_w=float(raw["max_w"]),
        cores=int(raw["cores"]),
        active_per_core_w=float(raw["active_per_core_w"]),
        sources=tuple(raw["sources"]),
    )


def board_from_model_string(model: str) -> str | None:
    """Map ``/proc/device-tree/model`` text to a profile name, or None if no profile fits."""
    board = _board_key(model)
    return board if board in BOARDS else None


def _psutil_utilisation(scope: str) -> Callable[[], float]:
    import psutil

    if scope == "process":
        process = psutil.Process()
        process.cpu_percent(None)
        return lambda: process.cpu_percent(None) / 100.0
    host_cores = psutil.cpu_count() or 1
    psutil.cpu_percent(None)
    return lambda: psutil.cpu_percent(None) / 100.0 * host_cores


class ModelMeter:
    """The CPU-utilisation power estimate; ``info.kind == "estimated"``."""

    def __init__(
        self, profile: BoardProfile, spec: str, roots: MeterRoots, scope: str = "process"
    ) -> None:
        self.profile = profile
        self._clock = roots.clock
        self._busy_cores = roots.utilisation or _psutil_utilisation(scope)
        self._last: PowerSample | None = None
        self._info = MeterInfo(
            name=f"model:{profile.board}",
            spec=spec,
            kind="estimated",
            sample_rate_hz=1.0 / _MIN_INTERVAL_S,
            resolution_w=None,
            averaging_s=_MIN_INTERVAL_S,  # utilisation since the previous read
            measures=f"estimated {profile.measures} from {scope} CPU utilisation",
            notes=(
                f"{profile.name}: {profile.idle_w} W idle + {profile.active_per_core_w} W per busy "
                f"core (max {profile.max_w} W); CPU only, ESTIMATED, not measured"
            ),
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    def read(self) -> PowerSample:
        now_s = self._clock.monotonic()
        if self._last is not None and now_s - self._last.timestamp_s < _MIN_INTERVAL_S:
            return PowerSample(now_s, self._last.power_w)
        self._last = PowerSample(now_s, self.profile.power_w(float(self._busy_cores())))
        return self._last

    def close(self) -> None:
        pass


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open ``model:<board>`` (``model`` alone means ``generic``; ``scope`` defaults to ``process``)."""
    args = parse_spec(spec, KEYS, positional="board")
    board = args.positional or args.get_str("board") or "generic"
    # this process's CPU by default: see the module docstring for why not the whole host's
    scope = args.get_str("scope", "process") or "process"
    if scope not in ("system", "process"):
        raise MeterError(f"meter spec {spec!r}: scope={scope!r} is not 'system' or 'process'")
    return ModelMeter(load_profile(board), spec, roots, scope)
