"""A clean-room implementation of both ends of the scanner wire protocol, written from
firmware_bridge/PROTOCOL.md (1.2) alone: nothing from firmware_bridge or edgekit.

Why it exists: outside reviewers test us with "a client written from PROTOCOL.md alone". This is
that client, so the suite finds where the spec and the code disagree first. Only struct and zlib;
COBS is written here too (not the `cobs` package the reference uses), so that a shared library
cannot hide a disagreement about the variant (§2); the tests cross-check it against `cobs`.
Section numbers in comments are PROTOCOL.md's.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "HEADER",
    "HOST_TO_DEVICE",
    "MAJOR",
    "MAX_ENCODED",
    "MAX_PAYLOAD",
    "MINOR",
    "TYPES",
    "Deframer",
    "Endpoint",
    "Message",
    "Packet",
    "Receiver",
    "Refused",
    "SeqTracker",
    "WireError",
    "cobs_decode",
    "cobs_encode",
    "decode_payload",
    "encode_packet",
    "encode_payload",
    "frame",
    "parse_packet",
]  # fmt: skip

MAJOR, MINOR = 1, 2
MAX_PAYLOAD = 4140  # §3.4
MAX_ENCODED = 4177  # §3.4: 4160 + 4160 // 254 + 1
HEADER = struct.Struct("<BBBBHHQ")  # §3.1, 16 bytes
TYPES = {
    0x01: "HELLO", 0x02: "CAPTURE", 0x03: "POWER", 0x04: "HEARTBEAT", 0x05: "LOG", 0x06: "PONG",
    0x07: "TIME_REPLY", 0x81: "START", 0x82: "STOP", 0x83: "CONFIG", 0x84: "RESULT", 0x85: "PING",
    0x86: "TIME_REQUEST",
}  # fmt: skip
CODES = {name: code for code, name in TYPES.items()}
HOST_TO_DEVICE = 0x80  # §3.1: msg_type bit 7
FLAG_OVERFLOW, FLAG_BOOT = 0x01, 0x02  # §3.3
RESULT_CONTEXT = 0x10  # §5.10 flag bit 4

_HELLO10 = struct.Struct("<BBBBHQIBBHQI")  # §5.1, 34 bytes
_HELLO11 = struct.Struct("<IBBIH")  # offsets 34..45
_CAPTURE = struct.Struct("<IIQfBBH")  # §5.2, 24 bytes
_POWER_REC = struct.Struct("<QHi")  # §5.3, 14 bytes
_HB10 = struct.Struct("<IIII")  # §5.4, 16 bytes
_HB11 = struct.Struct("<IIBBH")  # offsets 16..27
_TIME = struct.Struct("<QQQ")  # §5.7
_CONFIG = struct.Struct("<IQfIHH")  # §5.9, 24 bytes
_RESULT = struct.Struct("<IHBBfI")  # §5.10, 16 bytes
_CONTEXT = struct.Struct("<HHHH")  # §5.10, offsets 16..23
_U32 = struct.Struct("<I")
_AT_LEAST = 256  # a minor above any: _need checks "at least", not "exactly"


class WireError(Exception):
    """A frame a receiver drops; ``kind`` is the §4 check that failed: cobs, short, crc, length,
    version, unknown, payload (malformed) or incompatible (§6.5)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class Refused(ValueError):
    """An encoder was asked to send a value outside its wire range (§5.0)."""


# ---------------------------------------------------------------- §2 framing


def cobs_encode(data: bytes) -> bytes:
    """Standard COBS; a final block of exactly 254 bytes gets no trailing 0x01 code (§2)."""
    out, block, pending = bytearray(), bytearray(), True
    for b in data:
        if b == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
            pending = True
        else:
            block.append(b)
            if len(block) == 254:
                out.append(0xFF)
                out += block
                block.clear()
                pending = False
    if block or pending:
        out.append(len(block) + 1)
        out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of ``cobs_encode``; WireError('cobs') on a zero byte or a code past the end."""
    out, i, n = bytearray(), 0, len(data)
    while i < n:
        code = data[i]
        end = i + code
        if code == 0 or end > n or 0 in data[i + 1 : end]:
            raise WireError("cobs", f"bad code {code} at byte {i}")
        out += data[i + 1 : end]
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


@dataclass
class Packet:
    """A packet that passed §4 checks 1-5."""

    minor: int
    msg_type: int
    flags: int
    seq: int
    timestamp_us: int
    payload: bytes
    crc: int
    major: int = MAJOR


def encode_packet(msg_type: int, payload: bytes, *, seq: int, timestamp_us: int, flags: int = 0,
                  minor: int = MINOR, major: int = MAJOR) -> bytes:  # fmt: skip
    """Header + payload + CRC-32 (§3)."""
    if len(payload) > MAX_PAYLOAD:
        raise Refused(f"payload of {len(payload)} bytes > {MAX_PAYLOAD}")
    head = HEADER.pack(major, minor, msg_type, flags, seq & 0xFFFF, len(payload), timestamp_us)
    body = head + payload
    return body + _U32.pack(zlib.crc32(body))


def frame(packet: bytes) -> bytes:
    """COBS + the 0x00 delimiter (§2)."""
    return cobs_encode(packet) + b"\x00"


def parse_packet(encoded: bytes) -> Packet:
    """§4 checks 1-5 on one frame (without its delimiter)."""
    raw = cobs_decode(encoded)
    if len(raw) < HEADER.size + 4:
        raise WireError("short", f"{len(raw)} bytes")
    (crc,) = _U32.unpack_from(raw, len(raw) - 4)
    if zlib.crc32(raw[:-4]) != crc:
        raise WireError("crc")
    major, minor, msg_type, flags, seq, plen, ts = HEADER.unpack_from(raw)
    if plen != len(raw) - 20 or plen > MAX_PAYLOAD:
        raise WireError("length", f"payload_len {plen}, {len(raw) - 20} bytes follow")
    if major != MAJOR:
        raise WireError("version", f"packet {major}.{minor}, receiver {MAJOR}.{MINOR}")
    return Packet(minor, msg_type, flags, seq, ts, raw[16:-4], crc, major)


class Deframer:
    """Splits a byte stream at 0x00 (§4): empty frames ignored, an unterminated frame longer than
    MAX_ENCODED dropped up to the next 0x00 and counted once as a resync."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skipping = False
        self.resyncs = 0

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        for b in data:
            if b == 0:
                if self._buf and not self._skipping:
                    frames.append(bytes(self._buf))
                self._buf.clear()
                self._skipping = False
            elif not self._skipping:
                self._buf.append(b)
                if len(self._buf) > MAX_ENCODED:
                    self._buf.clear()
                    self._skipping = True
                    self.resyncs += 1
        return frames


# ---------------------------------------------------------------- §5 payloads


def _need(payload: bytes, size: int, minor: int, what: str) -> None:
    """§1/§4.8: shorter is malformed; same or older minor must match exactly."""
    if len(payload) < size or (minor <= MINOR and len(payload) != size):
        raise WireError("payload", f"{what}: {len(payload)} bytes, layout {size}")


def _finite(x: float) -> bool:
    return math.isfinite(x)


def decode_payload(p: Packet) -> dict[str, Any]:
    """§4 step 8: the fields of a packet whose type is known, WireError('payload') if malformed,
    WireError('incompatible') for a HELLO the host cannot serve (fields in ``.fields``)."""
    name, pl, m = TYPES[p.msg_type], p.payload, p.minor
    if name == "HELLO":
        _need(pl, 46 if m >= 1 else 34, m, name)
        keys = ("protocol_major", "protocol_minor", "firmware_major", "firmware_minor",
                "firmware_patch", "device_id", "sample_rate_hz", "sample_format", "_r19",
                "samples_per_capture", "centre_freq_hz", "capabilities")  # fmt: skip
        f: dict[str, Any] = dict(zip(keys, _HELLO10.unpack_from(pl), strict=True))
        f.update(boot_id=None, state=None, capture_period_ms=None, power_period_ms=None)
        if m >= 1:
            bid, state, _r39, cp, pp = _HELLO11.unpack_from(pl, 34)
            if bid == 0 or state > 2:
                raise WireError("payload", f"HELLO boot_id {bid} state {state}")
            f.update(boot_id=bid, state=state, capture_period_ms=cp, power_period_ms=pp)
        del f["_r19"]
        reasons = []
        if f["sample_format"] != 1:
            reasons.append(f"sample_format {f['sample_format']}")
        if not 1 <= f["samples_per_capture"] <= 1024:
            reasons.append(f"samples_per_capture {f['samples_per_capture']}")
        if reasons:
            err = WireError("incompatible", ", ".join(reasons))
            err.fields = f  # type: ignore[attr-defined]
            raise err
        return f
    if name == "CAPTURE":
        _need(pl, 24, _AT_LEAST, name)
        cid, rate, freq, gain, fmt, _r, n = _CAPTURE.unpack_from(pl)
        if fmt != 1 or n > 1024 or not _finite(gain):
            raise WireError("payload", f"CAPTURE format {fmt} n {n} gain {gain}")
        _need(pl, 24 + 4 * n, m, name)
        return {"capture_id": cid, "sample_rate_hz": rate, "centre_freq_hz": freq,
                "gain_db": gain, "sample_format": fmt, "iq": bytes(pl[24 : 24 + 4 * n])}  # fmt: skip
    if name == "POWER":
        _need(pl, 2, _AT_LEAST, name)
        (n,) = struct.unpack_from("<H", pl)
        if n > 256:
            raise WireError("payload", f"POWER n {n}")
        _need(pl, 2 + 14 * n, m, name)
        return {"samples": [list(_POWER_REC.unpack_from(pl, 2 + 14 * i)) for i in range(n)]}
    if name == "HEARTBEAT":
        _need(pl, 28 if m >= 1 else 16, m, name)
        keys = ("uptime_s", "captures_sent", "captures_dropped", "rx_errors")
        f = dict(zip(keys, _HB10.unpack_from(pl), strict=True))
        f.update(boot_id=None, host_packets_lost=None, state=None)
        if m >= 1:
            bid, lost, state, _r25, _r26 = _HB11.unpack_from(pl, 16)
            if bid == 0 or state > 2:  # boot_id "as in HELLO" (§5.4): 0 is not a boot ID
                raise WireError("payload", f"HEARTBEAT boot_id {bid} state {state}")
            f.update(boot_id=bid, host_packets_lost=lost, state=state)
        return f
    if name == "LOG":
        _need(pl, 2, _AT_LEAST, name)
        level, n = pl[0], pl[1]
        _need(pl, 2 + n, m, name)
        return {"level": level, "text": pl[2 : 2 + n].decode("utf-8", errors="replace")}
    if name in ("PONG", "PING"):
        _need(pl, 4, m, name)
        return {"token": _U32.unpack_from(pl)[0]}
    if name in ("TIME_REPLY", "TIME_REQUEST"):
        _need(pl, 24, m, name)
        return dict(zip(("t1_us", "t2_us", "t3_us"), _TIME.unpack_from(pl), strict=True))
    if name in ("START", "STOP"):
        _need(pl, 0, m, name)
        return {}
    if name == "CONFIG":
        _need(pl, 24, m, name)
        keys = ("sample_rate_hz", "centre_freq_hz", "gain_db", "capture_period_ms",
                "samples_per_capture", "power_period_ms")  # fmt: skip
        f = dict(zip(keys, _CONFIG.unpack_from(pl), strict=True))
        if not _finite(f["gain_db"]) or f["samples_per_capture"] > 1024:
            raise WireError("payload", f"CONFIG gain {f['gain_db']} n {f['samples_per_capture']}")
        return f
    # RESULT: the CONTEXT flag is a 1.2 flag; in an older minor it is an unassigned bit (ignored)
    _need(pl, 16, _AT_LEAST, name)
    cid, label, flags, _r7, conf, lat = _RESULT.unpack_from(pl)
    if not 0.0 <= conf <= 1.0:  # NaN fails both comparisons
        raise WireError("payload", f"RESULT confidence {conf}")
    ctx = None
    if m >= 2 and flags & RESULT_CONTEXT:
        _need(pl, 24, m, name)
        prec, lo, hi, n = _CONTEXT.unpack_from(pl, 16)
        if not (lo <= prec <= hi <= 10000):
            raise WireError("payload", f"RESULT context {lo} <= {prec} <= {hi} <= 10000 fails")
        ctx = {"precision": prec, "ci_low": lo, "ci_high": hi, "n": n}
    else:
        _need(pl, 16, m, name)
    return {"capture_id": cid, "label_index": label, "flags": flags, "confidence": conf,
            "latency_us": lat, "context": ctx}  # fmt: skip


def encode_payload(name: str, f: dict[str, Any], minor: int = MINOR) -> tuple[bytes, int]:
    """(payload, extra header flags) for a message in ``minor``'s layout; Refused per §5.0."""
    if name == "HELLO":
        if f.get("sample_format", 1) != 1 or not 1 <= f["samples_per_capture"] <= 1024:
            raise Refused("HELLO announces captures no host can take")
        out = _HELLO10.pack(f.get("protocol_major", MAJOR), f.get("protocol_minor", minor),
                            f["firmware_major"], f["firmware_minor"], f["firmware_patch"],
                            f["device_id"], f["sample_rate_hz"], f.get("sample_format", 1), 0,
                            f["samples_per_capture"], f["centre_freq_hz"], f["capabilities"])  # fmt: skip
        if minor >= 1:
            if not 1 <= f["boot_id"] <= 0xFFFFFFFF or not 0 <= f["state"] <= 2:
                raise Refused(f"HELLO boot_id {f['boot_id']} state {f['state']}")
            out += _HELLO11.pack(f["boot_id"], f["state"], 0, f["capture_period_ms"],
                                 f["power_period_ms"])  # fmt: skip
        return out, 0
    if name == "CAPTURE":
        iq = f["iq"]
        if len(iq) % 4 or len(iq) > 4096 or not _finite(f["gain_db"]):
            raise Refused(f"CAPTURE of {len(iq)} IQ bytes, gain {f['gain_db']}")
        head = _CAPTURE.pack(f["capture_id"], f["sample_rate_hz"], f["centre_freq_hz"],
                             f["gain_db"], 1, 0, len(iq) // 4)  # fmt: skip
        return head + iq, 0
    if name == "POWER":
        if len(f["samples"]) > 256:
            raise Refused(f"POWER of {len(f['samples'])} readings")
        recs = b"".join(_POWER_REC.pack(*r) for r in f["samples"])
        return struct.pack("<H", len(f["samples"])) + recs, 0
    if name == "HEARTBEAT":
        out = _HB10.pack(f["uptime_s"], f["captures_sent"], f["captures_dropped"], f["rx_errors"])
        if minor >= 1:
            if not 1 <= f["boot_id"] <= 0xFFFFFFFF or not 0 <= f["state"] <= 2:
                raise Refused(f"HEARTBEAT boot_id {f['boot_id']} state {f['state']}")
            out += _HB11.pack(f["boot_id"], f["host_packets_lost"], f["state"], 0, 0)
        return out, 0
    if name == "LOG":
        text = f["text"].encode()
        if len(text) > 255:
            raise Refused(f"LOG text of {len(text)} bytes")
        return bytes([f["level"], len(text)]) + text, 0
    if name in ("PONG", "PING"):
        return _U32.pack(f["token"]), 0
    if name in ("TIME_REPLY", "TIME_REQUEST"):
        return _TIME.pack(f["t1_us"], f.get("t2_us", 0), f.get("t3_us", 0)), 0
    if name in ("START", "STOP"):
        return b"", 0
    if name == "CONFIG":
        if not _finite(f["gain_db"]) or not 0 <= f["samples_per_capture"] <= 1024:
            raise Refused(f"CONFIG gain {f['gain_db']} n {f['samples_per_capture']}")
        return _CONFIG.pack(f["sample_rate_hz"], f["centre_freq_hz"], f["gain_db"],
                            f["capture_period_ms"], f["samples_per_capture"],
                            f["power_period_ms"]), 0  # fmt: skip
    if name == "RESULT":
        conf, ctx, flags = f["confidence"], f.get("context"), f.get("flags", 0) & ~RESULT_CONTEXT
        if not 0.0 <= conf <= 1.0:
            raise Refused(f"RESULT confidence {conf}")
        out = _RESULT.pack(f["capture_id"], f["label_index"], flags | (ctx is not None) << 4, 0,
                           conf, f["latency_us"])  # fmt: skip
        if ctx is not None:  # §5.10: the flag CONTEXT is set exactly when the field follows
            if minor < 2:
                raise Refused(f"RESULT context does not exist in protocol 1.{minor}")
            if not ctx["ci_low"] <= ctx["precision"] <= ctx["ci_high"] <= 10000:
                raise Refused(f"RESULT context {ctx}")
            out += _CONTEXT.pack(ctx["precision"], ctx["ci_low"], ctx["ci_high"], min(ctx["n"], 65535))
        return out, 0
    raise Refused(f"no message type {name!r}")


# ---------------------------------------------------------------- §4 receiving


@dataclass
class SeqTracker:
    """§4.1 for one receiver: duplicates, device resets (host only), gaps, host restarts."""

    host: bool
    expected: int | None = None
    recent: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=64))
    boot_id: int | None = None
    latest_ts: int | None = None
    heard: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {
        "duplicate": 0, "lost": 0, "gaps": 0, "resets": 0, "host_restarts": 0})  # fmt: skip

    def reopen(self) -> None:
        """§4.1/§6.1: an open forgets the expected number, not the boot identity."""
        self.expected = None

    def track(self, p: Packet) -> list[tuple[Any, ...]]:
        """Events of §4.1 for a packet that passed checks 1-5; ('duplicate',) means drop it."""
        name = TYPES.get(p.msg_type)
        boot_hello = name == "HELLO" and bool(p.flags & FLAG_BOOT)
        bid = None
        if self.host and p.minor >= 1 and name in ("HELLO", "HEARTBEAT"):
            at = 34 if name == "HELLO" else 16
            if len(p.payload) >= at + 4:  # peeked before step 8 validates the payload
                bid = _U32.unpack_from(p.payload, at)[0] or None
        v10_boot_hello = boot_hello and p.minor == 0
        if not v10_boot_hello and (p.seq, p.crc) in self.recent:
            self.counts["duplicate"] += 1
            return [("duplicate",)]
        events: list[tuple[Any, ...]] = []
        d = None if self.expected is None else (p.seq - self.expected) % 65536
        if self.host and self.heard:
            cause = None
            if bid is not None and self.boot_id is not None and bid != self.boot_id:
                cause = "boot_hello" if boot_hello else "boot_id"
            elif bid is not None and bid == self.boot_id:
                cause = None
            elif d is not None and d >= 32768:
                cause = "sequence"
            elif self.latest_ts is not None and p.timestamp_us < self.latest_ts - 1_000_000:
                cause = "uptime"
            elif boot_hello and (bid is None or (self.boot_id is None and p.seq == 0)):
                cause = "boot_hello"
            if cause is not None:
                cause = "boot_hello" if boot_hello else cause  # §4.1: whichever rule found it
                lost = p.seq if self.expected is not None else 0
                self.counts["resets"] += 1
                self.counts["lost"] += lost
                self.recent.clear()
                self.latest_ts = None
                # the old boot's ID is stale: keeping it would take the new boot's first
                # HEARTBEAT for a second reset when this one was found by sequence or uptime
                self.boot_id = None
                events.append(("reset", cause, lost))
                d = None
        if not self.host and d is not None and d >= 32768:
            self.counts["host_restarts"] += 1
            self.recent.clear()  # §4.1: the old host session's packets are forgotten
            events.append(("host_restart",))
        elif d:
            self.counts["lost"] += d
            self.counts["gaps"] += 1
            events.append(("gap", d))
        self.expected = (p.seq + 1) % 65536
        self.recent.append((p.seq, p.crc))
        if bid is not None:
            self.boot_id = bid
        self.latest_ts = p.timestamp_us if self.latest_ts is None else max(self.latest_ts, p.timestamp_us)
        self.heard = True
        return events


@dataclass
class Message:
    """A packet that passed every check, with its decoded fields."""

    name: str
    packet: Packet
    fields: dict[str, Any]


class Receiver:
    """§4 end to end for one side: bytes in, messages and §4.1 events out, every drop counted."""

    def __init__(self, *, host: bool) -> None:
        self.host = host
        self.deframer = Deframer()
        self.seq = SeqTracker(host=host)
        self.errors: dict[str, int] = {}
        self.events: list[tuple[Any, ...]] = []

    def _drop(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def feed(self, data: bytes) -> list[Message]:
        out = []
        for fr in self.deframer.feed(data):
            try:
                p = parse_packet(fr)
            except WireError as e:
                self._drop(e.kind)
                continue
            ev = self.seq.track(p)
            self.events += ev
            if ev and ev[0][0] == "duplicate":
                continue
            name = TYPES.get(p.msg_type)
            if name is None or bool(p.msg_type & HOST_TO_DEVICE) == self.host:
                self._drop("unknown")
                continue
            try:
                out.append(Message(name, p, decode_payload(p)))
            except WireError as e:
                self._drop(e.kind)
        return out


class Endpoint:
    """The sending half of either end: its own sequence numbers and minor (§3.1, §6.1)."""

    def __init__(self, *, minor: int = MINOR, seq: int = 0) -> None:
        self.minor, self.seq = minor, seq

    def send(self, name: str, fields: dict[str, Any] | None = None, *, timestamp_us: int,
             flags: int = 0) -> bytes:  # fmt: skip
        payload, extra = encode_payload(name, fields or {}, self.minor)
        out = frame(encode_packet(CODES[name], payload, seq=self.seq, timestamp_us=timestamp_us,
                                  flags=flags | extra, minor=self.minor))  # fmt: skip
        self.seq = (self.seq + 1) % 65536
        return out
