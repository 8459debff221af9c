"""The daemon's periodic work, apart from the loop: publishing closed energy windows, and reading
the battery gauge to let the governor switch the variant or the inference rate."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from edgekit.errors import EdgekitError, MeterError
from edgekit.runtime.energy import INVALID_WHY
from edgekit.runtime.finite import finite_fields
from edgekit.runtime.model import load_runner
from edgekit.runtime.parts import Parts

__all__ = ["govern", "publish_energy", "stop_energy"]

Note = Callable[..., None]
"""``note(level, kind, message, **data)``: a JSON log line and a journal event."""


def publish_energy(p: Parts, now: float, note: Note) -> None:
    """Close the rolling energy window if it is over; metrics, status and journal get it.

    Every payload passes ``finite_fields`` (a NaN would make the journal refuse the event). A
    window made invalid by non-finite readings is journaled as a warning (at most one per
    window), so a meter gone wrong is on record, not only counted as unresolved."""
    if p.energy is None:
        return
    try:
        window = p.energy.poll(now)
    except MeterError as e:
        stop_energy(p, e, note)
        return
    if window is None:
        return
    extra: dict[str, Any] = {}
    if p.sampler is not None:
        # failed reads left a gap (nothing stored for them): the window says how many it spans
        failed = p.sampler.failed_between(window.start_s, window.start_s + window.duration_s)
        extra = {"failed_reads": failed, "failed_reads_total": p.sampler.failed_reads}
        if failed:
            window = dataclasses.replace(
                window, why=f"{window.why}; {failed} failed meter reads (a gap, not filled in)"
            )
    fields = finite_fields({**window.to_dict(), **extra})
    p.metrics.energy_windows.labels(str(window.resolved).lower()).inc()
    if window.resolved and window.energy_per_inference_j is not None:
        p.metrics.energy.observe(window.energy_per_inference_j)
        p.metrics.energy_last.labels("total").set(window.energy_per_inference_j)
        p.metrics.energy_last.labels("dynamic").set(window.dynamic_energy_per_inference_j or 0.0)
        p.board.energy = {**fields, "provenance": p.energy.provenance}
        p.journal.add_event("energy", "energy window", **fields)
        return
    if window.why.startswith(INVALID_WHY):
        note("warning", "energy_window_invalid", f"energy window not attributed: {window.why}", **fields)
    if not p.board.energy.get("resolved"):
        p.board.energy = {**fields, "provenance": p.energy.provenance}


def stop_energy(p: Parts, e: MeterError, note: Note) -> None:
    """The meter failed (its sampling thread gave up after ``energy.max_failed_reads`` failed
    reads in a row): energy windows end for this run, said once in the log, the journal and
    the status, and the daemon goes on."""
    if p.energy is None:
        return
    provenance = p.energy.provenance
    p.energy = None
    p.board.energy = {"provenance": provenance, "resolved": False, "why": f"meter failed: {e}"}
    note("error", "energy_meter_failed", f"energy per inference stops for this run: {e}", error=str(e))


def govern(p: Parts, threads: int, note: Note) -> None:
    """Read the gauge, update the governor, and load the variant it asks for."""
    if p.gauge is None or p.governor is None:
        return
    soc = p.gauge.percent()
    p.metrics.battery.set(float("nan") if soc is None else soc / 100.0)
    p.board.battery = {"soc_pct": soc, "status": p.gauge.status(), "gauge": p.gauge.name}
    d = p.governor.update(soc)
    p.board.governor = {"state": d.state, "variant": d.variant, "min_interval_s": d.min_interval_s}
    p.metrics.governor.state(d.state)
    if not d.changed:
        return
    p.metrics.governor_changes.inc()
    extra: dict[str, Any] = {"state": d.state, "variant": d.variant, "soc_pct": soc}
    rate = f", at most one inference per {d.min_interval_s:g} s" if d.min_interval_s else ""
    note(
        "warning" if d.state != "normal" else "info",
        "governor",
        f"battery {soc:.0f} %: governor {d.state}, variant {d.variant}{rate}",
        **extra,
    )
    current = p.engine.primary.name if p.engine.primary is not None else None
    if d.variant == current:
        return
    try:
        runner = load_runner(p.bundle, d.variant, threads=threads)
    except EdgekitError as e:
        note("error", "variant_switch_failed", f"cannot load {d.variant}: {e}")
        return
    old = p.engine.swap_primary(runner)
    if old is not None:
        old.close()
    p.set_model_info(runner)
