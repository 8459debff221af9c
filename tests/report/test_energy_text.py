"""Energy figures below what their interval resolves print readably; JSON keeps the raw value."""

from __future__ import annotations

from edgekit.cli.bench_cmd import _figure
from edgekit.report._view import _dynamic_mj
from edgekit.report.energy_text import below_resolution, fmt_energy_mj


def test_floating_point_dust_within_its_interval_reads_as_zero() -> None:
    # interval width 0.05 mJ: two significant digits -> steps of 0.001 mJ, half a step 0.0005
    assert fmt_energy_mj(4.77e-15, -0.02, 0.03) == (
        "0.000 mJ (< 0.0005 mJ, below the interval's resolution)"
    )
    assert fmt_energy_mj(-3e-9, -0.02, 0.03).startswith("0.000 mJ (<")


def test_a_figure_the_interval_resolves_is_printed_as_is() -> None:
    assert fmt_energy_mj(0.0006, -0.02, 0.03) == "0.0006 mJ"  # above half a step (0.0005)
    assert fmt_energy_mj(1.234, 1.1, 1.4) == "1.234 mJ"
    assert fmt_energy_mj(4.77e-15, None, None) == "4.77e-15 mJ"  # no interval: nothing to judge by
    assert not below_resolution(0.0006, -0.02, 0.03) and below_resolution(0.0004, -0.02, 0.03)


def test_bench_summary_and_build_report_cells() -> None:
    e = {"energy_per_inference_mj": 1.5, "spread_mj": [1.4, 1.6],
         "dynamic_energy_per_inference_mj": 4.77e-15, "dynamic_spread_mj": [-0.2, 0.3]}  # fmt: skip
    line = _figure(e, "inference")
    assert "e-15" not in line
    assert "dynamic 0.00 mJ (< 0.005 mJ, below the interval's resolution) [-0.2-0.3]" in line
    # build report: ± 0.025 spread -> width 0.05 -> half a step 0.0005
    assert _dynamic_mj(4.77e-15, 0.025) == "0.000 (< 0.0005 mJ, below the interval's resolution)"
    assert _dynamic_mj(0.42, 0.025) == "0.420"  # 3 significant figures, as every mJ cell
