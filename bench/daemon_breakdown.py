"""Where the daemon's CPU goes, per capture: ``edgekit run``'s loop in this process against
``edgekit emulate`` on a pty, with each thread's CPU (schedstat, ns) and the main thread's CPU time
inside each part of the loop (``time.thread_time`` around the calls: link poll = wake-ups,
reads and decoding; journal commit = the SQLite write and its fsync; announce = RESULT write,
metrics, drift; engine = handing the capture to the inference thread and waiting for it), and
the link's waits on the port per capture: how many ``select`` calls slept (timeout > 0), and
how many of those ended on their timeout rather than on bytes (timer wake-ups).

Companion of ``bench_daemon.py`` (which measures the daemon as a subprocess, untouched); this
one instruments it, so its totals run a little higher. Same bundle (the reference CNN,
onnx-fp32, with a drift reference).

``--profile N`` also runs cProfile on the loop thread during the measured span (timer
``time.thread_time``, so the figures are that thread's CPU) and prints its N costliest
functions by own time and by cumulative time (the profiler's hooks add their own cost: read
the shares, not the absolute figures).

``--handoff N`` measures only the engine's hand-off to the inference thread, without the
daemon: N rounds paced at ``--rate``, each timing an empty job three ways, in turn: called
directly, through ``edgekit.runtime.engine.Watchdog`` (a job queue and an answer queue) and
through a two-lock hand-off (the lighter primitive tried); CPU of the calling thread and of the
process (the worker's side included) per call, medians.

    .venv/bin/python bench/daemon_breakdown.py [--rate 20] [--meter none|link] [--seconds 20]
        [--profile 30]
    .venv/bin/python bench/daemon_breakdown.py --handoff 100 --rate 2
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_daemon import DaemonProbe, Snapshot, cpu_between, make_bundle  # noqa: E402

from edgekit.bundle import load_bundle  # noqa: E402
from edgekit.runtime.daemon import Daemon  # noqa: E402
from edgekit.runtime.engine import Watchdog  # noqa: E402
from edgekit.runtime.jsonlog import StructuredLog  # noqa: E402
from edgekit.runtime.settings import load_settings  # noqa: E402
from firmware_bridge import link as link_module  # noqa: E402


class _CountingSelect:
    """Stands in for the ``select`` module inside ``firmware_bridge.link``: counts the waits."""

    def __init__(self, window: dict[str, bool]) -> None:
        self.window = window
        self.sleeps = 0
        self.timeouts = 0

    def select(self, r: Any, w: Any, x: Any, timeout: float | None = None) -> Any:
        got = select.select(r, w, x, timeout)
        if self.window["on"] and (timeout is None or timeout > 0):
            self.sleeps += 1
            self.timeouts += not got[0]
        return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--meter", default="none", choices=["none", "link"])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup-s", type=float, default=300.0)  # TIME rounds reach one a minute at ~4.7 min
    ap.add_argument(
        "--power-period-ms", type=int, help="[runtime.energy] power_period_ms (default: the daemon's)"
    )
    ap.add_argument("--profile", type=int, default=0, help="print the N costliest loop-thread functions")
    ap.add_argument("--handoff", type=int, default=0, help="time N paced hand-offs only (no daemon)")
    args = ap.parse_args()
    if args.handoff:
        _handoff(args.handoff, 1.0 / args.rate)
        return
    with tempfile.TemporaryDirectory(prefix="daemon-breakdown-") as t:
        tmp = Path(t)
        bundle = make_bundle(tmp / "bundle")
        link = tmp / "scanner"
        power = "100"  # the scanner's default; the daemon asks for its own period by CONFIG
        emu = subprocess.Popen(
            [sys.executable, "-m", "edgekit", "emulate", "--symlink", str(link), "--rate",
             str(args.rate), "--seed", "9", "--power-period-ms", power],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while not link.exists():
                time.sleep(0.05)
            _run(args, bundle, link, tmp)
        finally:
            emu.send_signal(signal.SIGTERM)
            try:
                emu.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a loaded host: do not leave it behind
                emu.kill()
                emu.wait()


def _run(args: argparse.Namespace, bundle: Path, link: Path, tmp: Path) -> None:
    settings = load_settings(
        None, variant=None, meter=args.meter, metrics_addr="127.0.0.1:0",
        **{"journal.path": str(tmp / "journal.sqlite"), "energy.power_period_ms": args.power_period_ms},
    )  # fmt: skip
    with open(os.devnull, "w") as quiet:
        daemon = Daemon(load_bundle(bundle), str(link), settings, log=StructuredLog(stream=quiet))
        parts = daemon.parts
        spent: dict[str, float] = {}
        window = {"on": False}

        def timed(obj: Any, name: str, label: str) -> None:
            fn: Callable[..., Any] = getattr(obj, name)

            def wrapper(*a: Any, **k: Any) -> Any:
                t0 = time.thread_time()
                try:
                    return fn(*a, **k)
                finally:
                    if window["on"]:
                        spent[label] = spent.get(label, 0.0) + time.thread_time() - t0

            setattr(obj, name, wrapper)

        timed(parts.link, "poll", "link poll (wake-ups, reads, decoding, session)")
        timed(daemon, "_capture", "capture (format check, decode, engine, record)")
        timed(parts.engine, "decide", "  of which the engine (hand-off to the inference thread, wait)")
        timed(parts.journal, "commit", "journal commit (SQLite write + fsync)")
        timed(daemon, "_announce", "announce (RESULT write, metrics, drift)")
        timed(parts.link, "send_result", "  of which the RESULT write")
        timed(daemon, "_periodic", "periodic (energy, governor)")
        waits = _CountingSelect(window)
        link_module.select = waits  # type: ignore[assignment]
        start = time.monotonic()
        marks: dict[str, Any] = {}
        prof = cProfile.Profile(time.thread_time) if args.profile else None

        probe = DaemonProbe(os.getpid(), tmp / "journal.sqlite")

        def threads() -> Snapshot:  # schedstat: ns per thread (the journal is not read here)
            return Snapshot(probe.threads(), probe.stat_s(), 0)

        def should_stop() -> bool:
            now = time.monotonic()
            if "a" not in marks and now - start >= args.warmup_s:
                marks["a"] = (threads(), parts.journal.stats.results, time.process_time())
                window["on"] = True
                if prof is not None:
                    prof.enable()
            elif "a" in marks and now - start >= args.warmup_s + args.seconds:
                window["on"] = False
                if prof is not None:
                    prof.disable()
                marks["b"] = (threads(), parts.journal.stats.results, time.process_time())
                return True
            return False

        daemon.run(should_stop)
    link_module.select = select
    (ta, ra, pa), (tb, rb, pb) = marks["a"], marks["b"]
    n = max(1, rb - ra)
    print(
        f"rate {args.rate:g} Hz, meter {args.meter}, load avg {psutil.getloadavg()[0]:.1f}: {n} results "
        f"in {args.seconds:g} s from {args.warmup_s:g} s after start; process CPU "
        f"{(pb - pa) / n * 1e3:.3f} ms per capture"
    )
    _, per_thread, notes = cpu_between(ta, tb)
    for name, ns in sorted(per_thread.items(), key=lambda kv: -kv[1]):
        print(f"  thread {name}: {ns / 1e6 / n:.3f} ms per capture (schedstat)")
    for note in notes:
        print(f"  note: {note}")
    for label, cpu in spent.items():
        print(f"  main thread in {label}: {cpu / n * 1e3:.3f} ms per capture")
    print(
        f"  waits on the port: {waits.sleeps / n:.2f} per capture, of which {waits.timeouts / n:.2f} "
        "ended on their timeout (timer wake-ups)"
    )
    if prof is not None:
        calls = pstats.Stats(prof).total_calls  # type: ignore[attr-defined]
        print(f"  loop-thread function calls (Python and C, profiled): {calls / n:.0f} per capture")
        for key in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(key).print_stats(args.profile)
            print(f"-- loop thread, cProfile by {key} (seconds of thread CPU over {n} results) --")
            print(out.getvalue().split("\n\n", 2)[-1].rstrip())


class _LockWatchdog:
    """A lighter hand-off tried for ``edgekit.runtime.engine.Watchdog`` (not adopted: no
    cheaper in this measurement): two locks, each held until the other side releases it, one
    slot for the job and one for its answer (a busy watchdog takes no job, so one is enough)."""

    def __init__(self) -> None:
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._job: Callable[[], Any] | None = None
        self._answer: tuple[bool, Any] = (False, None)
        self._in_flight = False
        threading.Thread(target=self._work, daemon=True).start()

    @property
    def busy(self) -> bool:
        if self._in_flight and self._done.acquire(blocking=False):
            self._in_flight = False
        return self._in_flight

    def call(self, fn: Callable[[], Any], timeout_s: float) -> tuple[str, Any]:
        if self.busy:
            return "busy", None
        self._job, self._in_flight = fn, True
        self._go.release()
        if not self._done.acquire(timeout=max(0.0, timeout_s)):
            return "timeout", None
        self._in_flight = False
        ok, value = self._answer
        return ("done", value) if ok else ("error", value)

    def _work(self) -> None:
        while True:
            self._go.acquire()
            fn = self._job
            try:
                self._answer = (True, fn()) if fn is not None else (False, None)
            except Exception as e:
                self._answer = (False, e)
            self._done.release()


def _handoff(rounds: int, gap_s: float) -> None:
    def empty() -> None:
        return None

    watchdog, locks = Watchdog(), _LockWatchdog()
    ways: dict[str, Callable[[], Any]] = {
        "direct call": empty,
        "Watchdog (two queues)": lambda: watchdog.call(empty, 1.0),
        "two locks (alternative)": lambda: locks.call(empty, 1.0),
    }
    caller: dict[str, list[float]] = {k: [] for k in ways}
    proc: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            time.sleep(gap_s)
            p0, t0 = time.process_time(), time.thread_time()
            way()
            caller[name].append(time.thread_time() - t0)
            time.sleep(0.005)  # let the worker's side finish inside the process figure
            proc[name].append(time.process_time() - p0)
    print(
        f"hand-off of an empty job, {rounds} rounds every {gap_s:g} s, load avg "
        f"{psutil.getloadavg()[0]:.1f} (medians; process CPU includes the worker's side):"
    )
    direct = statistics.median(proc["direct call"])
    for name in ways:
        c, pr = statistics.median(caller[name]), statistics.median(proc[name])
        print(
            f"  {name:26s} calling thread {c * 1e3:.3f} ms, process {pr * 1e3:.3f} ms "
            f"(+{(pr - direct) * 1e3:.3f} ms over the direct call)"
        )
    watchdog.close()


if __name__ == "__main__":
    main()
