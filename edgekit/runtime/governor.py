"""The power governor: battery state of charge in, which variant and how often to infer out.

The documented rule (thresholds from ``[runtime.governor]``):

- ``normal``: the configured variant, every capture.
- ``low`` (state of charge <= ``low_pct``): the cheaper variant (``low_variant``, or with
  ``auto`` the passing variant with the lowest energy per inference in the manifest, by
  latency when no energy is recorded), every capture. If the bundle has nothing cheaper the
  variant stays.
- ``critical`` (<= ``critical_pct``): the cheaper variant, and at most one inference every
  ``critical_min_interval_s``; the captures in between are answered "skipped" (an explicit
  RESULT without a label, journaled and counted), never dropped.

A state is left only when the charge is back ``hysteresis_pct`` above its threshold, so a
gauge that wobbles does not flap the model. Without a gauge the governor stays ``normal``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edgekit.errors import UsageError
from edgekit.runtime.settings import GovernorSettings

__all__ = ["Governor", "GovernorDecision", "pick_cheaper_variant"]


@dataclass(frozen=True)
class GovernorDecision:
    """The state, the variant to run, the minimum interval between inferences, and whether
    this update changed anything."""

    state: str
    variant: str
    min_interval_s: float | None
    changed: bool
    soc_pct: float | None


def _cost(v: dict[str, Any]) -> tuple[float, float]:
    energy = (v.get("energy") or {}).get("energy_per_inference_mj")
    latency = (v.get("latency") or {}).get("p50_ms")
    e = float(energy) if isinstance(energy, int | float) and math.isfinite(energy) else math.inf
    t = float(latency) if isinstance(latency, int | float) and math.isfinite(latency) else math.inf
    return e, t


def pick_cheaper_variant(manifest: dict[str, Any], current: str, wanted: str = "auto") -> str:
    """The variant to run on low battery (``current`` when nothing cheaper passed)."""
    variants = {v["name"]: v for v in manifest.get("variants", [])}
    if wanted != "auto":
        if wanted not in variants:
            raise UsageError(f"governor.low_variant {wanted!r}: not in the bundle; it has {sorted(variants)}")
        return wanted
    passing = [v for v in variants.values() if v.get("passed")]
    if not passing or current not in variants:
        return current
    best = min(passing, key=_cost)
    return best["name"] if _cost(best) < _cost(variants[current]) else current


class Governor:
    """The state machine of the module docstring; ``update`` with each gauge reading."""

    def __init__(self, settings: GovernorSettings, *, primary: str, cheaper: str) -> None:
        self.settings = settings
        self.primary = primary
        self.cheaper = cheaper
        self.state = "normal"
        self._last_inference_s = -math.inf

    def update(self, soc_pct: float | None) -> GovernorDecision:
        s = self.settings
        old = self.state
        # a reading that is not a number changes nothing (NaN compares false everywhere below,
        # which would move critical to low)
        if soc_pct is not None and math.isfinite(soc_pct) and s.enabled:
            if soc_pct <= s.critical_pct:
                self.state = "critical"
            elif soc_pct <= s.low_pct:
                if old != "critical" or soc_pct >= s.critical_pct + s.hysteresis_pct:
                    self.state = "low"
            elif old == "normal" or soc_pct >= s.low_pct + s.hysteresis_pct:
                self.state = "normal"
            elif old == "critical":
                self.state = "low"
        return self.decision(changed=self.state != old, soc_pct=soc_pct)

    def decision(self, *, changed: bool = False, soc_pct: float | None = None) -> GovernorDecision:
        variant = self.primary if self.state == "normal" else self.cheaper
        interval = self.settings.critical_min_interval_s if self.state == "critical" else None
        return GovernorDecision(self.state, variant, interval, changed, soc_pct)

    def admit(self, now_s: float) -> bool:
        """Whether a capture arriving at ``now_s`` is inferred (False: answer "skipped")."""
        if self.state != "critical":
            self._last_inference_s = now_s
            return True
        if now_s - self._last_inference_s >= self.settings.critical_min_interval_s:
            self._last_inference_s = now_s
            return True
        return False
