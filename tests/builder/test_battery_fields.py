"""The build's battery projection takes the converter efficiency ([battery] converter_efficiency)."""

from __future__ import annotations

import pytest

from edgekit.builder.energy_estimate import battery_fields
from edgekit.config import BatteryConfig


@pytest.mark.parametrize("efficiency", [1.0, 0.8])
def test_converter_efficiency_divides_the_models_draw(efficiency: float) -> None:
    bat = BatteryConfig(capacity_wh=10.0, usable_fraction=0.9, scanner_baseline_w=1.0, duty_hz=4.0,
                        converter_efficiency=efficiency)
    got = battery_fields(bat, 50.0, "measured")
    # closed form: 9 Wh usable; the model adds 4/s x 50 mJ = 0.2 W at the board, 0.2 / eff at the battery
    with_w = 1.0 + 0.2 / efficiency
    assert got["battery_life_h"] == pytest.approx(9.0 / with_w)
    assert got["battery_life_without_model_h"] == pytest.approx(9.0)
    assert got["battery_life_loss_pct"] == pytest.approx(100.0 * (1.0 - 1.0 / with_w))


@pytest.mark.parametrize("bad", [0.0, 1.2, -0.5])
def test_an_impossible_efficiency_is_one_line(bad: float) -> None:
    from edgekit.config import parse_config
    from edgekit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"battery\.converter_efficiency: must be in \(0, 1\]"):
        parse_config({"model": {"path": "m.onnx"}, "battery": {"converter_efficiency": bad}})


def test_the_dynamic_interval_is_carried_into_life_and_life_lost() -> None:
    bat = BatteryConfig(capacity_wh=10.0, usable_fraction=0.9, scanner_baseline_w=1.0, duty_hz=4.0)
    got = battery_fields(bat, 50.0, "measured", (25.0, 100.0))
    # 4/s x 25 mJ = 0.1 W, 4/s x 100 mJ = 0.4 W: life 9/1.4 to 9/1.1 h, lost 1-1/1.1 to 1-1/1.4
    assert got["battery_life_interval_h"] == pytest.approx((9.0 / 1.4, 9.0 / 1.1))
    assert got["battery_life_loss_interval_pct"] == pytest.approx(
        (100.0 * (1 - 1 / 1.1), 100.0 * (1 - 1 / 1.4))
    )
    assert battery_fields(bat, 50.0, "measured")["battery_life_interval_h"] is None
