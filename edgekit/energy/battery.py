"""Battery life with and without the model, at the scanner's duty cycle.

Average power without the model is ``baseline_w``: everything that draws whether or not the
model runs (the scanner itself, and the SBC idling if it stays powered anyway). With the model it
adds ``platform_idle_w`` (SBC idle power that exists only because of the model, 0 if the SBC is
already in the baseline) and ``captures_per_s`` x the DYNAMIC energy per inference (above idle,
so idle is never counted twice). Life = usable energy / average power.

The model's figures are measured at the board's supply input, after the DC-DC converter that
feeds it from the battery; ``converter_efficiency`` (default 1.0, ideal: say so when you keep it)
divides them to get the power drawn from the battery. ``baseline_w`` is already battery-side.
When the dynamic energy comes with an interval (``dynamic_interval_mj``) the projection carries
it through: life with the model and life lost are given as intervals too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from edgekit.errors import EdgekitError

__all__ = ["Battery", "BatteryProjection", "ScannerDuty", "project_battery", "project_duty_range"]


@dataclass(frozen=True)
class Battery:
    """A battery given by ``capacity_wh``, or by ``capacity_mah`` at ``nominal_v``."""

    capacity_mah: float | None = None
    nominal_v: float | None = None
    capacity_wh: float | None = None
    usable_fraction: float = 1.0

    def __post_init__(self) -> None:
        if self.capacity_wh is None and (self.capacity_mah is None or self.nominal_v is None):
            raise EdgekitError("battery: give capacity_wh, or capacity_mah and nominal_v")
        if not 0 < self.usable_fraction <= 1:
            raise EdgekitError(f"battery: usable_fraction {self.usable_fraction} not in (0, 1]")
        if self.total_wh <= 0:
            raise EdgekitError(f"battery: capacity must be positive, got {self.total_wh} Wh")

    @property
    def total_wh(self) -> float:
        """Rated energy: ``capacity_wh``, or mAh / 1000 x nominal V."""
        if self.capacity_wh is not None:
            return self.capacity_wh
        return (self.capacity_mah or 0.0) / 1000.0 * (self.nominal_v or 0.0)

    @property
    def usable_wh(self) -> float:
        """Energy actually available: rated x usable fraction."""
        return self.total_wh * self.usable_fraction


@dataclass(frozen=True)
class ScannerDuty:
    """How the scanner works: its own draw, capture rate, the model's energy per capture."""

    baseline_w: float
    captures_per_s: float
    dynamic_energy_per_inference_mj: float
    platform_idle_w: float = 0.0
    converter_efficiency: float = 1.0
    dynamic_interval_mj: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name in (
            "baseline_w",
            "captures_per_s",
            "dynamic_energy_per_inference_mj",
            "platform_idle_w",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise EdgekitError(f"scanner duty: {name}={value} must be finite and >= 0")
        eff = self.converter_efficiency
        if not (math.isfinite(eff) and 0 < eff <= 1):
            raise EdgekitError(f"scanner duty: converter_efficiency={eff} must be in (0, 1]")
        if self.dynamic_interval_mj is not None:
            lo, hi = self.dynamic_interval_mj
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise EdgekitError(
                    f"scanner duty: dynamic_interval_mj=({lo}, {hi}) must be finite, low <= high"
                )

    def _power_w(self, dynamic_mj: float) -> float:
        load_w = self.platform_idle_w + self.captures_per_s * max(dynamic_mj, 0.0) / 1e3
        return load_w / self.converter_efficiency

    @property
    def model_power_w(self) -> float:
        """What the model adds at the battery: (platform idle + captures/s x dynamic energy) / efficiency."""
        return self._power_w(self.dynamic_energy_per_inference_mj)

    @property
    def model_power_interval_w(self) -> tuple[float, float] | None:
        """``model_power_w`` at both ends of the dynamic energy's interval (negative ends count as 0)."""
        if self.dynamic_interval_mj is None:
            return None
        lo, hi = self.dynamic_interval_mj
        return self._power_w(lo), self._power_w(hi)


@dataclass(frozen=True)
class BatteryProjection:
    """Average power, battery life and drain with and without the model."""

    captures_per_s: float
    usable_wh: float
    average_power_without_model_w: float
    average_power_with_model_w: float
    model_power_w: float
    life_without_model_h: float
    life_with_model_h: float
    drain_without_model_pct_per_h: float
    drain_with_model_pct_per_h: float
    life_lost_pct: float
    kind: str = "measured"
    converter_efficiency: float = 1.0
    life_with_model_interval_h: tuple[float, float] | None = None
    life_lost_interval_pct: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _life_h(usable_wh: float, power_w: float) -> float:
    return math.inf if power_w <= 0 else usable_wh / power_w


def _lost_pct(without_w: float, with_w: float) -> float:
    return 0.0 if with_w <= 0 else 100.0 * (1.0 - without_w / with_w)


def project_battery(
    battery: Battery, duty: ScannerDuty, *, kind: str = "measured"
) -> BatteryProjection:
    """Project battery life; ``kind`` says whether the energy figure was measured or estimated."""
    without_w = duty.baseline_w
    with_w = duty.baseline_w + duty.model_power_w
    usable = battery.usable_wh
    life_interval = lost_interval = None
    if duty.model_power_interval_w is not None:
        low_w, high_w = (without_w + m for m in duty.model_power_interval_w)
        life_interval = (_life_h(usable, high_w), _life_h(usable, low_w))
        lost_interval = (_lost_pct(without_w, low_w), _lost_pct(without_w, high_w))
    return BatteryProjection(
        captures_per_s=duty.captures_per_s,
        usable_wh=usable,
        average_power_without_model_w=without_w,
        average_power_with_model_w=with_w,
        model_power_w=duty.model_power_w,
        life_without_model_h=_life_h(usable, without_w),
        life_with_model_h=_life_h(usable, with_w),
        drain_without_model_pct_per_h=100.0 * without_w / usable,
        drain_with_model_pct_per_h=100.0 * with_w / usable,
        life_lost_pct=_lost_pct(without_w, with_w),
        kind=kind,
        converter_efficiency=duty.converter_efficiency,
        life_with_model_interval_h=life_interval,
        life_lost_interval_pct=lost_interval,
    )


def project_duty_range(
    battery: Battery, duty: ScannerDuty, captures_per_s: Iterable[float], *, kind: str = "measured"
) -> list[BatteryProjection]:
    """The projection at each capture rate (the rest of ``duty`` unchanged), for plots."""
    return [
        project_battery(
            battery,
            replace(duty, captures_per_s=rate),
            kind=kind,
        )
        for rate in captures_per_s
    ]
