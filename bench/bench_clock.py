"""Cost of one ``ClockMapping.add`` (firmware_bridge/clock.py): the incremental fit against the
full refit it replaced (``FullRefit`` in tests/firmware_bridge/clock_reference.py, the
reference copy of the old algorithm the property test uses too), in the same
run, on the same exchanges; and a check that both give the same mapping after every exchange.

    .venv/bin/python bench/bench_clock.py [--repeat 5]

Scenarios: the daemon's steady state (``firmware_bridge.session`` defaults: rounds of 16
exchanges 25 ms apart every 60 s; the 900 s window full, 15 rounds and 240 exchanges; 20 more
rounds timed) and a full ``max_samples`` window (4 096 exchanges: 256 rounds of 16, 2 s apart;
3 more rounds timed). Prints the µs per ``add`` of each and their ratio: the best of
``--repeat`` interleaved passes each, so a busy host inflates both alike (on a shared host read
the ratio, not the µs).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware_bridge import ClockMapping
from tests.firmware_bridge.clock_reference import FullRefit

S = 1_000_000


def exchanges(rounds: int, every_s: float, seed: int) -> list[tuple[int, int, int, int]]:
    """TIME exchanges with a device 30 ppm fast: ``rounds`` bursts of 16, 25 ms apart, legs of
    150-2000 µs each way drawn at random."""
    rng = random.Random(seed)
    out = []
    for r in range(rounds):
        for i in range(16):
            t1 = round(r * every_s * S) + i * 25_000
            there, back = rng.randint(150, 2_000), rng.randint(150, 2_000)
            t2 = round((t1 + there) * (1 + 30e-6)) + 7_000_000
            out.append((t1, t2, t2 + 80, t1 + there + 80 + back))
    return out


def per_add_us(make, warm: list, timed: list) -> float:
    """µs per add over ``timed``, after ``warm`` filled the window."""
    m = make()
    for e in warm:
        m.add(*e)
    t0 = time.perf_counter()
    for e in timed:
        m.add(*e)
    return (time.perf_counter() - t0) / len(timed) * 1e6


def same_mapping(seq: list) -> bool:
    """Both give the same offset and drift, to the bit, after every exchange of ``seq``."""
    new, old = ClockMapping(), FullRefit()
    for e in seq:
        new.add(*e)
        old.add(*e)
        probe = e[0] + 5 * S
        if new.drift_ppm != old.slope * 1e6 or \
                new.offset_us_at(probe) != old.o0 + old.slope * (probe - old.h0):
            return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    scenarios = {
        # 15 rounds fill the 900 s window; 20 more rounds timed (320 adds) as it slides
        "steady state (240 in window)": (exchanges(35, 60.0, 1), 15 * 16),
        "max_samples full (4096)": (exchanges(259, 2.0, 2), 256 * 16),
    }
    print(f"{'scenario':32} {'old µs/add':>11} {'new µs/add':>11} {'old/new':>8}  identical")
    for name, (seq, warm_n) in scenarios.items():
        warm, timed = seq[:warm_n], seq[warm_n:]
        olds, news = [], []
        for _ in range(args.repeat):  # interleaved, so a busy spell slows both
            olds.append(per_add_us(FullRefit, warm, timed))
            news.append(per_add_us(ClockMapping, warm, timed))
        old, new = min(olds), min(news)
        print(f"{name:32} {old:11.1f} {new:11.1f} {old / new:8.1f}  {same_mapping(seq)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
