"""Time synthetic capture generation against the goal of 50,000 captures in 60 s.

Run: ``.venv/bin/python bench/bench_synth.py [N]``. Prints captures/s and the ratio to the goal
(> 1 means faster than needed). Timing lives here, not in the test suite.
"""

from __future__ import annotations

import sys
import time

from edgekit.data.synth import generate

__all__ = ["main"]

GOAL_CAPTURES = 50_000
GOAL_S = 60.0


def main(argv: list[str] | None = None) -> int:
    """Generate N captures (default 50,000) once, print throughput and ratio to the goal."""
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else GOAL_CAPTURES
    generate(256, seed=0)  # warm-up: imports, FFT plan caches
    t0 = time.perf_counter()
    ds = generate(n, seed=1)
    elapsed_s = time.perf_counter() - t0
    rate = n / elapsed_s
    goal_rate = GOAL_CAPTURES / GOAL_S
    size_mib = ds.x.nbytes / 2**20
    print(f"generated {n} captures ({size_mib:.0f} MiB float32) in {elapsed_s:.2f} s")
    print(f"{rate:,.0f} captures/s; goal {goal_rate:,.0f}/s; ratio {rate / goal_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
