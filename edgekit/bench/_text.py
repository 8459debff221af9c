"""Wording and numbers shared by the Markdown and HTML bench reports (plain strings, no markup)."""

from __future__ import annotations

import math
from typing import Any

from edgekit.bench_result import BenchResult, VariantBench
from edgekit.energy import Battery, ScannerDuty, project_duty_range

__all__ = [
    "SUMMARY_HEADERS",
    "battery_curves",
    "energy_provenance",
    "environment_rows",
    "fmt",
    "how_obtained",
    "summary_row",
    "title",
]

SUMMARY_HEADERS = (
    "variant",
    "runtime",
    "cold start ms",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "CPU ms/inf",
    "peak MiB",
    "energy mJ/inf [spread]",
    "dynamic mJ/inf",
    "energy is",
    "battery h (without model)",
    "life lost %",
    "accuracy (host-validated)",
)


def fmt(v: Any, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float) and abs(v) < 1e-12:
        v = 0.0  # integration round-off, not a figure
    return format(v, spec)


def title(result: BenchResult) -> str:
    board = result.environment_before.board_model or result.environment_before.machine
    return f"edgekit bench: {result.bundle.get('name') or 'bundle'} on {board}"


def summary_row(v: VariantBench) -> list[str]:
    e, b = v.energy, v.battery
    return [
        v.name,
        v.runtime,
        fmt(v.cold_start.cold_start_ms, ".0f"),
        fmt(v.latency.p50_ms),
        fmt(v.latency.p90_ms),
        fmt(v.latency.p99_ms),
        fmt(v.cpu_ms_per_inference),
        fmt(v.peak_memory_mb, ".0f"),
        (
            f"{fmt(e['energy_per_inference_mj'])} [{fmt(e['spread_mj'][0])}, {fmt(e['spread_mj'][1])}]"
            if e
            else "not measured"
        ),
        fmt(e["dynamic_energy_per_inference_mj"]) if e else "-",
        v.energy_label,
        (f"{fmt(b['life_with_model_h'], '.1f')} ({fmt(b['life_without_model_h'], '.1f')})" if b else "-"),
        fmt(b["life_lost_pct"], ".2f") if b else "-",
        fmt(v.accuracy, ".4f"),
    ]


def energy_provenance(v: VariantBench) -> str:
    """One sentence saying how this variant's energy figure was obtained."""
    e = v.energy
    if e is None:
        return f"{v.name}: energy not measured: {v.energy_error}"
    lo, hi = e["spread_mj"]
    windows = e.get("windows") or []
    return (
        f"{v.name}: {fmt(e['energy_per_inference_mj'])} mJ/inference, {e['label']}; meter "
        f"{e['meter_spec']} ({e['measures']}), {fmt(e['sample_rate_hz'], '.0f')} Hz achieved, "
        f"N = {e['n_inferences']} inferences in {len(windows)} windows over "
        f"{fmt(e['duration_s'], '.1f')} s, median of windows, spread {fmt(lo)} to {fmt(hi)} mJ "
        f"(lowest/highest window widened by its uncertainty), IQR {fmt(e['iqr_mj'])} mJ; idle "
        f"{fmt(e['idle_power_before_w'], '.3f')} W before, {fmt(e['idle_power_after_w'], '.3f')} W "
        f"after; dynamic {fmt(e['dynamic_energy_per_inference_mj'])} mJ above idle"
    )


def environment_rows(result: BenchResult) -> list[tuple[str, str, str]]:
    """(what, before, after) rows of the environment probe."""
    b, a = result.environment_before, result.environment_after

    def throttled(env: Any) -> str:
        t = env.throttled
        if t is None:
            return "unknown (no vcgencmd)"
        flags = ", ".join(t.now + t.occurred)
        return f"0x{t.raw:x}" + (f" ({flags})" if flags else " (none)")

    rows = [
        ("board", b.board_model or "-", a.board_model or "-"),
        ("machine", b.machine, a.machine),
        ("CPU cores", fmt(b.cpu_count, "d"), fmt(a.cpu_count, "d")),
        ("cpu0 governor", b.cpu_governor or "-", a.cpu_governor or "-"),
        ("cpu0 clock MHz", fmt(b.cpu_freq_mhz, ".0f"), fmt(a.cpu_freq_mhz, ".0f")),
        ("cpu0 max MHz", fmt(b.cpu_max_freq_mhz, ".0f"), fmt(a.cpu_max_freq_mhz, ".0f")),
        ("temperature °C", fmt(b.temperature_c, ".1f"), fmt(a.temperature_c, ".1f")),
        ("throttled (vcgencmd get_throttled)", throttled(b), throttled(a)),
        ("kernel", b.kernel or "-", a.kernel or "-"),
        ("Python", b.python, a.python),
    ]
    for name in sorted(set(b.versions) | set(a.versions)):
        if name != "python":
            rows.append((name, b.versions.get(name, "-"), a.versions.get(name, "-")))
    return rows


def how_obtained(result: BenchResult) -> list[str]:
    """The provenance of every kind of figure in the reports."""
    first = result.variants[0] if result.variants else None
    meter = result.meter
    lines = [
        "Cold start: " + (first.cold_start.provenance if first else "-") + ".",
        "Latency: " + (first.latency.provenance if first else "-") + ".",
        "CPU ms/inf: process CPU time (all threads, time.process_time) over the timed runs, "
        "divided by the number of inferences.",
        "Peak MiB: " + (first.memory_provenance if first else "-") + ".",
        f"Energy: {meter['kind'].upper() if meter['kind'] == 'estimated' else meter['kind']} with "
        f"{meter['name']} ({meter['spec']}; {meter['measures']}; chosen by {meter['chosen_by']}): "
        "inferences back to back, power integrated over each window (MLPerf Tiny EnergyRunner "
        "method), median of the windows; dynamic = above the idle power measured before and after.",
        "Battery: usable energy / average power; without the model = the scanner's baseline draw, "
        "with it = baseline + duty x dynamic energy per inference; the projection is as measured or "
        "estimated as the energy it uses.",
        "Accuracy: copied from the bundle's build-time validation on the host (not measured by "
        f"bench). Bench inputs: {result.inputs.get('source')} ({result.inputs.get('note')}).",
    ]
    if meter.get("notes"):
        lines.append(f"Meter notes: {meter['notes']}.")
    return lines


def battery_curves(
    result: BenchResult, points: int = 41
) -> tuple[list[float], dict[str, list[float | None]]]:
    """Battery life (h) vs duty cycle, one series per measured variant plus "without model"."""
    bat = result.battery
    if bat is None:
        return [], {}
    duty = float(bat["duty_hz"])
    top = max(4.0 * duty, 1.0)
    xs = [top * i / (points - 1) for i in range(points)]
    battery = Battery(
        capacity_mah=bat.get("capacity_mah"),
        nominal_v=bat.get("nominal_v"),
        capacity_wh=bat.get("capacity_wh"),
        usable_fraction=float(bat.get("usable_fraction") or 1.0),
    )
    baseline_w = float(bat.get("scanner_baseline_w") or 0.0)
    series: dict[str, list[float | None]] = {}
    for v in result.variants:
        if v.energy is None:
            continue
        dyn = max(0.0, float(v.energy["dynamic_energy_per_inference_mj"]))
        kind = " (ESTIMATED)" if v.energy_kind == "estimated" else ""
        rows = project_duty_range(battery, ScannerDuty(baseline_w, duty, dyn), xs)
        series[v.name + kind] = [_finite_or_none(r.life_with_model_h) for r in rows]
    without = project_duty_range(battery, ScannerDuty(baseline_w, duty, 0.0), xs)
    series["without model"] = [_finite_or_none(r.life_without_model_h) for r in without]
    return xs, series


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None
