"""Energy figures for people: a value smaller than what its interval can resolve reads as such.

On a shared host the dynamic energy (active minus idle power, per inference) is often zero within
its interval, and the subtraction leaves floating-point dust: ``4.77e-15 mJ`` reads as a precise
figure. Here a value is shown to the precision its interval supports (two significant digits of
the interval's width); a value below half of that step is printed ``0.000 mJ (< 0.0005 mJ,
below the interval's resolution)``. JSON outputs keep the raw value: only the text changes.
"""

from __future__ import annotations

import math

__all__ = ["below_resolution", "fmt_energy_mj"]


def _step(low: float | None, high: float | None) -> float | None:
    """The smallest step the interval ``[low, high]`` resolves: two significant digits of its
    width; ``None`` without a usable interval."""
    if low is None or high is None:
        return None
    width = high - low
    if not math.isfinite(width) or width <= 0:
        return None
    return 10.0 ** (math.floor(math.log10(width)) - 1)


def below_resolution(value: float | None, low: float | None, high: float | None) -> bool:
    """Whether ``value`` is under half the step its interval resolves (prints as zero)."""
    step = _step(low, high)
    return value is not None and step is not None and math.isfinite(value) and abs(value) < step / 2


def fmt_energy_mj(
    value: float | None, low: float | None = None, high: float | None = None, *, unit: bool = True
) -> str:
    """``value`` (mJ), readable against its interval ``[low, high]``; ``unit`` adds " mJ"."""
    mj = " mJ" if unit else ""
    if value is None or not math.isfinite(value):
        return f"-{mj}"
    step = _step(low, high)
    if step is not None and below_resolution(value, low, high):
        decimals = max(0, -math.floor(math.log10(step)))
        return f"{0.0:.{decimals}f}{mj} (< {step / 2:g} mJ, below the interval's resolution)"
    return f"{value:.4g}{mj}"
