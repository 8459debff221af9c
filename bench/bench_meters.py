"""Benchmarks for edgekit.energy: the sampler's own CPU cost, and attribution accuracy.

1. Sampler overhead: a ``Sampler`` polls a cheap meter at 1 kHz for ``--seconds`` while the main
   thread sleeps; process CPU time / wall time is the sampler's cost, as % of one core (goal < 1%).
   Meters: ``null`` (loop cost alone) and a register-level fake INA260 through the real smbus
   code path (two register reads per sample; a real I2C transfer adds kernel time on top).
2. Attribution error: ``measure_energy`` on synthetic traces with known truth over the grid used
   by the tests (idle 0.6/2.8 W, active 1/6 W, inferences 0.5/5/50 ms, gaps 0/50%, meters
   10/100/1000 Hz, point-sampling or averaging, 20 mW noise, 5 mW LSB), virtual clock.

Run: ``.venv/bin/python bench/bench_meters.py [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import threading
import time

from edgekit.energy import VirtualClock, measure_energy, open_meter
from edgekit.energy.meters.base import Meter
from edgekit.energy.sampler import Sampler
from edgekit.energy.simulate import MeterModel, SimulatedBoard, SimulatedMeter, Workload
from edgekit.energy.testing import FakeI2CBus, FakeINA260
from edgekit.errors import MeterError


def sampler_cost(meter: Meter, rate_hz: float, seconds: float) -> tuple[float, float, int]:
    """(% of one core, achieved Hz, late deadlines) for a sampler running ``seconds``."""
    sampler = Sampler(meter, rate_hz)
    cpu0, wall0 = time.process_time(), time.monotonic()
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    cpu1, wall1 = time.process_time(), time.monotonic()
    achieved_hz = sampler.count / (wall1 - wall0)
    return 100.0 * (cpu1 - cpu0) / (wall1 - wall0), achieved_hz, sampler.late


def bare_sleep_loop_cost(rate_hz: float, seconds: float) -> float:
    """CPU % of a thread that only sleeps to absolute deadlines: the floor for any poller."""

    def loop() -> None:
        period_s, next_s = 1.0 / rate_hz, time.monotonic()
        for _ in range(int(seconds * rate_hz)):
            next_s += period_s
            delay_s = next_s - time.monotonic()
            if delay_s > 0:
                time.sleep(delay_s)

    cpu0, wall0 = time.process_time(), time.monotonic()
    thread = threading.Thread(target=loop)
    thread.start()
    thread.join()
    return 100.0 * (time.process_time() - cpu0) / (time.monotonic() - wall0)


def attribution_grid() -> list[tuple[tuple[object, ...], float | None]]:
    """(case, relative error) per grid point; None when the measurement was refused."""
    rows: list[tuple[tuple[object, ...], float | None]] = []
    grid = itertools.product(
        [0.6, 2.8], [1.0, 6.0], [0.0005, 0.005, 0.05], [0.0, 0.5], [10, 100, 1000], [True, False]
    )
    for idle_w, active_w, inference_s, gap, rate_hz, averaging in grid:
        if active_w <= idle_w:
            continue
        workload = Workload(idle_w, active_w, inference_s, gap_s=gap * inference_s)
        clock = VirtualClock()
        board = SimulatedBoard(workload, clock, seed=3)
        model = MeterModel(
            rate_hz,
            noise_w=0.02,
            lsb_w=0.005,
            averaging_s=1 / rate_hz if averaging else 0.0,
            timing_jitter=0.01,
        )
        meter = SimulatedMeter(board, model, seed=4)
        per_call = max(1, int(0.1 / (inference_s * (1 + gap))))
        case = (idle_w, active_w, inference_s, gap, rate_hz, averaging)
        try:
            result = measure_energy(board.run_batch, meter, clock=clock, inferences_per_call=per_call)
        except MeterError:
            rows.append((case, None))
            continue
        truth = workload.energy_per_inference_mj
        rows.append((case, (result.energy_per_inference_mj - truth) / truth))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"# bench_meters on {platform.machine()} {platform.python_version()}, {os.cpu_count()} CPUs")

    print("\n## Sampler overhead (goal at 1 kHz: < 1% of one core)")
    print("| meter | rate | CPU % of one core | achieved Hz | late deadlines |")
    print("|---|---|---|---|---|")
    floor_pct = bare_sleep_loop_cost(1000.0, args.seconds)
    print(f"| (bare Python sleep loop, no meter) | 1000 Hz | {floor_pct:.2f} % | - | - |")
    bus = FakeI2CBus({0x40: FakeINA260(current_a=0.8, voltage_v=5.1)})
    cases = [
        ("null", open_meter("null"), 1000.0),
        ("fake INA260 (smbus path)", open_meter("ina260", bus=bus), 1000.0),
        ("fake INA260 (smbus path)", open_meter("ina260", bus=bus), 500.0),
        ("fake INA260 (smbus path)", open_meter("ina260", bus=bus), 200.0),
    ]
    for name, meter, rate_hz in cases:
        pct, hz, late = sampler_cost(meter, rate_hz, args.seconds)
        print(f"| {name} | {rate_hz:.0f} Hz | {pct:.2f} % | {hz:.0f} | {late} |")

    print("\n## Attribution error on synthetic traces (|reported - truth| / truth)")
    t0 = time.process_time()
    rows = attribution_grid()
    print("| meter | sampling | cases | resolved | refused | median error | max error |")
    print("|---|---|---|---|---|---|---|")
    for rate_hz, averaging in itertools.product([10, 100, 1000], [True, False]):
        sel = [e for c, e in rows if c[4] == rate_hz and c[5] == averaging]
        ok = [abs(e) for e in sel if e is not None]
        kind = "averaging" if averaging else "point"
        med = f"{statistics.median(ok):.3%}" if ok else "-"
        worst = f"{max(ok):.3%}" if ok else "-"
        print(f"| {rate_hz} Hz | {kind} | {len(sel)} | {len(ok)} | {len(sel) - len(ok)} | {med} | {worst} |")
    all_ok = [abs(e) for _, e in rows if e is not None]
    print(
        f"\nall: {len(rows)} cases, {len(all_ok)} resolved, max error {max(all_ok):.3%}, "
        f"median {statistics.median(all_ok):.3%} ({time.process_time() - t0:.1f} s CPU)"
    )


if __name__ == "__main__":
    main()
