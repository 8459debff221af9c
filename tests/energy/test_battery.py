"""Battery arithmetic against hand-computed cases (the hand computation is in each comment)."""

from __future__ import annotations

import math

import pytest

from edgekit.energy.battery import Battery, ScannerDuty, project_battery, project_duty_range
from edgekit.errors import EdgekitError


def test_mah_battery_with_model() -> None:
    # 3000 mAh x 3.7 V = 11.1 Wh; usable 90% -> 9.99 Wh.
    # without model: 1.5 W -> 9.99 / 1.5 = 6.66 h; drain 100 x 1.5 / 9.99 = 15.015 %/h
    # model: 10 captures/s x 20 mJ = 0.2 W -> with: 1.7 W -> 9.99 / 1.7 = 5.876470588 h;
    # drain 100 x 1.7 / 9.99 = 17.017017 %/h; life lost = 1 - 1.5/1.7 = 11.764706 %
    battery = Battery(capacity_mah=3000, nominal_v=3.7, usable_fraction=0.9)
    p = project_battery(battery, ScannerDuty(1.5, 10.0, 20.0))
    assert battery.usable_wh == pytest.approx(9.99)
    assert p.average_power_without_model_w == pytest.approx(1.5)
    assert p.average_power_with_model_w == pytest.approx(1.7)
    assert p.life_without_model_h == pytest.approx(6.66)
    assert p.life_with_model_h == pytest.approx(5.876470588)
    assert p.drain_without_model_pct_per_h == pytest.approx(15.015015)
    assert p.drain_with_model_pct_per_h == pytest.approx(17.017017)
    assert p.life_lost_pct == pytest.approx(11.764706)


def test_wh_battery_with_platform_idle() -> None:
    # 20 Wh, all usable. Scanner alone 0.8 W; the Pi is powered only for the model: +0.6 W idle,
    # 2 captures/s x 150 mJ dynamic = 0.3 W -> with = 0.8 + 0.6 + 0.3 = 1.7 W.
    # life: 20 / 0.8 = 25 h without, 20 / 1.7 = 11.764706 h with; lost = 1 - 0.8/1.7 = 52.941 %
    p = project_battery(
        Battery(capacity_wh=20.0), ScannerDuty(0.8, 2.0, 150.0, platform_idle_w=0.6)
    )
    assert p.model_power_w == pytest.approx(0.9)
    assert p.life_without_model_h == pytest.approx(25.0)
    assert p.life_with_model_h == pytest.approx(11.764706)
    assert p.life_lost_pct == pytest.approx(52.941176)
    assert p.to_dict()["drain_with_model_pct_per_h"] == pytest.approx(8.5)  # 100 x 1.7 / 20


def test_zero_baseline_is_infinite_life_without_model() -> None:
    p = project_battery(Battery(capacity_wh=10.0), ScannerDuty(0.0, 1.0, 1000.0))
    # with: 1 W -> 10 h; without: 0 W -> infinite; all of the draw is the model: 100 % lost
    assert math.isinf(p.life_without_model_h)
    assert p.life_with_model_h == pytest.approx(10.0)
    assert p.life_lost_pct == pytest.approx(100.0)


def test_duty_range_for_plots() -> None:
    battery = Battery(capacity_wh=10.0)
    rows = project_duty_range(
        battery, ScannerDuty(1.0, 0.0, 50.0), [0.0, 10.0, 20.0], kind="estimated"
    )
    # 0, 10, 20 captures/s x 50 mJ = 0, 0.5, 1.0 W on top of 1 W -> 10, 6.667, 5 h
    assert [r.life_with_model_h for r in rows] == pytest.approx([10.0, 6.6666667, 5.0])
    assert [r.life_lost_pct for r in rows] == pytest.approx([0.0, 33.333333, 50.0])
    assert all(r.kind == "estimated" for r in rows)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Battery(capacity_mah=3000),
        lambda: Battery(capacity_wh=10, usable_fraction=1.5),
        lambda: Battery(capacity_wh=-1),
        lambda: ScannerDuty(-1.0, 1.0, 1.0),
        lambda: ScannerDuty(1.0, float("nan"), 1.0),
    ],
)
def test_invalid_inputs(make) -> None:
    with pytest.raises(EdgekitError):
        make()


def test_converter_efficiency_divides_the_model_power() -> None:
    # 20 Wh, baseline 1.0 W; model 2 captures/s x 100 mJ = 0.2 W at the board, through an 80 %
    # DC-DC converter 0.25 W at the battery -> with 1.25 W: 16 h, life lost 1 - 1/1.25 = 20 %
    duty = ScannerDuty(1.0, 2.0, 100.0, converter_efficiency=0.8)
    p = project_battery(Battery(capacity_wh=20.0), duty)
    assert p.model_power_w == pytest.approx(0.25)
    assert p.life_with_model_h == pytest.approx(16.0)
    assert p.life_lost_pct == pytest.approx(20.0)
    assert p.converter_efficiency == 0.8


def test_dynamic_interval_is_carried_into_life_and_life_lost() -> None:
    # dynamic 100 mJ in [80, 130] at 2/s, efficiency 1: model 0.16 / 0.2 / 0.26 W over 1.0 W;
    # life 20/1.26 = 15.873 h .. 20/1.16 = 17.241 h; lost 1 - 1/1.16 = 13.793 % .. 1 - 1/1.26 = 20.635 %
    p = project_battery(
        Battery(capacity_wh=20.0), ScannerDuty(1.0, 2.0, 100.0, dynamic_interval_mj=(80.0, 130.0))
    )
    assert p.life_with_model_interval_h == pytest.approx((15.873016, 17.241379))
    assert p.life_lost_interval_pct == pytest.approx((13.793103, 20.634921))
    assert p.life_with_model_interval_h[0] <= p.life_with_model_h <= p.life_with_model_interval_h[1]


def test_negative_end_of_the_interval_counts_as_zero() -> None:
    # a tiny model: dynamic 1 mJ in [-2, 4]; the low end adds nothing -> life as without the model
    duty = ScannerDuty(1.0, 1.0, 1.0, dynamic_interval_mj=(-2.0, 4.0))
    p = project_battery(Battery(capacity_wh=10.0), duty)
    assert p.life_with_model_interval_h[1] == pytest.approx(10.0)
    assert p.life_lost_interval_pct[0] == pytest.approx(0.0)


@pytest.mark.parametrize("eff", [0.0, 1.2, float("nan")])
def test_converter_efficiency_must_be_a_fraction(eff: float) -> None:
    with pytest.raises(EdgekitError, match="converter_efficiency"):
        ScannerDuty(1.0, 1.0, 1.0, converter_efficiency=eff)


def test_duty_range_keeps_efficiency() -> None:
    duty = ScannerDuty(1.0, 0.0, 50.0, converter_efficiency=0.5)
    rows = project_duty_range(Battery(capacity_wh=10.0), duty, [10.0])
    # 10/s x 50 mJ = 0.5 W at the board, 1.0 W at the battery -> 2 W -> 5 h
    assert rows[0].life_with_model_h == pytest.approx(5.0)
