"""The daemon's Prometheus metrics, and the HTTP endpoint that serves them (and ``/status``).

Names follow Prometheus conventions: ``edgekit_`` prefix, base units (seconds, joules, ratio),
``_total`` for counters. The registry is the daemon's own (not the library's global one) with
the process collector added (``process_cpu_seconds_total``, ``process_resident_memory_bytes``).
The server binds 127.0.0.1 unless told otherwise and answers ``/metrics`` (text exposition)
and ``/status`` (the JSON summary ``edgekit status`` prints).

Per-capture figures (captures, results, latency, inference and commit histograms) are not
observed by the loop one by one: it appends each to a backlog, folded into the metrics when
they are collected (a scrape, ``get_sample_value``) or every ``FOLD_EVERY`` results. At 2 Hz
each prometheus-client call runs with cold caches: the five or six per capture cost about
0.1 ms of the loop's CPU, an append costs a tenth of that (bench/README.md, bench_daemon).
"""

from __future__ import annotations

import json
import os
import selectors
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)

from edgekit.errors import UsageError
from edgekit.runtime.backlog import FOLD_EVERY, Backlog
from edgekit.runtime.osthread import name_os_thread

if TYPE_CHECKING:
    from edgekit.runtime.engine import Outcome

__all__ = ["FOLD_EVERY", "GOVERNOR_STATES", "DaemonMetrics", "MetricsServer", "serve"]

GOVERNOR_STATES = ["normal", "low", "critical"]
_LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
_INFERENCE_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
_ENERGY_BUCKETS_J = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1)
_COMMIT_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class DaemonMetrics:
    """Every metric of the daemon, with one method per thing observed."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        # first in the registry: a scrape folds the backlog before any metric is read
        r.register(_Fold(self))
        # appended by the loop thread, folded by whichever thread collects
        self._backlog: Backlog[tuple[Outcome, float]] = Backlog(self._observe_row)
        self._commit_backlog: Backlog[float] = Backlog(self._observe_commit)
        self._captured = 0  # captures seen by the loop (only it writes), folded by difference
        self._captured_folded = 0
        self._fold_lock = threading.Lock()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        p = "edgekit_"
        self.captures = Counter(f"{p}captures_received", "Captures that arrived whole", registry=r)
        self.captures_lost = Counter(
            f"{p}captures_lost", "Captures that never arrived whole (gaps in capture ids)", registry=r
        )
        self.captures_refused = Counter(
            f"{p}captures_refused",
            "Captures not inferred: format differs from the bundle's",
            ["reason"],
            registry=r,
        )
        self.packets_lost = Counter(
            f"{p}link_packets_lost", "Packets of any type missing from the sequence numbers", registry=r
        )
        self.link_errors = Counter(
            f"{p}link_errors", "Frames dropped or packets refused, by kind", ["kind"], registry=r
        )
        self.disconnects = Counter(f"{p}link_disconnects", "Serial link lost", registry=r)
        self.reconnects = Counter(f"{p}link_reconnects", "Serial link re-opened", registry=r)
        self.resets = Counter(f"{p}scanner_resets", "Scanner reboots seen", registry=r)
        self.compatible = Gauge(
            f"{p}scanner_compatible",
            "1 when the scanner's format matches the bundle, 0 when refused",
            registry=r,
        )
        self.scanner = Info(f"{p}scanner", "The scanner the daemon talks to (from HELLO)", registry=r)
        self.model = Info(f"{p}model", "The bundle and the variant answering now", registry=r)
        self.inferences = Counter(
            f"{p}inferences",
            "Model inferences answered, by variant and label ('unknown' below the OOD threshold)",
            ["variant", "label"],
            registry=r,
        )
        self.results = Counter(f"{p}results", "Results announced, by status", ["status"], registry=r)
        self.unknowns = Counter(f"{p}unknown", "Results without a label ('unknown')", registry=r)
        self.fallbacks = Counter(
            f"{p}fallbacks", "Results answered by the baseline, by reason", ["reason"], registry=r
        )
        self.unavailable = Counter(
            f"{p}unavailable", "Results with no model able to answer, by reason", ["reason"], registry=r
        )
        self.skipped = Counter(f"{p}skipped", "Captures the governor did not infer", registry=r)
        self.undelivered = Counter(
            f"{p}results_undelivered", "Results journaled but not sent (link down)", registry=r
        )
        self.unjournaled = Counter(
            f"{p}results_unjournaled",
            "Captures decided but never answered: the journal refused their records (disk full, I/O error)",
            registry=r,
        )
        self.latency = Histogram(
            f"{p}capture_to_result_latency_seconds",
            "Capture end (device clock mapped to host) to RESULT sent",
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.inference = Histogram(
            f"{p}inference_duration_seconds",
            "Inference call alone, by source (model, baseline)",
            ["source"],
            buckets=_INFERENCE_BUCKETS_S,
            registry=r,
        )
        self.preprocess = Histogram(
            f"{p}preprocess_duration_seconds",
            "Preprocessing of one capture",
            buckets=_INFERENCE_BUCKETS_S,
            registry=r,
        )
        self.energy = Histogram(
            f"{p}energy_per_inference_joules",
            "Energy per inference of each resolved rolling window (total, incl. idle share)",
            buckets=_ENERGY_BUCKETS_J,
            registry=r,
        )
        self.energy_last = Gauge(
            f"{p}energy_per_inference_last_joules",
            "Latest resolved window, total or dynamic (above idle)",
            ["kind"],
            registry=r,
        )
        self.energy_windows = Counter(
            f"{p}energy_windows", "Rolling energy windows, resolved or not", ["resolved"], registry=r
        )
        self.energy_meter = Info(f"{p}energy_meter", "Where the energy figures come from", registry=r)
        self.battery = Gauge(
            f"{p}battery_state_of_charge_ratio", "Battery state of charge 0..1 (NaN: no gauge)", registry=r
        )
        self.battery.set(float("nan"))
        self.governor = Enum(
            f"{p}governor_state", "Battery governor state", states=GOVERNOR_STATES, registry=r
        )
        self.governor_changes = Counter(f"{p}governor_changes", "Governor state changes", registry=r)
        self.drift = Gauge(
            f"{p}drift_score",
            "Population stability index of the rolling window vs the bundle's reference, by statistic",
            ["statistic"],
            registry=r,
        )
        self.drift_detected = Gauge(f"{p}drift_detected", "1 while drift is above threshold", registry=r)
        self.drift_events = Counter(f"{p}drift_events", "Drift threshold crossings", registry=r)
        self.commits = Counter(f"{p}journal_commits", "Journal transactions committed", registry=r)
        self.commit_duration = Histogram(
            f"{p}journal_commit_duration_seconds",
            "COMMIT (with fsync) duration",
            buckets=_COMMIT_BUCKETS_S,
            registry=r,
        )
        self.internal_errors = Counter(
            f"{p}internal_errors", "Periodic bookkeeping that failed (a bug: please report)", registry=r
        )
        # Children of the labelled per-result metrics, each made on first use and kept: a
        # ``.labels(...)`` call takes a lock, builds a tuple of str and looks it up, several
        # microseconds each at 2 Hz, where every call runs with cold caches.
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Any, name: str, *values: str) -> Any:
        key = (name, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    # -- per-capture figures: appended by the loop, folded when collected ----------------------
    def captured(self) -> None:
        """One capture arrived whole (``edgekit_captures_received_total``)."""
        self._captured += 1

    def committed(self, seconds: float) -> None:
        """One journal transaction committed in ``seconds``."""
        self._commit_backlog.add(seconds)

    def announced(self, o: Outcome, latency_s: float) -> None:
        """One announced result: folded later into its status and label, latency, the
        preprocessing and inference time by source, fallbacks, "unavailable" and skips by
        reason, and unknowns (one call per result from the daemon's loop)."""
        self._backlog.add((o, latency_s))

    def fold(self) -> None:
        """Observe everything in the backlog (a scrape calls this first)."""
        with self._fold_lock:
            n = self._captured
            if n != self._captured_folded:
                self.captures.inc(n - self._captured_folded)
                self._captured_folded = n
        self._commit_backlog.fold()
        self._backlog.fold()

    def _observe_commit(self, seconds: float) -> None:
        self.commits.inc()
        self.commit_duration.observe(seconds)

    def _observe_row(self, row: tuple[Outcome, float]) -> None:
        self._observe(*row)

    def result(self, status: str, variant: str | None, label: str, latency_s: float | None) -> None:
        """Observe one result's status, label and latency now (children cached)."""
        self._child(self.results, "results", status).inc()
        if status in ("ok", "unknown") and variant is not None:
            self._child(self.inferences, "inferences", variant, label).inc()
        if latency_s is not None:
            self.latency.observe(latency_s)

    def _observe(self, o: Outcome, latency_s: float) -> None:
        status = o.status
        self.result(status, o.model, o.display_label, latency_s)
        if status == "ok" or status == "unknown":
            self.preprocess.observe(o.preprocess_s)
            self._child(self.inference, "inference", "model").observe(o.inference_s)
        elif status == "fallback":
            self._child(self.fallbacks, "fallbacks", o.reason or "error").inc()
            self._child(self.inference, "inference", "baseline").observe(o.inference_s)
        elif status == "unavailable":
            self._child(self.unavailable, "unavailable", o.reason or "error").inc()
        elif status == "skipped":
            self.skipped.inc()
        if o.unknown:
            self.unknowns.inc()


class _Fold:
    """A collector with no metrics of its own: collecting it folds the daemon's backlog, and
    it is registered first, so every scrape sees every result announced before it."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        self._metrics.fold()
        return []


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class MetricsServer:
    """The HTTP endpoint on its own thread; ``close`` stops it.

    ``serve_forever`` wakes every 0.5 s to look for a shutdown request: on a daemon that
    answers two captures a second that is one more wake-up per capture, and wake-ups are what
    an idle daemon's CPU goes on (bench/bench_daemon.py). This thread sleeps until a request
    comes or ``close`` writes to its pipe."""

    def __init__(self, server: WSGIServer) -> None:
        self._server = server
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="edgekit-metrics", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def _serve(self) -> None:
        name_os_thread("ek-metrics")  # so per-thread CPU figures can name it
        with selectors.DefaultSelector() as sel:
            sel.register(self._server, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = sel.select()  # no timeout: a request or close() wakes it
                if any(key.fileobj == self._wake_r for key, _ in ready):
                    return
                self._server.handle_request()  # the socket is readable: does not block

    def close(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        self._server.server_close()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)


def serve(
    host: str, port: int, metrics: DaemonMetrics, status: Callable[[], dict[str, Any]]
) -> MetricsServer:
    """Serve ``/metrics`` and ``/status`` on ``host:port`` (port 0: any free port)."""
    prom = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/status":
            body = json.dumps(status(), default=str).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        if path == "/metrics":
            return prom(environ, start_response)
        body = b"edgekit run: /metrics (Prometheus), /status (JSON)\n"
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [body]

    try:
        server = make_server(host, port, app, _Server, handler_class=_Quiet)
    except OSError as e:
        raise UsageError(f"--metrics-addr {host}:{port}: cannot listen ({e})") from e
    server.timeout = None  # handle_request waits for its request (it is there already)
    return MetricsServer(server)
