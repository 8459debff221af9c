"""Wiring: everything the daemon loop uses, built from a verified bundle and the settings.

Kept apart from the loop so that ``daemon.py`` reads as the loop alone. The order matters
where a failure should stop the start (a bad journal path, a busy metrics port, a bad meter
spec: one line, exit 2) and where it should not (a primary model that cannot load: the daemon
runs on the baseline, or answers "unavailable", and says so).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.bundle import Bundle
from edgekit.energy import Sampler, detect_meter, open_meter
from edgekit.energy.meters.base import Meter, TraceSource
from edgekit.errors import EdgekitError, MeterError, UsageError
from edgekit.runtime.baseline import Baseline, load_baseline
from edgekit.runtime.battery_gauge import BatteryGauge, open_gauge
from edgekit.runtime.context import ContextMetrics, ContextTable
from edgekit.runtime.drift import DriftMonitor
from edgekit.runtime.energy import RollingEnergy
from edgekit.runtime.engine import Engine
from edgekit.runtime.governor import Governor, pick_cheaper_variant
from edgekit.runtime.journal import Journal, JournalWriteFailed
from edgekit.runtime.jsonlog import StructuredLog
from edgekit.runtime.link_adapter import ScannerLink
from edgekit.runtime.metrics import DaemonMetrics, MetricsServer, serve
from edgekit.runtime.model import CaptureSpec, ModelRunner, load_runner, manifest_budget_s
from edgekit.runtime.settings import RuntimeSettings, parse_addr
from edgekit.runtime.status import StatusBoard

__all__ = ["Parts", "baseline_label", "build_parts"]

_MAX_POLL_HZ = 50.0  # polled meters: enough samples for 10 s windows, little CPU
_RECHECK_S = 0.05  # a window past its end looks for a sampled reading after it this often


class Parts:
    """The daemon's collaborators (attributes), and ``close`` for all of them."""

    bundle: Bundle
    bundle_name: str
    capture_spec: CaptureSpec
    capture_spec_text: str
    engine: Engine
    journal: Journal
    metrics: DaemonMetrics
    server: MetricsServer | None
    board: StatusBoard
    link: ScannerLink
    meter: Meter | None
    link_meter: Any
    sampler: Sampler | None
    energy: RollingEnergy | None
    drift: DriftMonitor | None
    gauge: BatteryGauge | None
    governor: Governor | None
    context_metrics: ContextMetrics | None = None  # with a bundle that carries context

    def set_model_info(self, runner: ModelRunner | None) -> None:
        baseline = self.engine.baseline
        info = {
            "bundle": self.bundle_name,
            "variant": runner.name if runner is not None else "none",
            "runtime": runner.backend.name if runner is not None else "none",
            "baseline": baseline_label(baseline),
        }
        self.metrics.model.info(info)
        self.board.model = {
            **info,
            "baseline_accuracy": baseline.accuracy if baseline else None,
            "load_error": self.engine.primary_error,
        }

    def close(self) -> None:
        for closer in (
            self.journal.close,
            self.link.close,
            self.engine.close,
            *([self.sampler.stop] if self.sampler is not None else []),
            *([self.meter.close] if self.meter is not None else []),
            *([self.server.close] if self.server is not None else []),
        ):
            with contextlib.suppress(Exception):  # closing must go on whatever failed before
                closer()


def baseline_label(baseline: Any) -> str:
    """What the fallback is, for the run log, ``/status`` and the metrics' info: its kind and
    the model or rule name the build recorded (``model rfclass-trees (trees.toml)``, ``rule
    energy-detector``), not the runner's internal name (``baseline:model``)."""
    if baseline is None:
        return "none"
    kind, name = str(baseline.kind), str(baseline.name)
    source = str(getattr(baseline, "source", "") or "").strip()
    if kind == "rule":
        # the build's default source is "rule NAME": say it once
        return f"rule {name}" + (f" ({source})" if source and source != f"rule {name}" else "")
    return f"{kind} {source or name.removeprefix('baseline:')}"


def _open_meter(spec: str, roots: dict[str, Any]) -> Meter:
    if spec != "auto":
        return open_meter(spec, **roots)
    try:
        return detect_meter(allow_estimate=False, **roots)
    except MeterError:
        # no board meter: the scanner's own monitor over the link (windows say "unresolved"
        # when it sends no POWER frames); pass --meter model:<board> for a labelled estimate
        return open_meter("link", **roots)


def build_parts(
    bundle: Bundle, port: str, settings: RuntimeSettings, log: StructuredLog, roots: dict[str, Any]
) -> Parts:
    """Build every part; raises ``EdgekitError`` (exit 2) for what the operator must fix."""
    p = Parts()
    p.bundle = bundle
    manifest = bundle.manifest
    p.bundle_name = str(manifest.get("name", bundle.root.name))
    p.capture_spec = CaptureSpec.from_manifest(manifest)
    cs = p.capture_spec
    p.capture_spec_text = (
        f"{cs.sample_rate_hz or '?'} Hz, {cs.sample_format}, "
        f"{cs.samples_per_capture or '?'} samples ({cs.source})"
    )
    variant = settings.variant or manifest.get("selected")
    bundle.variant(variant)  # an unknown --variant is the operator's mistake: refuse now
    labels = [str(v) for v in manifest.get("labels") or []]
    primary: ModelRunner | None = None
    primary_error: str | None = None
    try:
        primary = load_runner(bundle, variant, threads=settings.threads)
    except EdgekitError as e:
        primary_error = str(e)
        log.emit(
            "error", "model_load_failed", f"variant {variant} cannot load: {e}; answering from the baseline"
        )
    baseline: Baseline | None = None
    try:
        baseline = load_baseline(bundle, threads=settings.threads)
    except EdgekitError as e:
        log.emit("error", "baseline_load_failed", f"the baseline cannot load: {e}; no fallback")
    budget_ms = settings.latency_budget_ms
    budget_s = budget_ms / 1e3 if budget_ms is not None else manifest_budget_s(manifest)
    context = ContextTable.from_manifest(manifest)  # None for a bundle built without context
    p.engine = Engine(
        labels,
        primary,
        baseline,
        budget_s=budget_s,
        reserve_s=settings.baseline_reserve_ms / 1e3,
        primary_error=primary_error,
        annotate=context.attach if context is not None else None,
    )
    _warm_up(p.engine, log, p.capture_spec.samples_per_capture or 1024)
    try:
        p.journal = Journal(Path(settings.journal.path), settings.journal)
        p.metrics = DaemonMetrics()
        p.context_metrics = ContextMetrics(p.metrics.registry) if context is not None else None
        p.board = StatusBoard(bundle=p.bundle_name, port=port, journal=settings.journal.path)
        p.board.info["bundle_id"] = bundle.bundle_id
        p.board.journal_stats = p.journal.stats
        p.server = None
        if settings.metrics_addr != "off":
            host, tcp = parse_addr(settings.metrics_addr)
            p.server = serve(host, tcp, p.metrics, p.board.snapshot)
        p.set_model_info(primary)
        _energy(p, settings, roots)
        reference = manifest.get("reference_statistics") or {}
        p.drift = None
        if settings.drift.enabled and reference:
            d = settings.drift
            p.drift = DriftMonitor(
                reference, labels, window=d.window, every=d.every, threshold=d.threshold_psi
            )
        sysfs = Path(roots.get("sysfs_root", "/sys"))
        p.gauge = open_gauge(settings.governor.battery, sysfs) if settings.governor.enabled else None
        current = primary.name if primary is not None else str(variant)
        cheaper = pick_cheaper_variant(manifest, current, settings.governor.low_variant)
        p.governor = Governor(settings.governor, primary=current, cheaper=cheaper)
        p.metrics.governor.state("normal")
        # POWER batches only feed the link meter: without it, ask the scanner for none
        power_ms = settings.energy.power_period_ms if p.link_meter is not None else 0
        p.link = ScannerLink(port, settings.link, power_period_ms=power_ms)
    except BaseException:
        _close_partial(p)
        raise
    try:
        deleted = p.journal.enforce_retention()
        p.journal.add_event(
            "start",
            f"edgekit run started on {port}",
            bundle=p.bundle_name,
            bundle_id=bundle.bundle_id,
            variant=current,
            baseline=p.board.model.get("baseline"),
            budget_s=budget_s,
            capture=p.capture_spec_text,
            retention_deleted=deleted,
        )
        p.journal.commit()
    except JournalWriteFailed as e:  # a journal that cannot take a record cannot serve
        p.close()
        raise UsageError(f"{e}; free space or fix the journal's folder, then start again") from e
    log.emit(
        "info",
        "started",
        f"edgekit run: bundle {p.bundle_name} variant {current} on {port}",
        bundle_id=bundle.bundle_id,
        baseline=p.board.model.get("baseline"),
        budget_ms=None if budget_s is None else budget_s * 1e3,
        journal=settings.journal.path,
        metrics=settings.metrics_addr,
        meter=p.board.energy.get("provenance"),
    )
    if cs.sample_rate_hz is None:
        log.emit(
            "warning",
            "capture_format_unchecked",
            "the bundle has no capture section: the "
            "scanner's sample rate and format cannot be checked, only the capture length",
        )
    return p


def _warm_up(engine: Engine, log: StructuredLog, length: int) -> None:
    """First calls are slow (allocation, lazy init): pay them before the first capture, and
    say whether the baseline is really the cheaper answer."""
    noise = np.random.default_rng(0).normal(0.0, 1.0, (1, 2, length)).astype(np.float32)
    times = engine.warm_up(noise)
    prim, base = times.get("primary"), times.get("baseline")
    if isinstance(prim, float) and isinstance(base, float) and base > prim:
        log.emit(
            "warning",
            "baseline_slower",
            f"the baseline takes {base * 1e3:.2f} ms, the primary "
            f"{prim * 1e3:.2f} ms: falling back on overrun will not shorten the answer",
            primary_ms=prim * 1e3,
            baseline_ms=base * 1e3,
        )


def _energy(p: Parts, settings: RuntimeSettings, roots: dict[str, Any]) -> None:
    p.meter, p.link_meter, p.sampler, p.energy = None, None, None, None
    if settings.meter == "none":
        p.board.energy = {"provenance": "no meter (--meter none)"}
        return
    meter = _open_meter(settings.meter, roots)
    p.meter = meter
    if hasattr(meter, "feed"):
        p.link_meter = meter
    source: TraceSource
    if isinstance(meter, TraceSource):
        source = meter
    else:
        rate = min(meter.info.sample_rate_hz, _MAX_POLL_HZ)
        p.sampler = Sampler(meter, rate, max_failures=settings.energy.max_failed_reads)
        p.sampler.start()
        source = p.sampler
    e = settings.energy
    # The link meter's readings come in POWER events, each of which wakes the loop: no timer
    # is needed while a window waits for them. Other sources fill behind the loop's back.
    p.energy = RollingEnergy(
        source,
        meter.info,
        window_s=e.window_s,
        min_samples=e.min_samples,
        start_s=time.monotonic(),
        recheck_s=None if p.link_meter is not None else _RECHECK_S,
    )
    p.metrics.energy_meter.info(
        {
            "meter": meter.info.name,
            "spec": meter.info.spec,
            "kind": meter.info.kind,
            "measures": meter.info.measures,
            "method": p.energy.provenance,
        }
    )
    p.board.energy = {"provenance": p.energy.provenance}


def _close_partial(p: Parts) -> None:
    for name in ("server", "journal", "sampler", "meter", "engine"):
        part = getattr(p, name, None)
        if part is None:
            continue
        with contextlib.suppress(Exception):
            (part.stop if name == "sampler" else part.close)()
