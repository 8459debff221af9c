"""What the virtual scanner "hears" over time: class mix, SNR range and front-end drift.

A ``Scenario`` is a schedule: ``at(t_s)`` gives the generator parameters in force ``t_s``
seconds after the emulator started. It exists so that drift detection can be tested against a
known ground truth: the SNR range can slide, the front end can degrade (``generate``'s
``drift``) and the class mix can switch at given times. Continuous drifts advance in small
steps (``SNR_STEP_DB``, ``DRIFT_STEP``) so the scanner regenerates its capture buffer only
when the parameters actually move.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from edgekit.data.synth import ALL_CLASSES, CLASSES

__all__ = ["DRIFT_STEP", "SNR_STEP_DB", "Scenario", "ScenarioPoint", "parse_class_mix"]

SNR_STEP_DB = 0.5
"""Granularity of a drifting SNR range, in dB."""
DRIFT_STEP = 0.01
"""Granularity of a ramping front-end drift (``generate``'s ``drift``, 0..1)."""


class ScenarioPoint(NamedTuple):
    """Generator parameters at one moment: ``(classes, snr_range_db, drift)``."""

    classes: tuple[str, ...]
    snr_range_db: tuple[float, float]
    drift: float


def _check_classes(classes: Sequence[str], what: str) -> tuple[str, ...]:
    names = tuple(classes)
    unknown = [c for c in names if c not in ALL_CLASSES]
    if not names or unknown:
        raise ValueError(
            f"{what}: unknown class(es) {', '.join(unknown) or '(none given)'}; "
            f"accepted: {', '.join(ALL_CLASSES)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: {','.join(names)} repeats a class")
    return names


@dataclass(frozen=True)
class Scenario:
    """A schedule of generator parameters (see the module docstring).

    Before ``drift_after_s`` the scenario is stationary: ``classes``, ``snr_range_db`` and
    ``frontend_drift``. From then on both SNR bounds move by ``snr_drift_db_per_min`` (negative
    = the scanner is carried away from the transmitters) and the front-end drift grows by
    ``frontend_drift_per_min`` (capped at 1). ``class_mix`` lists ``(after_s, classes)``
    switches; the latest one whose time has come replaces ``classes``.
    """

    classes: tuple[str, ...] = CLASSES
    snr_range_db: tuple[float, float] = (-10.0, 20.0)
    frontend_drift: float = 0.0
    drift_after_s: float = 0.0
    snr_drift_db_per_min: float = 0.0
    frontend_drift_per_min: float = 0.0
    class_mix: tuple[tuple[float, tuple[str, ...]], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _check_classes(self.classes, "classes")
        lo, hi = self.snr_range_db
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"snr range: need finite A <= B dB, got {lo:g} {hi:g}")
        if not 0.0 <= self.frontend_drift <= 1.0:
            raise ValueError(f"front-end drift must be in [0, 1], got {self.frontend_drift:g}")
        if not (math.isfinite(self.drift_after_s) and self.drift_after_s >= 0):
            raise ValueError(f"drift start must be >= 0 s, got {self.drift_after_s:g}")
        if not math.isfinite(self.snr_drift_db_per_min):
            raise ValueError("SNR drift must be a finite number of dB per minute")
        if not (math.isfinite(self.frontend_drift_per_min) and self.frontend_drift_per_min >= 0):
            raise ValueError(
                f"front-end drift rate must be >= 0 per minute, got {self.frontend_drift_per_min:g}"
            )
        for after_s, classes in self.class_mix:
            if not (math.isfinite(after_s) and after_s >= 0):
                raise ValueError(f"class mix switch time must be >= 0 s, got {after_s:g}")
            _check_classes(classes, f"class mix after {after_s:g} s")
        # keep the switches sorted so ``at`` can take the last one that applies
        object.__setattr__(self, "class_mix", tuple(sorted(self.class_mix, key=lambda s: s[0])))

    @property
    def is_stationary(self) -> bool:
        """True when ``at`` returns the same point at every time."""
        return not self.class_mix and self.snr_drift_db_per_min == 0.0 and self.frontend_drift_per_min == 0.0

    def at(self, t_s: float) -> ScenarioPoint:
        """The generator parameters in force ``t_s`` seconds after the start."""
        classes = self.classes
        for after_s, switched in self.class_mix:
            if t_s >= after_s:
                classes = switched
        drifting_min = max(0.0, t_s - self.drift_after_s) / 60.0
        shift_db = _step(self.snr_drift_db_per_min * drifting_min, SNR_STEP_DB)
        lo, hi = self.snr_range_db
        drift = min(1.0, self.frontend_drift + _step(self.frontend_drift_per_min * drifting_min, DRIFT_STEP))
        return ScenarioPoint(classes, (lo + shift_db, hi + shift_db), round(drift, 6))


def _step(value: float, step: float) -> float:
    """``value`` truncated towards zero to a whole number of ``step``s (a staircase)."""
    return math.trunc(value / step) * step


def parse_class_mix(text: str) -> tuple[float, tuple[str, ...]]:
    """Parse ``"S:class,class"`` (e.g. ``"30:ofdm,fm"``) into ``(after_s, classes)``."""
    when, sep, names = text.partition(":")
    if not sep:
        raise ValueError(f"class mix {text!r}: expected SECONDS:class[,class...], e.g. 30:ofdm,fm")
    try:
        after_s = float(when)
    except ValueError as e:
        raise ValueError(f"class mix {text!r}: {when!r} is not a number of seconds") from e
    if not (math.isfinite(after_s) and after_s >= 0):
        raise ValueError(f"class mix {text!r}: the time must be >= 0 s")
    classes = tuple(c.strip() for c in names.split(",") if c.strip())
    return after_s, _check_classes(classes, f"class mix {text!r}")
