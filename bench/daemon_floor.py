"""The floor of the daemon's CPU per capture: what the fewest real steps that keep issue 10's
guarantees (read the capture off a serial port, commit its result durably, then answer) cost on
top of preprocessing + the bare inference call, at the reference rate. One process, the reference
CNN (onnx-fp32, 1 thread, ``bench_daemon.make_bundle``), paced at ``--rate`` (default the bundle's
``battery.duty_hz``, 2 Hz); cumulative steps, each the previous plus one piece:

0. ``bench_daemon.PacedBaseline.run``: a sleep of one period, then preprocessing + ``backend.run``;
1. + ``select`` on a real pty (raw mode) and ``os.read`` of a CAPTURE that a forked "scanner"
   process writes once per period (pre-encoded with ``firmware_bridge.codec.encode``), decoded by
   ``firmware_bridge.protocol.Decoder`` and ``decode_iq`` (int16 -> float32, as the daemon);
2. + label and confidence, one result row committed by the daemon's own ``Journal`` (SQLite WAL,
   ``synchronous=FULL``: a lone row is one autocommit INSERT + fsync);
3. + a RESULT packet encoded and written to the pty (the scanner reads it);
2N. step 2 with ``synchronous=NORMAL`` (survives kill -9, not power loss).

Clock: ``time.process_time`` (user + system of this process, ns resolution) from before the wait
to after the capture's last piece; the scanner's CPU is not counted. Each of ``--rounds`` rounds
runs every step for ``--seconds``, the order rotated by one per round; a step's figure is the
median over rounds (with the range), its overhead the median over rounds of (step - step 0) /
step 0 in the same round. Not in the floor: metrics, drift, the JSON log, the host session
(HELLO, TIME, heartbeats), energy, the board, the watchdog thread hand-off of ``edgekit run``.

    .venv/bin/python bench/daemon_floor.py [--rate 2] [--rounds 5] [--seconds 10]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import select
import sys
import tempfile
import time
import tty
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_daemon import PacedBaseline, make_bundle  # noqa: E402

from edgekit.bundle import load_bundle  # noqa: E402
from edgekit.data.synth import CLASSES, generate, to_int16_iq  # noqa: E402
from edgekit.runtime.journal import Journal, ResultRow  # noqa: E402
from edgekit.runtime.model import decode_iq  # noqa: E402
from edgekit.runtime.settings import JournalSettings  # noqa: E402
from firmware_bridge.codec import encode  # noqa: E402
from firmware_bridge.events import Packet  # noqa: E402
from firmware_bridge.messages import Capture, Result  # noqa: E402
from firmware_bridge.protocol import Decoder  # noqa: E402

__all__ = ["STEPS", "main"]

STEPS = ("0", "1", "2", "3", "2N")
LABELS = {
    "0": "preprocessing + bare inference (baseline)",
    "1": "+ select on the pty, read, decode CAPTURE, int16 -> float32",
    "2": "+ label, one result row committed (WAL, synchronous=FULL)",
    "3": "+ RESULT encoded and written to the pty",
    "2N": "step 2 with synchronous=NORMAL",
}
PIECES = ("wait+read+decode", "preprocess+inference", "label+commit", "RESULT")  # + reads per capture
FULL_SCALE = 16.0  # the bundle's capture.iq_full_scale (bench_daemon.make_bundle)


def _scanner(master: int, ctrl: Connection, captures: list[Capture]) -> None:
    """The other end of the pty: on ``n`` from ``ctrl``, encode ``n`` CAPTURE packets (seq and
    device clock continuing), then write one per period; read (and drop) the RESULTs throughout."""
    seq, k = 0, 0
    t0 = time.monotonic()
    while True:
        ready = select.select([ctrl.fileno(), master], [], [])[0]
        if master in ready:
            os.read(master, 65536)
        if ctrl.fileno() not in ready:
            continue
        command = ctrl.recv()
        if command is None:
            return
        n, rate = command
        wire = []
        for _ in range(n):
            ts = int((time.monotonic() - t0) * 1e6)
            wire.append(encode(captures[k % len(captures)], seq, ts))
            seq, k = (seq + 1) % 65536, k + 1
        start = time.monotonic()
        for i, packet in enumerate(wire):
            due = start + (i + 1) / rate
            while (left := due - time.monotonic()) > 0:
                if select.select([master], [], [], left)[0]:
                    os.read(master, 65536)
            os.write(master, packet)


class Floor:
    """The daemon's minimal per-capture path on the reading end of a pty, step by step."""

    def __init__(self, pacer: PacedBaseline, port: int, ctrl: Connection, tmp: Path) -> None:
        self.pacer, self.port, self.ctrl = pacer, port, ctrl
        self.decoder = Decoder("host")
        self.journals = {
            mode: Journal(tmp / f"journal-{mode.lower()}.sqlite", JournalSettings(synchronous=mode))
            for mode in ("FULL", "NORMAL")
        }
        self.seq = 0
        self.other_events = 0
        self.reads = 0
        self.timeout_s = 5.0
        self.split: dict[str, list[np.ndarray]] = {}

    def _capture(self) -> tuple[Packet, Capture]:
        """Wait on the port and read until a CAPTURE packet has been decoded."""
        while True:
            event = self.decoder.next_event()
            if isinstance(event, Packet) and isinstance(event.message, Capture):
                return event, event.message
            if event is not None:
                self.other_events += 1  # none expected: the scanner's stream is clean
                continue
            if select.select([self.port], [], [], self.timeout_s)[0]:
                self.reads += 1  # a pty hands over at most 4095 bytes per read: 2 per CAPTURE
                self.decoder.receive_data(os.read(self.port, 65536))
            else:
                raise SystemExit(f"daemon_floor: no CAPTURE from the scanner process in {self.timeout_s:g} s")

    def run(self, step: str, seconds: float, rate: float) -> tuple[float, int]:
        """(CPU seconds, captures) of ``step`` over ``seconds`` at ``rate``; the CPU of each piece
        (``PIECES``) per capture, this run's mean, goes to ``self.split[step]``."""
        if step == "0":
            return self.pacer.run(seconds, rate)
        n = max(1, int(seconds * rate))
        pipe, backend = self.pacer.pipe, self.pacer.backend
        journal = self.journals["NORMAL" if step == "2N" else "FULL"]
        self.timeout_s = 5.0 + 3.0 / rate
        self.ctrl.send((n, rate))
        reads0, split = self.reads, np.zeros(len(PIECES))
        for _ in range(n):
            c = [time.process_time()]  # one clock read per piece boundary (~1 us each)
            packet, capture = self._capture()
            x = decode_iq(capture.iq, FULL_SCALE)
            c.append(time.process_time())
            logits = backend.run(pipe(x))
            c.append(time.process_time())
            if step != "1":
                z = np.exp(logits[0] - logits[0].max())
                label = int(z.argmax())
                confidence = float(z[label] / z.sum())
                row = ResultRow(
                    at=time.time(), capture_id=capture.capture_id,
                    device_timestamp_us=packet.timestamp_us, status="ok", label=CLASSES[label],
                    label_index=label, confidence=confidence, score=confidence, source="model",
                    model="onnx-fp32", reason=None, detail=None, overrun=False, predicted=None,
                    latency_ms=None, preprocess_ms=None, inference_ms=None,
                )  # fmt: skip
                journal.add_result(row)
                journal.commit()
                c.append(time.process_time())
                if step == "3":
                    result = Result(capture.capture_id, label, confidence, 0)
                    os.write(self.port, encode(result, self.seq, int(time.monotonic() * 1e6)))
                    self.seq = (self.seq + 1) % 65536
                    c.append(time.process_time())
            split[: len(c) - 1] += np.diff(c)
        self.split.setdefault(step, []).append(np.append(split / n, (self.reads - reads0) / n))
        return float(split.sum()), n

    def close(self) -> None:
        for j in self.journals.values():
            j.close()


def _fs_type(path: Path) -> str:
    """The file system holding ``path`` (fsync costs nothing on tmpfs: say where it ran)."""
    parts = [p for p in psutil.disk_partitions(all=True) if str(path).startswith(p.mountpoint)]
    return max(parts, key=lambda p: len(p.mountpoint)).fstype if parts else "unknown file system"


def _pct(a: float, base: float) -> float:
    return (a - base) / base * 100.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, help="captures per second (default: the bundle's duty_hz, 2)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds of every step (default 5)")
    ap.add_argument("--seconds", type=float, default=10.0, help="each step's span per round (default 10)")
    args = ap.parse_args()
    if args.rounds < 1 or args.seconds <= 0 or (args.rate is not None and args.rate <= 0):
        ap.error("--rounds must be >= 1, --seconds and --rate > 0")
    print(
        f"host: {platform.machine()} python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load avg {psutil.getloadavg()[0]:.2f} at start; clock: time.process_time (this process)"
    )
    master, port = os.openpty()
    tty.setraw(port)  # a serial port as pyserial opens it: no echo, no line editing
    raw = to_int16_iq(generate(50, seed=5).x)
    captures = [
        Capture.from_iq(raw[i], capture_id=i, sample_rate_hz=1_000_000, centre_freq_hz=433_920_000)
        for i in range(len(raw))
    ]
    # the scanner is forked before any model is loaded (it only encodes bytes and writes them)
    ctrl, child_end = mp.Pipe()
    scanner = mp.get_context("fork").Process(target=_scanner, args=(master, child_end, captures), daemon=True)
    scanner.start()
    os.close(master)
    per: dict[str, list[float]] = {s: [] for s in STEPS}
    over: dict[str, list[float]] = {s: [] for s in STEPS}
    with tempfile.TemporaryDirectory(prefix="daemon-floor-") as t:
        tmp = Path(t)
        bundle = make_bundle(tmp / "bundle")
        rate = args.rate or float(load_bundle(bundle).manifest["battery"]["duty_hz"])
        pacer = PacedBaseline(bundle)
        floor = Floor(pacer, port, ctrl, tmp)
        for step in ("3", "2N"):  # warm-up of the port, both journals and the codec
            floor.run(step, 2 / rate, rate)
        floor.split.clear()
        print(
            f"rate {rate:g} Hz, {args.rounds} rounds x {len(STEPS)} steps x {args.seconds:g} s; "
            f"journal in {tmp} ({_fs_type(tmp)})"
        )
        try:
            for r in range(args.rounds):
                order = STEPS[r % len(STEPS) :] + STEPS[: r % len(STEPS)]
                got: dict[str, float] = {}
                for step in order:
                    cpu, n = floor.run(step, args.seconds, rate)
                    got[step] = cpu / max(1, n)
                for s in STEPS:
                    per[s].append(got[s])
                    over[s].append(_pct(got[s], got["0"]))
                print(f"round {r + 1}: " + ", ".join(f"{s} {got[s] * 1e3:.3f} ms" for s in STEPS), flush=True)
        finally:
            floor.close()
            pacer.close()
            ctrl.send(None)
            scanner.join(timeout=10)
    print(f"\nCPU ms per capture at {rate:g} Hz, median of {args.rounds} rounds (min..max); vs step 0")
    for s in STEPS:
        ms = np.array(per[s]) * 1e3
        line = f"  step {s:>2}  {np.median(ms):7.3f} ms ({ms.min():.3f}..{ms.max():.3f})"
        if s != "0":
            o = np.array(over[s])
            line += f"  {np.median(o):+7.1f} % ({o.min():+.1f}..{o.max():+.1f})"
        print(f"{line}  {LABELS[s]}")
        if s != "0":
            parts = np.median(np.array(floor.split[s]), axis=0) * 1e3
            pieces = zip(PIECES[: {"1": 2, "3": 4}.get(s, 3)], parts, strict=False)
            print(
                "           split (ms): " + ", ".join(f"{k} {v:.3f}" for k, v in pieces)
                + f"; {parts[-1] / 1e3:.1f} reads of the port per capture"
            )  # fmt: skip
    if floor.other_events:
        print(f"  note: {floor.other_events} link events other than CAPTURE packets were decoded")
    verdict = float(np.median(over["3"]))
    print(
        f"load avg {psutil.getloadavg()[0]:.2f} at end.\n"
        f"A daemon doing only steps 1-3 (read, durable commit, RESULT) is "
        f"{'WITHIN' if verdict <= 10.0 else 'NOT within'} +10 % of the baseline on this host "
        f"({verdict:+.1f} %, median over rounds); metrics, drift, log, host session, energy, board "
        f"and the watchdog thread of `edgekit run` are not in this floor."
    )


if __name__ == "__main__":
    main()
