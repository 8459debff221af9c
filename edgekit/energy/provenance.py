"""Where an energy figure came from, and whether it counts as measured on the target.

"Measured" is a claim about provenance, so the rules live here in one place:

- a live figure is ``measured`` only from a physical meter (INA2xx, hwmon, PMIC, fuel gauge, RAPL,
  the scanner's link); the CPU model is ``estimated``; simulators and null are never measured;
- a replayed recording is ``measured`` only when its trace says ``kind=measured``, names a
  physical meter, the board and the bundle ID, and its event log agrees on board and bundle ID;
  anything less is ``unverified`` (a CSV without a ``kind`` line is never measured);
- a figure is *measured on the target* (``is_measured_on_target``) only when it is measured, its
  board is the build's ``[target] board`` and the variant file it measured has the SHA-256 of the
  build's variant file. The bundle ID is recorded but not compared: it hashes the manifest, which
  holds the build's timestamps, so a rebuilt bundle never has the benched one's ID even when every
  variant file is byte for byte the same. The variant file's digest is what the figure is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from edgekit.energy.boards import board_from_model_string
from edgekit.energy.tracefile import TraceHeader

__all__ = [
    "KINDS",
    "PHYSICAL_METERS",
    "Provenance",
    "is_measured_on_target",
    "is_physical_meter",
    "live_provenance",
    "recording_provenance",
]

KINDS = ("measured", "estimated", "unverified")
PHYSICAL_METERS = frozenset({"ina219", "ina226", "ina260", "hwmon", "pmic", "battery", "rapl", "link"})
_CONTEXT_KEYS = ("board", "board_model", "soc", "bundle_id", "variant", "variant_sha256")


def is_physical_meter(name: str | None) -> bool:
    """Whether a meter name (``ina260``, ``hwmon:ina226``, ``battery:BAT0``) is a real device."""
    return bool(name) and str(name).split(":")[0].strip().lower() in PHYSICAL_METERS


@dataclass(frozen=True)
class Provenance:
    """What a figure is (``kind`` and why), from which meter, board and bundle, and how obtained."""

    kind: str
    reason: str
    meter: str | None = None
    meter_spec: str | None = None
    board: str | None = None
    board_model: str | None = None
    soc: str | None = None
    bundle_id: str | None = None
    variant: str | None = None
    variant_sha256: str | None = None
    source: str = "live"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _context(context: Mapping[str, Any] | None) -> dict[str, str | None]:
    ctx = dict(context or {})
    out = {k: (None if ctx.get(k) in (None, "") else str(ctx[k])) for k in _CONTEXT_KEYS}
    if out["board"] is None and out["board_model"]:
        out["board"] = board_from_model_string(out["board_model"] or "")
    return out


def live_provenance(
    meter_name: str, meter_spec: str, meter_kind: str, context: Mapping[str, Any] | None = None
) -> Provenance:
    """Provenance of a figure measured here and now on ``meter_name``."""
    ctx = _context(context)
    if meter_kind == "estimated":
        kind, reason = "estimated", f"{meter_name} is a model, not a meter"
    elif not is_physical_meter(meter_name):
        kind, reason = "unverified", f"{meter_name} is not a physical meter"
    else:
        kind, reason = "measured", f"physical meter {meter_name}, live"
    return Provenance(kind, reason, meter_name, meter_spec, source="live", **ctx)


def recording_provenance(
    header: TraceHeader, events_header: Mapping[str, Any] | None, source: str
) -> Provenance:
    """Provenance of a replayed recording: measured only with full, consistent provenance."""
    ev = _context(events_header)
    tr = _context({k: getattr(header, k) for k in _CONTEXT_KEYS})
    merged = {k: tr[k] or ev[k] for k in _CONTEXT_KEYS}
    base = Provenance("unverified", "", header.meter, header.meter_spec, source=source, **merged)

    def verdict(kind: str, reason: str) -> Provenance:
        return Provenance(**{**base.to_dict(), "kind": kind, "reason": reason})

    if header.kind == "estimated" or str(header.meter or "").startswith("model"):
        return verdict("estimated", f"the trace is an estimate ({header.meter or 'kind=estimated'})")
    if header.kind != "measured":
        said = f"kind={header.kind}" if header.kind else "no kind line"
        return verdict("unverified", f"the trace header says {said}; only kind=measured can count")
    if not is_physical_meter(header.meter):
        return verdict("unverified", f"meter {header.meter or '(not named)'} is not a physical meter")
    missing = [k for k in ("board", "bundle_id") if not tr[k]]
    if missing:
        return verdict("unverified", f"the trace header does not name {' and '.join(missing)}")
    if events_header is None:
        return verdict("unverified", "no event log")
    for key in ("board", "bundle_id", "variant", "variant_sha256"):
        if ev[key] and tr[key] and ev[key] != tr[key]:
            return verdict(
                "unverified", f"trace and event log disagree on {key} ({tr[key]} vs {ev[key]})"
            )
    return verdict("measured", f"recorded with physical meter {header.meter} on {tr['board']}")


def is_measured_on_target(
    energy: Mapping[str, Any],
    *,
    target_board: str,
    variant_sha256: str | None,
    board: Mapping[str, Any] | None = None,
) -> tuple[bool, str]:
    """Whether an energy figure (an ``EnergyResult.to_dict()``) counts as measured on the target.

    ``variant_sha256`` is the SHA-256 of the build's variant file. ``board`` is what the bench
    recorded beside the figure (``board``/``board_model``/``soc`` of the board it ran on, and
    ``variant_sha256`` of the file it benched); the figure's own provenance wins where both name a
    board. Every variant digest either names must equal the build's, and at least one must be
    named. Returns (verdict, reason): one line a build report can show beside a budget left
    *not evaluated*.
    """
    kind = energy.get("kind")
    prov = dict(energy.get("provenance") or {})
    if kind != "measured" or prov.get("kind", "measured") != "measured":
        why = prov.get("reason") or "not from a physical meter"
        return False, f"energy is {kind or 'of unknown kind'}, not measured ({why})"
    bench = dict(board or {})
    identity = _context({**bench, **{k: v for k, v in prov.items() if v}})
    if identity["board"] is None:
        model = identity["board_model"] or "unknown"
        return False, f"the bench does not say which board it ran on (board model: {model})"
    if identity["board"] != target_board:
        return False, (
            f"measured on {identity['board']} ({identity['board_model'] or 'model unknown'}), "
            f"but [target] board is {target_board}"
        )
    if not variant_sha256:
        return False, "the build has no variant file digest to compare with"
    named = {str(d) for d in (prov.get("variant_sha256"), bench.get("variant_sha256")) if d}
    if not named:
        return False, "the bench does not record which variant file it measured (no SHA-256)"
    other = sorted(named - {variant_sha256})
    if other:
        return False, (
            f"measured variant file sha256 {other[0][:12]}..., not this build's "
            f"{variant_sha256[:12]}... (re-run edgekit bench on this build's bundle)"
        )
    meter = prov.get("meter") or energy.get("meter")
    return True, (
        f"measured on {identity['board']} with {meter}, variant file sha256 {variant_sha256[:12]}... "
        f"(bench bundle {identity['bundle_id'] or 'not recorded'})"
    )
