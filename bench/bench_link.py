"""Decode throughput of firmware_bridge's sans-IO core on a realistic scanner stream.

The stream: CAPTURE packets of 1024 int16 IQ samples, each followed by a POWER batch of 32
readings, and a HEARTBEAT every 50 captures, fed in 4 KiB chunks (a typical serial read). Prints
bytes/s and packets/s (median of --repeat runs, with min..max) and the ratio to the line rates
that matter: a 921,600 baud UART (92,160 B/s) and USB full-speed CDC (~1 MB/s).

    .venv/bin/python bench/bench_link.py [--captures 500] [--repeat 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# run from a checkout: make the repository's firmware_bridge importable ahead of any install
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware_bridge import (
    Capture,
    Decoder,
    Heartbeat,
    Packet,
    Power,
    PowerSample,
    encode,
)

UART_921600_BPS = 92_160  # bytes/s: 921,600 baud, 8N1 = 10 bits per byte
USB_FS_CDC_BPS = 1_000_000  # bytes/s, practical USB full-speed CDC throughput
CHUNK_BYTES = 4096


def build_stream(n_captures: int, seed: int = 0) -> tuple[bytes, int]:
    """The wire bytes of the benchmark stream and the number of packets in it."""
    rng = np.random.default_rng(seed)
    parts: list[bytes] = []
    seq = 0
    t_us = 0
    for i in range(n_captures):
        iq = rng.normal(0, 3000, size=(1024, 2)).astype(np.int16)
        capture = Capture.from_iq(
            iq, capture_id=i, sample_rate_hz=2_000_000, centre_freq_hz=433_920_000, gain_db=20.0
        )
        parts.append(encode(capture, seq & 0xFFFF, t_us))
        seq += 1
        power = Power(tuple(PowerSample(t_us + 1000 * k, 3700 - k, 85_000 + 7 * k) for k in range(32)))
        parts.append(encode(power, seq & 0xFFFF, t_us))
        seq += 1
        if i % 50 == 0:
            parts.append(encode(Heartbeat(i, i, 0, 0, 0x5EED, 0, 1), seq & 0xFFFF, t_us))
            seq += 1
        t_us += 100_000
    return b"".join(parts), seq


def decode_all(stream: bytes) -> int:
    """Decode ``stream`` in CHUNK_BYTES pieces; returns the number of packets seen."""
    decoder = Decoder("host")
    packets = 0
    for start in range(0, len(stream), CHUNK_BYTES):
        decoder.receive_data(stream[start : start + CHUNK_BYTES])
        while (event := decoder.next_event()) is not None:
            if isinstance(event, Packet):
                packets += 1
    if decoder.stats.lost_packets or decoder.stats.crc_failures:
        raise RuntimeError(f"benchmark stream decoded with errors: {decoder.stats}")
    return packets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    stream, n_packets = build_stream(args.captures)
    decode_all(stream)  # warm-up
    times_s = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        seen = decode_all(stream)
        times_s.append(time.perf_counter() - t0)
        if seen != n_packets:
            raise RuntimeError(f"decoded {seen} packets, expected {n_packets}")
    median_s = statistics.median(times_s)
    bps = len(stream) / median_s
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(
        f"stream: {len(stream):,} bytes, {n_packets:,} packets "
        f"({args.captures} CAPTURE x 1024 IQ + POWER x 32 + HEARTBEAT), {CHUNK_BYTES} B chunks"
    )
    print(
        f"repeat: {args.repeat}, median {median_s * 1e3:.1f} ms "
        f"(min {min(times_s) * 1e3:.1f}, max {max(times_s) * 1e3:.1f})"
    )
    print(f"throughput: {bps / 1e6:.1f} MB/s, {n_packets / median_s:,.0f} packets/s")
    print(f"x UART 921600 baud (92,160 B/s): {bps / UART_921600_BPS:,.0f}")
    print(f"x USB FS CDC (~1 MB/s): {bps / USB_FS_CDC_BPS:,.1f} (goal >= 50)")
    print(f"CPU share at USB FS line rate: {100 * USB_FS_CDC_BPS / bps:.2f}% of one core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
