"""Units and plausibility of a power trace, checked before any energy is computed.

Three checks, each naming the file and what would be accepted:

- negative power is refused (a meter reports magnitudes; a sign is a wiring or column mistake);
- when voltage and current are present beside power, V x I must agree with power (the ratio tells
  a unit slip: 1000 means mW under a W header);
- the trace's power is compared with the board profile: far above the board's maximum or far
  below its idle is a probable unit error (refused beyond a factor that no board explains,
  flagged closer in, since a meter may also see peripherals).
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.energy.meters.model import BoardProfile
from edgekit.energy.result import EnergyRefused
from edgekit.energy.tracefile import PowerTrace

__all__ = ["check_trace"]

VI_TOLERANCE = 0.05  # relative, on top of the meter's resolution
REFUSE_FACTOR = 20.0  # median power > 20 x the board's max (or < idle / 20): refused
FLAG_FACTOR = 3.0  # > 3 x max or < idle / 3: flagged


def _unit_hint(ratio: float) -> str:
    for factor, hint in ((1e3, "milli"), (1e6, "micro"), (1e-3, "kilo (or a W column marked mW)")):
        if 0.5 * factor <= ratio <= 2.0 * factor:
            return f" (x{ratio:.3g}: a {hint} unit slip?)"
    return ""


def _rescale_hint(median: float, profile: BoardProfile) -> str:
    """Which unit slip would put the median inside the board's range, if one does."""
    for factor, what in ((1e-3, "mW"), (1e-6, "uW"), (1e3, "W under a mW name")):
        if profile.idle_w / FLAG_FACTOR <= median * factor <= FLAG_FACTOR * profile.max_w:
            return f" (read as {what}, the median would be {median * factor:.4g} W)"
    return ""


def _check_sign(trace: PowerTrace) -> None:
    negative = np.flatnonzero(trace.power_w < 0)
    if negative.size:
        i = int(negative[0])
        raise EnergyRefused(
            "units",
            f"{trace.line_of(i)}: negative power ({trace.power_w[i]:.6g} W in {trace.power_column}; "
            f"{negative.size} of {len(trace)} samples are negative): a meter reports magnitudes, "
            "check the shunt's orientation or the column",
        )


def _check_vi(trace: PowerTrace) -> None:
    if trace.voltage_v is None or trace.current_a is None or trace.power_column != "power_w":
        return
    vi = trace.voltage_v * np.abs(trace.current_a)
    resolution = trace.header.resolution_w or 0.0
    bad = np.abs(trace.power_w - vi) > VI_TOLERANCE * np.maximum(np.abs(vi), 1e-12) + resolution
    if np.mean(bad) <= 0.01:  # a few samples may straddle a conversion
        return
    i = int(np.flatnonzero(bad)[0])
    valid = vi > 0
    ratio = float(np.median(trace.power_w[valid] / vi[valid])) if np.any(valid) else math.nan
    raise EnergyRefused(
        "units",
        f"{trace.line_of(i)}: power_w {trace.power_w[i]:.6g} disagrees with voltage_v x current_a "
        f"= {vi[i]:.6g} ({np.mean(bad):.0%} of samples beyond {VI_TOLERANCE:.0%}; median ratio "
        f"{ratio:.4g}{_unit_hint(ratio)}); fix the units in the column names",
    )


def _check_magnitude(trace: PowerTrace, profile: BoardProfile) -> list[str]:
    median = float(np.median(trace.power_w))
    where = f"{trace.source}: median power {median:.4g} W ({trace.power_column})"
    who = profile.name if profile.board == "any" else f"a {profile.name}"
    board = f"{who} draws {profile.idle_w:g}-{profile.max_w:g} W"
    if median > REFUSE_FACTOR * profile.max_w or median < profile.idle_w / REFUSE_FACTOR:
        raise EnergyRefused(
            "units",
            f"{where}, but {board}: a probable unit error{_rescale_hint(median, profile)}; declare "
            "the unit in the column name (power_w, power_mw, power_uw) or name the right board",
        )
    if median > FLAG_FACTOR * profile.max_w:
        return [
            f"units: {where} is above {FLAG_FACTOR:g} x the {profile.board} profile's maximum "
            f"({profile.max_w:g} W): a probable unit error, unless the meter also measures "
            "peripherals (say so in the trace's 'measures' line)"
        ]
    if median < profile.idle_w / FLAG_FACTOR:
        return [
            f"units: {where} is below a third of the {profile.board} profile's idle power "
            f"({profile.idle_w:g} W): a probable unit error, or a different board"
        ]
    return []


def check_trace(trace: PowerTrace, profile: BoardProfile | None) -> list[str]:
    """Refuse (``EnergyRefused``, cause ``units``) or return warnings about the trace's units."""
    _check_sign(trace)
    _check_vi(trace)
    return _check_magnitude(trace, profile) if profile is not None else []
