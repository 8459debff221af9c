"""``edgekit run``: the loop that ties the link, the engine, the journal and the monitors.

One thread does the work (the inference watchdog and the HTTP endpoint have their own): poll
the link until the next deadline (a journal commit, an energy window, the governor), decide
each capture, queue its record, and announce (RESULT, metrics, drift) only what the journal
has committed. Commits are grouped: one per batch of input that arrived together, and within a
long batch one per ``commit_interval_ms`` (or ``commit_max_records``); with ``[runtime.journal]
group = "interval"`` one per ``commit_interval_ms`` across batches. SIGTERM or SIGINT end
the loop; shutdown commits and announces what is pending, asks the scanner to stop, checkpoints
the journal and closes everything.

A commit the file system refuses (disk full, I/O error, the journal deleted) does not stop the
daemon: that group's captures are never answered, they are booked (metric
``edgekit_results_unjournaled_total``, status ``counts.unjournaled``, one ``journal_write_failed``
log line per distinct cause) and the next commit tries again; the first one that succeeds
journals a ``journal_recovered`` event with the outage's totals.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, NamedTuple

from edgekit.bundle import Bundle
from edgekit.errors import MeterError
from edgekit.runtime.engine import Outcome
from edgekit.runtime.finite import finite_fields
from edgekit.runtime.housekeeping import govern, publish_energy, stop_energy
from edgekit.runtime.journal import JournalWriteFailed, ResultRow
from edgekit.runtime.jsonlog import StructuredLog
from edgekit.runtime.link_adapter import sample_format_name
from edgekit.runtime.link_events import (
    CaptureReceived,
    CapturesLost,
    LinkDown,
    LinkErrorSeen,
    LinkUp,
    PacketsLost,
    PowerReceived,
    RuntimeLinkEvent,
    ScannerHello,
    ScannerLog,
    ScannerReset,
)
from edgekit.runtime.model import decode_iq
from edgekit.runtime.parts import Parts, build_parts
from edgekit.runtime.settings import RuntimeSettings

__all__ = ["Daemon", "Pending"]

# The longest the loop sleeps with nothing due: how soon SIGTERM/SIGINT (whose handler only
# sets a flag; the wait is not interrupted) ends the loop. Anything with a deadline sets its
# own wait below; a shorter bound only wakes the daemon for nothing (at 2 captures a second a
# 0.5 s bound raced the next capture and often woke it just before it).
_MAX_WAIT_S = 2.0
_RETENTION_EVERY_S = 600.0


class Pending(NamedTuple):
    """A decided capture waiting for its record's commit (a tuple: one is made per capture,
    and a frozen dataclass's ``__init__`` costs a ``setattr`` per field)."""

    capture_id: int
    ended_at_s: float
    outcome: Outcome


class Daemon:
    """The running daemon (see the module docstring). ``run`` returns the exit code."""

    def __init__(
        self,
        bundle: Bundle,
        port: str,
        settings: RuntimeSettings,
        *,
        log: StructuredLog | None = None,
        roots: dict[str, Any] | None = None,
    ) -> None:
        self.log = log or StructuredLog()
        self.settings = settings
        self.parts: Parts = build_parts(bundle, port, settings, self.log, roots or {})
        self.stop_reason: str | None = None
        self._refusal: str | None = None
        self._capture_refusals: set[str] = set()
        # (sample rate, sample format code, length) of the last capture found compatible: the
        # same triple is not checked (and its problem text not built) again on every capture
        self._compatible: tuple[int, int, int] | None = None
        self._next_governor_s = 0.0
        self._next_retention_s = time.monotonic() + _RETENTION_EVERY_S
        self._periodic_at = 0.0  # monotonic time before which _periodic has nothing to do
        # the journal outage under way: its first failure, and what it cost so far
        self._outage: JournalWriteFailed | None = None
        # the journal's refusal counts (commits, results, events) when the outage began: its
        # cost, reported at recovery, is the journal's counts since
        self._outage_base = (0, 0, 0)

    # -- the loop -------------------------------------------------------------------------------
    def run(self, should_stop: Callable[[], bool] | None = None) -> int:
        p = self.parts
        journal = p.journal
        with _signals(self):
            try:
                while self.stop_reason is None:
                    if should_stop is not None and should_stop():
                        self.stop_reason = "stopped"
                        break
                    events = p.link.poll(self._wait_s())
                    last = len(events) - 1
                    for i, event in enumerate(events):
                        self._handle(event)
                        if i < last:  # a long burst commits at the interval; its end just below
                            self._announce(self._commit(journal.commit_if_due))
                    # Group commit: everything that arrived together shares one commit, made as
                    # soon as the input is drained (or, in a long burst, at the interval above);
                    # with group = "interval", once the oldest record is the interval old.
                    self._announce(self._commit(journal.drained))
                    now = time.monotonic()
                    if now < self._periodic_at:  # nothing periodic is due (see _wait_s)
                        continue
                    self._guarded("periodic", self._periodic, now)
            finally:
                self._shutdown()
        return 0

    def _wait_s(self) -> float:
        """How long the next poll may wait; notes when periodic work is next due (the loop
        skips ``_periodic`` until then: most wake-ups are a capture's, with nothing due)."""
        p = self.parts
        now = time.monotonic()
        periodic_s = self._next_retention_s - now
        if p.gauge is not None:  # without a gauge the governor has nothing to read
            periodic_s = min(periodic_s, self._next_governor_s - now)
        if p.energy is not None:
            try:
                periodic_s = min(periodic_s, p.energy.seconds_until_due(now))
            except MeterError as e:  # the sampler's thread died on it: no crash, no more windows
                stop_energy(p, e, self._note)
        periodic_s = max(0.0, periodic_s)
        self._periodic_at = now + periodic_s
        due = p.journal.seconds_until_due()
        wait = min(_MAX_WAIT_S, periodic_s)
        return wait if due is None else min(wait, due)

    def _shutdown(self) -> None:
        p = self.parts
        with contextlib.suppress(Exception):
            self._announce(self._commit(p.journal.commit))
        p.journal.add_event("stop", f"daemon stopped ({self.stop_reason})", reason=self.stop_reason)
        self._commit(p.journal.commit)
        self._commit(p.journal.commit)  # the journal_recovered event the commit above may queue
        with contextlib.suppress(Exception):
            p.link.refuse()  # ask the scanner to stop streaming into a closed port
        p.close()
        lost = p.board.counts["unjournaled"]
        self.log.emit(
            "info" if not lost else "warning",
            "stopped",
            f"edgekit run stopped ({self.stop_reason})"
            + (f"; {lost} captures were not answered: the journal refused their records" if lost else ""),
            reason=self.stop_reason,
            unjournaled=lost,
        )

    # -- the journal ----------------------------------------------------------------------------
    def _commit(self, commit: Callable[[], list[Any]]) -> list[Any]:
        """Run one of the journal's commits; the tokens it made durable. A refused commit is
        booked (its results are never announced) and the loop goes on."""
        st = self.parts.journal.stats
        commits, refused = st.commits, (st.failed_commits, st.results_dropped, st.events_dropped)
        try:
            tokens = commit()
        except JournalWriteFailed as e:
            if self._outage is None:
                self._outage_base = refused
            self._write_failed(e)
            return []
        if self._outage is not None and st.commits > commits:
            self._recovered()
        return tokens

    def _write_failed(self, e: JournalWriteFailed) -> None:
        p = self.parts
        n = len(e.tokens)
        p.metrics.unjournaled.inc(n)
        p.board.counts["unjournaled"] += n
        if self._outage is None or e.reason != self._outage.reason:  # one line per cause
            self.log.emit(
                "error",
                "journal_write_failed",
                f"{e}: {n} captures not answered (their records are not durable) and booked as "
                f"unjournaled; the next commit tries again",
                reason=e.reason,
                capture_ids=[t.capture_id for t in e.tokens],
                events_lost=e.events,
            )
        self._outage = e

    def _recovered(self) -> None:
        outage = self._outage
        if outage is None:
            return
        st, (commits, results, events) = self.parts.journal.stats, self._outage_base
        reason = outage.reason
        cost = {
            "commits_failed": st.failed_commits - commits,
            "results_lost": st.results_dropped - results,
            "events_lost": st.events_dropped - events,
        }
        self._outage = None
        self._note(
            "warning",
            "journal_recovered",
            f"journal writable again after {cost['commits_failed']} refused commits ({reason}): "
            f"{cost['results_lost']} captures were not answered, {cost['events_lost']} events lost",
            reason=reason,
            **cost,
        )

    # -- events ---------------------------------------------------------------------------------
    def _handle(self, event: RuntimeLinkEvent) -> None:
        p = self.parts
        if isinstance(event, CaptureReceived):
            self._capture(event)
        elif isinstance(event, PowerReceived):
            if p.link_meter is not None:
                p.link_meter.feed(event.samples)
                self._periodic_at = 0.0  # a reading past a window's end lets it close now
        elif isinstance(event, ScannerHello):
            self._hello(event)
        elif isinstance(event, CapturesLost):
            p.metrics.captures_lost.inc(event.count)
            p.board.counts["captures_lost"] += event.count
            p.journal.add_event(
                "captures_lost",
                f"{event.count} captures lost before capture {event.next_capture_id}",
                level="warning",
                count=event.count,
            )
        elif isinstance(event, PacketsLost):
            p.metrics.packets_lost.inc(event.count)
            p.board.counts["packets_lost"] += event.count
        elif isinstance(event, LinkErrorSeen):
            p.metrics.link_errors.labels(event.kind).inc()
            p.board.link_errors[event.kind] += 1
            if event.kind == "version_mismatch":
                self._refuse(f"the scanner speaks another protocol: {event.detail}")
        elif isinstance(event, ScannerReset):
            p.metrics.resets.inc()
            p.board.counts["resets"] += 1
            self._note("warning", "scanner_reset", "the scanner rebooted; handshaking again")
        elif isinstance(event, LinkDown):
            p.metrics.disconnects.inc()
            p.board.counts["disconnects"] += 1
            p.board.scanner["state"] = "disconnected"
            self._note(
                "warning",
                "link_down",
                f"serial link lost ({event.reason}); reconnecting",
                reason=event.reason,
            )
        elif isinstance(event, LinkUp):
            p.metrics.reconnects.inc()
            p.board.counts["reconnects"] += 1
            p.board.scanner["state"] = "connected"
            self._note(
                "info",
                "link_up",
                f"serial link back after {event.attempts} attempts",
                attempts=event.attempts,
            )
        elif isinstance(event, ScannerLog):
            self.log.emit("info", "scanner_log", event.text, scanner_level=event.level)

    def _note(self, level: str, kind: str, msg: str, /, **data: Any) -> None:
        """A JSON log line and a journal event; NaN/inf fields become null, named in
        ``non_finite`` (``edgekit.runtime.finite``): the journal would refuse them."""
        data = finite_fields(data)
        self.log.emit(level, kind, msg, **data)
        self.parts.journal.add_event(kind, msg, level=level, **data)

    def _hello(self, h: ScannerHello) -> None:
        p = self.parts
        fmt = sample_format_name(h.sample_format)
        scanner = {
            "firmware": h.firmware_version,
            "protocol": h.protocol_version,
            "device_id": f"{h.device_id:#018x}",
            "sample_rate_hz": h.sample_rate_hz,
            "sample_format": fmt,
            "samples_per_capture": h.samples_per_capture,
            "power_period_ms": h.power_period_ms,
        }
        if {k: v for k, v in p.board.scanner.items() if k in scanner} != scanner:
            self._note(
                "info",
                "scanner_hello",
                f"scanner {scanner['device_id']} firmware "
                f"{h.firmware_version}, protocol {h.protocol_version}"
                + ("" if h.power_period_ms is None else f", POWER every {h.power_period_ms} ms"),
                **scanner,
            )
            p.metrics.scanner.info({k: str(v) for k, v in scanner.items()})
        p.board.scanner.update(scanner)
        problem = p.capture_spec.mismatch(
            sample_rate_hz=h.sample_rate_hz, sample_format=fmt, samples_per_capture=h.samples_per_capture
        )
        if problem is not None:
            self._refuse(problem)
            return
        if self._refusal is not None:
            self._note("info", "scanner_accepted", "the scanner's format matches the bundle again")
        self._refusal = None
        p.metrics.compatible.set(1)
        p.board.scanner["state"] = "streaming"
        p.link.accept()

    def _refuse(self, problem: str) -> None:
        p = self.parts
        p.metrics.compatible.set(0)
        p.board.scanner["state"] = f"refused: {problem}"
        p.link.refuse()
        if problem != self._refusal:
            self._refusal = problem
            msg = (
                f"refusing scanner {p.board.scanner.get('device_id', '?')} (firmware "
                f"{p.board.scanner.get('firmware', '?')}): the upstream format changed and "
                f"nobody told us: {problem}; bundle {p.bundle_name} was built for {p.capture_spec_text}"
            )
            self._note("error", "scanner_refused", msg, problem=problem)

    def _capture(self, c: CaptureReceived) -> None:
        p = self.parts
        now = time.monotonic()
        p.metrics.captured()
        p.board.arrival(now)
        if self._refusal is not None:
            self._refuse_capture("scanner refused", c)
            return
        shape = (c.sample_rate_hz, c.sample_format, c.iq.shape[0])
        if shape != self._compatible:
            problem = p.capture_spec.mismatch(
                sample_rate_hz=c.sample_rate_hz,
                sample_format=sample_format_name(c.sample_format),
                samples_per_capture=c.iq.shape[0],
            )
            if problem is not None:
                self._refuse_capture(problem, c)
                return
            self._compatible = shape
        x = decode_iq(c.iq, p.capture_spec.iq_full_scale)
        if p.governor is None or p.governor.admit(now):
            outcome = p.engine.decide(x, age_s=now - c.ended_at_s)
        else:
            outcome = p.engine.skip(
                f"governor critical: at most one inference per "
                f"{self.settings.governor.critical_min_interval_s:g} s"
            )
        done = time.monotonic()
        if p.energy is not None and outcome.source != "none":
            p.energy.note_inference(now, done)
        row = ResultRow(
            at=time.time(),
            capture_id=c.capture_id,
            device_timestamp_us=c.device_timestamp_us,
            status=outcome.status,
            label=outcome.display_label,
            label_index=outcome.label_index,
            confidence=outcome.confidence,
            score=outcome.score,
            source=outcome.source,
            model=outcome.model,
            reason=outcome.reason,
            detail=outcome.detail,
            overrun=outcome.overrun,
            predicted=outcome.predicted,
            latency_ms=(done - c.ended_at_s) * 1e3,
            preprocess_ms=outcome.preprocess_s * 1e3,
            inference_ms=outcome.inference_s * 1e3,
            context=outcome.context,
        )
        p.journal.add_result(row, Pending(c.capture_id, c.ended_at_s, outcome))

    def _refuse_capture(self, problem: str, c: CaptureReceived) -> None:
        p = self.parts
        p.metrics.captures_refused.labels("format").inc()
        p.board.counts["captures_refused"] += 1
        if problem not in self._capture_refusals:  # one line per distinct problem, then counted
            self._capture_refusals.add(problem)
            self._note(
                "error", "capture_refused", f"capture {c.capture_id} not inferred: {problem}", problem=problem
            )

    # -- announcing -----------------------------------------------------------------------------
    def _announce(self, tokens: list[Any]) -> None:
        if not tokens:
            return
        p = self.parts
        m = p.metrics
        m.committed(p.journal.stats.last_commit_s)
        # the status board reads the journal's counters itself (StatusBoard.journal_stats)
        drift = p.drift
        for t in tokens:
            o: Outcome = t.outcome
            latency_s = max(0.0, time.monotonic() - t.ended_at_s)
            status = o.status
            sent = p.link.send_result(
                t.capture_id,
                o.label_index,
                o.confidence,
                latency_s,
                unknown=o.unknown,
                fallback=status == "fallback",
                overrun=o.overrun,
                context=o.context,
            )
            if not sent:
                m.undelivered.inc()
                p.board.counts["undelivered"] += 1
            m.announced(o, latency_s)
            if p.context_metrics is not None:
                p.context_metrics.observe(o.context)
            p.board.announced(status, o.reason, latency_s, o.inference_s)
            if drift is not None and (status == "ok" or status == "unknown"):
                report = drift.observe(o.preprocessed, o.predicted, o.confidence)
                if report is not None:
                    self._drift(report)
            if self.settings.log_results:
                self.log.emit(
                    "info",
                    "result",
                    f"capture {t.capture_id}: {o.display_label}",
                    capture_id=t.capture_id,
                    status=status,
                    confidence=o.confidence,
                )

    def _drift(self, report: Any) -> None:
        p = self.parts
        for name, value in report.scores.items():
            p.metrics.drift.labels(name).set(value)
        p.metrics.drift_detected.set(1 if report.drifting else 0)
        p.board.drift = {
            "drifting": report.drifting,
            "worst": report.worst,
            "worst_psi": report.worst_psi,
            "threshold": report.threshold,
            "window": report.window,
        }
        if report.changed:
            if report.drifting:
                p.metrics.drift_events.inc()
            word = "detected" if report.drifting else "ended"
            self._note(
                "warning" if report.drifting else "info",
                f"drift_{word}",
                f"drift {word}: {report.worst} PSI {report.worst_psi:.3f} (threshold "
                f"{report.threshold:g}, last {report.window} captures)",
                scores={k: round(v, 4) for k, v in report.scores.items()},
            )

    # -- periodic -------------------------------------------------------------------------------
    def _guarded(self, task: str, work: Callable[..., None], /, *args: Any) -> None:
        """Run one piece of bookkeeping; its failure must not stop the answers: say so loudly."""
        try:
            work(*args)
        except Exception as e:
            self.parts.metrics.internal_errors.inc()
            self.log.emit(
                "error", "internal_error", f"periodic task {task} failed: {type(e).__name__}: {e}", task=task
            )

    def _periodic(self, now: float) -> None:
        p = self.parts
        # each task on its own: a failing energy window must not starve the governor or retention
        self._guarded("energy", publish_energy, p, now, self._note)
        if now >= self._next_governor_s:
            self._next_governor_s = now + self.settings.governor.poll_s
            self._guarded("governor", govern, p, self.settings.threads, self._note)
        if now >= self._next_retention_s:
            self._next_retention_s = now + _RETENTION_EVERY_S
            self._announce(self._commit(p.journal.commit))
            self._commit(lambda: (p.journal.enforce_retention(), [])[1])  # no results to announce


class _Stop:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.daemon.stop_reason = signal.Signals(signum).name


@contextlib.contextmanager
def _signals(daemon: Daemon) -> Iterator[None]:
    """SIGTERM / SIGINT end the loop gracefully (main thread only; elsewhere left alone)."""
    handler = _Stop(daemon)
    try:
        saved = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for s, old in saved.items():
            signal.signal(s, old)
