"""What a running daemon reports about itself: counters and rolling figures kept as results
are announced, a JSON snapshot served at ``/status``, and the one-screen text ``edgekit
status`` prints from it.

Announced results are appended to a backlog and counted when a snapshot is taken (or every
``FOLD_EVERY``): at 2 Hz the loop's Python runs with cold caches, and an append costs less
than the counters and deques it would otherwise update per result."""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from typing import Any

import numpy as np

from edgekit.runtime.backlog import FOLD_EVERY, Backlog

__all__ = ["EMULATOR_ID_PREFIX", "FOLD_EVERY", "StatusBoard", "energy_source", "render_status"]

_RATE_WINDOW_S = 60.0

EMULATOR_ID_PREFIX = 0xED6E_5CA9
"""The high 32 bits of the device ID ``edgekit emulate`` sends in its HELLO (its only identity
on the wire: HELLO carries no name). A real scanner's ID never has them; the emulator's default
``device_id`` is checked against this by a test."""


def _is_emulator(scanner: dict[str, Any]) -> bool:
    try:
        return int(str(scanner.get("device_id")), 0) >> 32 == EMULATOR_ID_PREFIX
    except ValueError:
        return False


def energy_source(provenance: str, scanner: dict[str, Any]) -> str:
    """The energy line's provenance: the link meter fed by ``edgekit emulate`` reads simulated
    power, so it says so; a real scanner's power monitor stays "measured by link"."""
    if provenance.startswith("measured by link") and _is_emulator(scanner):
        return (
            "simulated by the emulator (edgekit emulate, device "
            f"{scanner.get('device_id')}) over the link" + provenance[len("measured by link"):]
        )
    return provenance


def _pct(values: deque[float], q: float) -> float | None:
    return float(np.percentile(np.fromiter(values, float), q)) if values else None


class StatusBoard:
    """Mutable state the daemon updates; ``snapshot()`` is what ``/status`` returns."""

    def __init__(self, *, bundle: str, port: str, journal: str) -> None:
        self.started_wall = time.time()
        self.started_s = time.monotonic()
        self.info: dict[str, Any] = {"bundle": bundle, "port": port, "pid": os.getpid()}
        self.counts: Counter[str] = Counter()
        self.results: Counter[str] = Counter()
        self.fallback_reasons: Counter[str] = Counter()
        self.link_errors: Counter[str] = Counter()
        self.latency_s: deque[float] = deque(maxlen=1000)
        self.inference_s: deque[float] = deque(maxlen=1000)
        self._arrivals: deque[float] = deque()
        self.scanner: dict[str, Any] = {}
        self.model: dict[str, Any] = {}
        self.energy: dict[str, Any] = {}
        self.battery: dict[str, Any] = {}
        self.governor: dict[str, Any] = {"state": "normal"}
        self.drift: dict[str, Any] = {}
        self.journal: dict[str, Any] = {"path": journal}
        # the journal writer's counters (``JournalStats``), read when a snapshot is asked for
        # rather than copied here after every commit
        self.journal_stats: Any = None
        # (status, reason, latency_s, inference_s) per announced result, folded by ``fold``
        self._backlog: Backlog[tuple[str, str | None, float | None, float]] = Backlog(self._count)

    def arrival(self, now_s: float) -> None:
        self.counts["captures"] += 1
        self._arrivals.append(now_s)

    def announced(self, status: str, reason: str | None, latency_s: float | None, inference_s: float) -> None:
        """One announced result (counted by ``fold``, at the next snapshot at the latest)."""
        self._backlog.add((status, reason, latency_s, inference_s))

    def fold(self) -> None:
        """Count every result in the backlog."""
        self._backlog.fold()

    def _count(self, row: tuple[str, str | None, float | None, float]) -> None:
        status, reason, latency_s, inference_s = row
        self.results[status] += 1
        if status == "fallback" and reason:
            self.fallback_reasons[reason] += 1
        if latency_s is not None:
            self.latency_s.append(latency_s)
        if status in ("ok", "unknown", "fallback"):
            self.inference_s.append(inference_s)

    def snapshot(self) -> dict[str, Any]:
        self.fold()
        now = time.monotonic()
        while self._arrivals and self._arrivals[0] < now - _RATE_WINDOW_S:
            self._arrivals.popleft()
        total = sum(self.results.values())
        span = min(_RATE_WINDOW_S, now - self.started_s) or 1.0
        lat, inf = self.latency_s, self.inference_s
        return {
            **self.info,
            "started_at": self.started_wall,
            "uptime_s": now - self.started_s,
            "rate_hz": len(self._arrivals) / span,
            "counts": dict(self.counts),
            "results": dict(self.results),
            "results_total": total,
            "unknown_share": (self.results["unknown"] / total) if total else None,
            "fallback_share": (self.results["fallback"] / total) if total else None,
            "fallback_reasons": dict(self.fallback_reasons),
            "link_errors": dict(self.link_errors),
            "latency_ms": {"p50": _ms(_pct(lat, 50)), "p99": _ms(_pct(lat, 99)), "n": len(lat)},
            "inference_ms": {"p50": _ms(_pct(inf, 50)), "p99": _ms(_pct(inf, 99)), "n": len(inf)},
            "scanner": self.scanner,
            "model": self.model,
            "energy": self.energy,
            "battery": self.battery,
            "governor": self.governor,
            "drift": self.drift,
            "journal": self._journal(),
        }

    def _journal(self) -> dict[str, Any]:
        st = self.journal_stats
        if st is None:
            return self.journal
        return {
            **self.journal,
            "commits": st.commits,
            "results": st.results,
            "mean_commit_ms": st.commit_s_total / max(1, st.commits) * 1e3,
            "failed_commits": st.failed_commits,
        }


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1e3


def _f(v: Any, spec: str = ".3g", unit: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v != v:  # NaN
        return "-"
    return f"{format(v, spec)}{unit}"


def render_status(s: dict[str, Any]) -> str:
    """One screen of text from a ``/status`` snapshot."""
    sc, m, en, bat, gov, dr = s["scanner"], s["model"], s["energy"], s["battery"], s["governor"], s["drift"]
    res = s["results"]
    up = int(s["uptime_s"])
    lines = [
        f"edgekit run  pid {s['pid']}  up {up // 3600}h{up % 3600 // 60:02d}m{up % 60:02d}s  "
        f"bundle {s['bundle']} ({str(s.get('bundle_id') or '?')[:12]})",
        f"model     {m.get('variant', '-')} ({m.get('runtime', '-')})  "
        f"baseline {m.get('baseline') or 'none'}",
        f"scanner   {sc.get('state', '-')}  firmware {sc.get('firmware', '-')}  "
        f"protocol {sc.get('protocol', '-')}  port {s['port']}",
        f"captures  {s['counts'].get('captures', 0)}  rate {_f(s['rate_hz'], '.2f')} Hz  "
        f"lost {s['counts'].get('captures_lost', 0)}  refused {s['counts'].get('captures_refused', 0)}  "
        f"reconnects {s['counts'].get('reconnects', 0)}  resets {s['counts'].get('resets', 0)}",
        f"results   {s['results_total']}  ok {res.get('ok', 0)}  unknown {res.get('unknown', 0)} "
        f"({_f(s['unknown_share'], '.1%')})  fallback {res.get('fallback', 0)} "
        f"({_f(s['fallback_share'], '.1%')})  unavailable {res.get('unavailable', 0)}  "
        f"skipped {res.get('skipped', 0)}",
        f"latency   capture-to-result p50 {_f(s['latency_ms']['p50'], '.2f', ' ms')}  "
        f"p99 {_f(s['latency_ms']['p99'], '.2f', ' ms')}   inference p50 "
        f"{_f(s['inference_ms']['p50'], '.3f', ' ms')}  p99 {_f(s['inference_ms']['p99'], '.3f', ' ms')}",
    ]
    if en.get("energy_per_inference_j") is not None:
        lines.append(
            f"energy    {_f(en['energy_per_inference_j'] * 1e3, '.3g', ' mJ')}/inference total, "
            f"{_f((en.get('dynamic_energy_per_inference_j') or 0) * 1e3, '.3g', ' mJ')} dynamic "
            f"(+/-{_f((en.get('uncertainty_per_inference_j') or 0) * 1e3, '.2g', ' mJ')})  "
            f"{energy_source(en.get('provenance', ''), sc)}"
        )
    else:
        lines.append(
            f"energy    - ({en.get('why', 'no window yet')}; "
            f"{energy_source(en.get('provenance', 'no meter'), sc)})"
        )
    lines.append(
        f"battery   {_f(bat.get('soc_pct'), '.0f', ' %')} {bat.get('status', '')}  "
        f"governor {gov.get('state', '-')} (variant {gov.get('variant', m.get('variant', '-'))})"
    )
    if dr:
        lines.append(
            f"drift     {'DRIFTING' if dr.get('drifting') else 'stable'}  worst {dr.get('worst', '-')} "
            f"PSI {_f(dr.get('worst_psi'), '.3f')} (threshold {_f(dr.get('threshold'), '.2f')}, "
            f"window {dr.get('window', '-')})"
        )
    else:
        lines.append("drift     - (no window evaluated yet, or no reference statistics)")
    j = s["journal"]
    lines.append(
        f"journal   {j.get('path', '-')}  commits "
        f"{j.get('commits', 0)}  mean commit {_f(j.get('mean_commit_ms'), '.2f', ' ms')}"
        + (
            f"  FAILED commits {j['failed_commits']} ({s['counts'].get('unjournaled', 0)} captures "
            "unanswered, unjournaled)"
            if j.get("failed_commits")
            else ""
        )
    )
    if s["link_errors"]:
        lines.append("link      errors " + ", ".join(f"{k} {v}" for k, v in sorted(s["link_errors"].items())))
    return "\n".join(lines)
