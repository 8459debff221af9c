"""Battery projection pinned by closed-form cases and every refusal at its boundary (issue 17)."""

from __future__ import annotations

import math

import pytest

from edgekit.energy.battery import Battery, ScannerDuty, project_battery, project_duty_range
from edgekit.errors import EdgekitError


def _refused(message: str, build: type, **kw: object) -> None:
    with pytest.raises(EdgekitError) as e:
        build(**kw)
    assert str(e.value) == message


def test_battery_needs_wh_or_both_mah_and_volts() -> None:
    msg = "battery: give capacity_wh, or capacity_mah and nominal_v"
    _refused(msg, Battery)
    _refused(msg, Battery, capacity_mah=1000.0)
    _refused(msg, Battery, nominal_v=3.7)
    assert Battery(capacity_mah=2000.0, nominal_v=3.5).total_wh == 7.0


def test_usable_fraction_is_in_zero_one_closed_above() -> None:
    _refused("battery: usable_fraction 0.0 not in (0, 1]", Battery, capacity_wh=1.0, usable_fraction=0.0)
    _refused("battery: usable_fraction 1.25 not in (0, 1]", Battery, capacity_wh=1.0, usable_fraction=1.25)
    assert Battery(capacity_wh=8.0, usable_fraction=1.0).usable_wh == 8.0
    assert Battery(capacity_wh=8.0, usable_fraction=0.25).usable_wh == 2.0


def test_capacity_must_be_positive() -> None:
    _refused("battery: capacity must be positive, got 0.0 Wh", Battery, capacity_wh=0.0)
    _refused("battery: capacity must be positive, got 0.0 Wh", Battery, capacity_mah=0.0, nominal_v=3.0)
    assert Battery(capacity_wh=0.5).total_wh == 0.5  # below one watt-hour is still a battery


@pytest.mark.parametrize("name", ["baseline_w", "captures_per_s", "dynamic_energy_per_inference_mj",
                                  "platform_idle_w"])
@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf])
def test_duty_figures_must_be_finite_and_not_negative(name: str, bad: float) -> None:
    kw: dict[str, object] = {"baseline_w": 1.0, "captures_per_s": 1.0, "dynamic_energy_per_inference_mj": 1.0}
    kw[name] = bad
    _refused(f"scanner duty: {name}={bad} must be finite and >= 0", ScannerDuty, **kw)
    kw[name] = 0.0
    ScannerDuty(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("interval", [(2.0, 1.0), (math.nan, 1.0), (1.0, math.inf), (-math.inf, 1.0)])
def test_dynamic_interval_must_be_finite_and_ordered(interval: tuple[float, float]) -> None:
    lo, hi = interval
    _refused(f"scanner duty: dynamic_interval_mj=({lo}, {hi}) must be finite, low <= high", ScannerDuty,
             baseline_w=1.0, captures_per_s=1.0, dynamic_energy_per_inference_mj=1.0,
             dynamic_interval_mj=interval)


def test_a_point_interval_is_accepted() -> None:
    d = ScannerDuty(1.0, 2.0, 250.0, dynamic_interval_mj=(250.0, 250.0))
    assert d.model_power_interval_w == (0.5, 0.5)


def test_closed_form_projection() -> None:
    # 10 Wh x 0.9 = 9 Wh usable; baseline 1 W; model (0.5 W idle + 2/s x 250 mJ) / 0.8 = 1.25 W
    b = Battery(capacity_wh=10.0, usable_fraction=0.9)
    d = ScannerDuty(1.0, 2.0, 250.0, platform_idle_w=0.5, converter_efficiency=0.8,
                    dynamic_interval_mj=(-50.0, 500.0))
    p = project_battery(b, d)
    assert p.kind == "measured" and p.captures_per_s == 2.0 and p.usable_wh == pytest.approx(9.0)
    assert p.model_power_w == pytest.approx(1.25)
    assert p.average_power_without_model_w == 1.0 and p.average_power_with_model_w == pytest.approx(2.25)
    assert p.life_without_model_h == pytest.approx(9.0) and p.life_with_model_h == pytest.approx(4.0)
    assert p.drain_without_model_pct_per_h == pytest.approx(100 / 9)
    assert p.drain_with_model_pct_per_h == pytest.approx(25.0)
    assert p.life_lost_pct == pytest.approx(100 * (1 - 1 / 2.25))
    assert p.converter_efficiency == 0.8
    # interval: a negative low end counts as 0 -> 0.5/0.8 W; high 0.5 + 2 x 0.5 = 1.5 W / 0.8
    low_w, high_w = 1.0 + 0.625, 1.0 + 1.875
    assert p.life_with_model_interval_h == pytest.approx((9.0 / high_w, 9.0 / low_w))
    assert p.life_lost_interval_pct == pytest.approx((100 * (1 - 1 / low_w), 100 * (1 - 1 / high_w)))
    assert p.to_dict()["life_with_model_h"] == pytest.approx(4.0)


def test_no_interval_gives_none_and_nothing_drawn_loses_nothing() -> None:
    b = Battery(capacity_wh=5.0)
    p = project_battery(b, ScannerDuty(0.0, 1.0, 0.0), kind="estimated")
    assert p.kind == "estimated"
    assert p.life_with_model_interval_h is None and p.life_lost_interval_pct is None
    assert p.life_without_model_h == math.inf and p.life_with_model_h == math.inf
    assert p.life_lost_pct == 0.0


def test_duty_range_projects_each_rate() -> None:
    b = Battery(capacity_wh=4.0)
    d = ScannerDuty(1.0, 99.0, 1000.0)  # 1 J per capture: the model draws `rate` watts
    ps = project_duty_range(b, d, [0.0, 1.0, 3.0])
    assert [p.captures_per_s for p in ps] == [0.0, 1.0, 3.0]
    assert [p.life_with_model_h for p in ps] == pytest.approx([4.0, 2.0, 1.0])
    assert {p.kind for p in ps} == {"measured"}
    assert project_duty_range(b, d, [1.0], kind="estimated")[0].kind == "estimated"
