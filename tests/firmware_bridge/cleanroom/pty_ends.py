"""The clean-room ends on a real pseudo-terminal: a scanner (device end, §6.2) that the real
`edgekit run` talks to, and a host (§6.1, §6.3 in its simplest form) that talks to the real
`edgekit emulate`. Only wire.py's codec; the policy here is the spec's, kept minimal."""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from pathlib import Path
from typing import Any

from cleanroom.wire import FLAG_BOOT, Endpoint, Message, Receiver

__all__ = ["PtyHost", "PtyScanner"]

CAP_HEARTBEAT, CAP_TIME_SYNC = 0x02, 0x20  # §5.1 capability bits


class PtyScanner:
    """A scanner of protocol 1.2 behind a pty symlinked at ``path``: BOOT HELLO every 250 ms until
    a command acknowledges it, PONG + HELLO, HELLO for START/STOP/CONFIG, TIME_REPLY stamped at
    arrival, HEARTBEAT every 1 s; captures are sent by the test with ``capture``."""

    def __init__(self, path: Path, *, samples: int, rate_hz: int = 1_000_000, time_sync: bool = True) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.path = path
        os.symlink(os.ttyname(self.slave), path)
        self.samples, self.rate_hz = samples, rate_hz
        self.capabilities = CAP_HEARTBEAT | (CAP_TIME_SYNC if time_sync else 0)
        self.lock = threading.Lock()
        self.results: list[Message] = []
        self.commands: list[Message] = []
        self.first_bytes = b""
        self.boot_id = 0x1234_5678
        self._stop = threading.Event()
        self.reboot(self.boot_id)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    # -- the device's state: one boot
    def reboot(self, boot_id: int) -> None:
        """§6.2.1: a new boot ID, sequence from 0, clock from 0, IDLE, BOOT HELLOs until acked."""
        with self.lock:
            self.boot_id = boot_id
            self.tx = Endpoint()
            self.rx = Receiver(host=False)
            self.t0 = time.monotonic_ns() // 1000
            self.state, self.acked, self.capture_period_ms = 0, False, 0
            self.next_boot_hello = 0.0
            self.next_heartbeat = time.monotonic() + 1.0
            self.sent = 0

    def now_us(self) -> int:
        return time.monotonic_ns() // 1000 - self.t0

    def _send(self, name: str, fields: dict[str, Any] | None = None, flags: int = 0) -> bytes:
        """Encode and write one packet (the lock held by the caller)."""
        data = self.tx.send(name, fields, timestamp_us=self.now_us(), flags=flags)
        os.write(self.master, data)
        return data

    def _hello(self, boot: bool = False) -> None:
        self._send("HELLO", {
            "firmware_major": 2, "firmware_minor": 0, "firmware_patch": 1, "device_id": 0xC1EA2,
            "sample_rate_hz": self.rate_hz, "samples_per_capture": self.samples,
            "centre_freq_hz": 433_920_000, "capabilities": self.capabilities,
            "boot_id": self.boot_id, "state": self.state,
            "capture_period_ms": self.capture_period_ms, "power_period_ms": 0,
        }, flags=FLAG_BOOT if boot else 0)  # fmt: skip

    def capture(self, capture_id: int, iq: bytes, *, corrupt: bool = False) -> bytes:
        """Send one CAPTURE (``corrupt``: one non-delimiter byte changed, so its CRC fails)."""
        with self.lock:
            data = self.tx.send("CAPTURE", {
                "capture_id": capture_id, "sample_rate_hz": self.rate_hz,
                "centre_freq_hz": 433_920_000, "gain_db": 10.0, "iq": iq,
            }, timestamp_us=self.now_us())  # fmt: skip
            if corrupt:
                b = bytearray(data)
                b[40] = b[40] % 254 + 1 if b[40] + 1 != 0 else 1
                data = bytes(b)
            os.write(self.master, data)
            self.sent += 1
            return data

    def skip(self, n: int) -> None:
        """Consume ``n`` sequence numbers without sending: packets lost on the link."""
        with self.lock:
            self.tx.seq = (self.tx.seq + n) % 65536

    def raw(self, data: bytes) -> None:
        with self.lock:
            os.write(self.master, data)

    def _handle(self, m: Message, t_arrival_us: int) -> None:
        if m.name == "RESULT":
            self.results.append(m)
            return
        self.commands.append(m)
        self.acked = True  # §6.2.1: any valid command acknowledges the BOOT HELLO
        if m.name == "PING":
            self._send("PONG", {"token": m.fields["token"]})
            self._hello()
        elif m.name in ("START", "STOP"):
            self.state = 1 if m.name == "START" else 2
            self._hello()
        elif m.name == "CONFIG":
            if m.fields["capture_period_ms"]:
                self.capture_period_ms = m.fields["capture_period_ms"]
            self._hello()
        elif m.name == "TIME_REQUEST":
            self._send("TIME_REPLY", {"t1_us": m.fields["t1_us"], "t2_us": t_arrival_us,
                                      "t3_us": self.now_us()})  # fmt: skip

    def _loop(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self.master], [], [], 0.05)
            with self.lock:
                if readable:
                    t = self.now_us()
                    try:
                        data = os.read(self.master, 65536)
                    except OSError:
                        data = b""
                    if len(self.first_bytes) < 256:
                        self.first_bytes += data
                    for m in self.rx.feed(data):
                        self._handle(m, t)
                now = time.monotonic()
                if not self.acked and now >= self.next_boot_hello:
                    self._hello(boot=True)
                    self.next_boot_hello = now + 0.25
                if now >= self.next_heartbeat:
                    self._send("HEARTBEAT", {
                        "uptime_s": self.now_us() // 1_000_000, "captures_sent": self.sent,
                        "captures_dropped": 0, "rx_errors": sum(self.rx.errors.values()),
                        "boot_id": self.boot_id, "host_packets_lost": self.rx.seq.counts["lost"],
                        "state": self.state,
                    })  # fmt: skip
                    self.next_heartbeat = now + 1.0

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        if self.path.is_symlink():
            self.path.unlink()
        os.close(self.master)
        os.close(self.slave)


class PtyHost:
    """A host on the pty at ``path``: 0x00 + PING at open (§6.1), then whatever the test sends;
    ``read`` collects every message the §4 receiver accepts."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(os.path.realpath(path), os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.tx = Endpoint()
        self.rx = Receiver(host=True)
        self.t0 = time.monotonic_ns() // 1000
        self.log: list[tuple[int, Message]] = []  # (host µs at arrival, message)

    def now_us(self) -> int:
        return time.monotonic_ns() // 1000 - self.t0

    def send(self, name: str, fields: dict[str, Any] | None = None) -> None:
        os.write(self.fd, self.tx.send(name, fields, timestamp_us=self.now_us()))

    def open_handshake(self) -> None:
        os.write(self.fd, b"\x00")
        self.send("PING", {"token": 0xC0FFEE})

    def read(self, seconds: float, until: Any = None) -> list[Message]:
        """Messages for up to ``seconds``, or until ``until(message)`` is true."""
        got: list[Message] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.fd], [], [], 0.05)
            if not readable:
                continue
            t = self.now_us()
            for m in self.rx.feed(os.read(self.fd, 65536)):
                self.log.append((t, m))
                got.append(m)
                if until is not None and until(m):
                    return got
        return got

    def close(self) -> None:
        os.close(self.fd)
