"""Wording and numbers shared by the Markdown and HTML bench reports (plain strings, no markup)."""

from __future__ import annotations

import math
from typing import Any

from edgekit.bench_result import BenchResult, VariantBench
from edgekit.energy import Battery, ScannerDuty, project_duty_range

__all__ = [
    "BATTERY_HEADERS",
    "DUTY_HEADERS",
    "SUMMARY_HEADERS",
    "battery_curves",
    "battery_rows",
    "duty_row",
    "energy_provenance",
    "environment_rows",
    "fmt",
    "how_obtained",
    "interval",
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
    "dynamic mJ/inf [spread]",
    "energy is",
    "battery h [spread] (without model)",
    "life lost % [spread]",
    "accuracy (host-validated)",
)

DUTY_HEADERS = (
    "variant",
    "duty Hz",
    "energy mJ/capture [spread]",
    "dynamic mJ/capture [spread]",
    "back-to-back dynamic mJ/inf [spread]",
    "energy is",
    "battery h [spread]",
    "life lost % [spread]",
)
"""The field duty-cycle figures (``edgekit bench --duty``) beside the back-to-back ones."""

BATTERY_HEADERS = (
    "variant",
    "dynamic energy measured",
    "life without model h",
    "life with model h [spread]",
    "drain without %/h",
    "drain with %/h",
    "life lost % [spread]",
    "converter efficiency",
    "from energy",
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


def interval(pair: Any, spec: str = ".3g") -> str:
    """``[lo, hi]`` of an interval, or ``[-]`` when there is none."""
    if not pair or len(pair) != 2:
        return "[-]"
    return f"[{fmt(pair[0], spec)}, {fmt(pair[1], spec)}]"


def _figure(e: dict[str, Any], key: str, spread: str) -> str:
    return f"{fmt(e[key])} {interval(e.get(spread))}"


def _life(b: dict[str, Any] | None) -> tuple[str, str]:
    if not b:
        return "-", "-"
    life = (f"{fmt(b['life_with_model_h'], '.1f')} {interval(b.get('life_with_model_interval_h'), '.1f')}"
            f" ({fmt(b['life_without_model_h'], '.1f')})")
    lost = f"{fmt(b['life_lost_pct'], '.2f')} {interval(b.get('life_lost_interval_pct'), '.2f')}"
    return life, lost


def summary_row(v: VariantBench) -> list[str]:
    e = v.energy
    life, lost = _life(v.battery)
    return [
        v.name,
        v.runtime,
        fmt(v.cold_start.cold_start_ms, ".0f"),
        fmt(v.latency.p50_ms),
        fmt(v.latency.p90_ms),
        fmt(v.latency.p99_ms),
        fmt(v.cpu_ms_per_inference),
        fmt(v.peak_memory_mb, ".0f"),
        _figure(e, "energy_per_inference_mj", "spread_mj") if e else "not measured",
        _figure(e, "dynamic_energy_per_inference_mj", "dynamic_spread_mj") if e else "-",
        v.energy_label,
        life,
        lost,
        fmt(v.accuracy, ".4f"),
    ]


def duty_row(v: VariantBench) -> list[str]:
    """The variant's energy per capture at the duty cycle, beside its back-to-back dynamic figure."""
    e, d = v.energy, v.duty_energy
    life, lost = _life(v.duty_battery)
    back = _figure(e, "dynamic_energy_per_inference_mj", "dynamic_spread_mj") if e else "not measured"
    if d is None:
        return [v.name, "-", f"not measured ({v.duty_energy_error or 'no duty cycle'})", "-", back,
                "-", "-", "-"]
    return [
        v.name,
        fmt(d.get("duty_hz")),
        _figure(d, "energy_per_inference_mj", "spread_mj"),
        _figure(d, "dynamic_energy_per_inference_mj", "dynamic_spread_mj"),
        back,
        str(d.get("label") or d.get("kind")),
        life.split(" (")[0],
        lost,
    ]


def battery_rows(result: BenchResult) -> list[list[str]]:
    """One row per projection: from the back-to-back figure and, with --duty, the duty-cycle one."""
    rows = []
    for v in result.variants:
        for how, b in (("back to back", v.battery), ("at the duty cycle", v.duty_battery)):
            if b is None:
                if how == "back to back":
                    rows.append([v.name, how, "-", "-", "-", "-", "-", "-", v.energy_label])
                continue
            life = b.get("life_with_model_interval_h")
            lost = b.get("life_lost_interval_pct")
            rows.append([
                v.name,
                how,
                fmt(b["life_without_model_h"], ".1f"),
                f"{fmt(b['life_with_model_h'], '.1f')} {interval(life, '.1f')}",
                fmt(b["drain_without_model_pct_per_h"], ".2f"),
                fmt(b["drain_with_model_pct_per_h"], ".2f"),
                f"{fmt(b['life_lost_pct'], '.2f')} {interval(lost, '.2f')}",
                fmt(b.get("converter_efficiency")),
                str(b["energy_label"]),
            ])
    return rows


def energy_provenance(v: VariantBench) -> str:
    """How this variant's energy figures were obtained, in a few sentences."""
    e = v.energy
    if e is None:
        return f"{v.name}: energy not measured: {v.energy_error}"
    prov = e.get("provenance") or {}
    text = (
        f"{v.name}: {fmt(e['energy_per_inference_mj'])} mJ/inference {interval(e['spread_mj'])}, "
        f"dynamic {fmt(e['dynamic_energy_per_inference_mj'])} mJ {interval(e.get('dynamic_spread_mj'))} "
        f"above idle ({fmt(e.get('confidence'), '.0%')} intervals), {e['label']}: "
        f"{prov.get('reason') or e['kind']}; meter {e['meter_spec']} ({e['measures']}), "
        f"{fmt(e['sample_rate_hz'], '.0f')} Hz achieved; N = {e['n_inferences']} inferences in "
        f"{len(e.get('windows') or [])} windows over {fmt(e['duration_s'], '.1f')} s; idle "
        f"{fmt(e['idle_power_before_w'], '.3f')} W first, {fmt(e['idle_power_after_w'], '.3f')} W last, "
        f"{(e.get('idle') or {}).get('interpolation', 'interpolated')} across each window; method: "
        f"{e.get('method') or '-'}; variant file sha256 {v.file_sha256[:16] or '-'}"
    )
    for w in e.get("warnings") or []:
        text += f"; warning: {w}"
    if v.recording:
        text += f"; recorded as {v.recording.get('power')} + {v.recording.get('events')}"
    d = v.duty_energy
    if d is not None:
        text += (
            f". At the duty cycle ({fmt(d.get('duty_hz'))} captures/s, sleep between captures): "
            f"{fmt(d['energy_per_inference_mj'])} mJ/capture {interval(d['spread_mj'])}, dynamic "
            f"{fmt(d['dynamic_energy_per_inference_mj'])} mJ {interval(d.get('dynamic_spread_mj'))}, "
            f"N = {d['n_inferences']} captures, {d['label']}"
        )
    return text


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
        "inferences back to back in windows with idle before and after each (MLPerf Tiny "
        "EnergyRunner method); the trace is attributed to the event log: idle interpolated across "
        "each window, dynamic = above that idle, total = dynamic + idle over the inferences' busy "
        "time; spreads are intervals from a block bootstrap over the windows widened by systematic "
        "terms (idle interpolation, clock fit, window edges, aliasing); see docs/energy-files.md.",
        "Energy at the duty cycle (--duty): one capture per period with sleep between, so wake-up "
        "and governor tails count; dynamic energy per capture above the interpolated idle.",
        "Battery: usable energy / average power; without the model = the scanner's baseline draw, "
        "with it = baseline + duty x dynamic energy (per inference back to back, or per capture at "
        "the duty cycle) / converter efficiency; the dynamic energy's interval is carried into "
        "life and life lost; the projection is as measured or estimated as the energy it uses.",
        f"Board: {_board(result)}; bundle ID {result.bundle_id or '-'}; each variant's file "
        "SHA-256 is in bench.json (a build counts a figure as measured on its target only for "
        "that board and that file).",
        "Accuracy: copied from the bundle's build-time validation on the host (not measured by "
        f"bench). Bench inputs: {result.inputs.get('source')} ({result.inputs.get('note')}).",
    ]
    if meter.get("notes"):
        lines.append(f"Meter notes: {meter['notes']}.")
    if result.record_dir:
        lines.append(f"Recordings (power trace + event log per variant, for `edgekit energy attribute`): "
                     f"{result.record_dir}.")
    return lines


def _board(result: BenchResult) -> str:
    b = result.board or {}
    if not b:
        return "not recorded"
    return (
        f"{b.get('model') or 'model unknown'} (board {b.get('board') or 'not recognised'}, "
        f"SoC {b.get('soc') or '-'})"
    )


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
