"""The scenario schedule and its parser."""

from __future__ import annotations

import pytest

from edgekit.emulator import Scenario, parse_class_mix


def test_a_stationary_scenario_is_the_same_at_every_time():
    s = Scenario(classes=("am", "fm"), snr_range_db=(0.0, 10.0))
    assert s.is_stationary
    assert s.at(0.0) == s.at(3600.0) == (("am", "fm"), (0.0, 10.0), 0.0)


def test_drifts_start_after_the_given_time_and_move_in_steps():
    s = Scenario(drift_after_s=60.0, snr_drift_db_per_min=-3.0, frontend_drift_per_min=0.25)
    assert s.at(59.0).snr_range_db == (-10.0, 20.0) and s.at(59.0).drift == 0.0
    assert s.at(120.0).snr_range_db == (-13.0, 17.0) and s.at(120.0).drift == 0.25
    assert s.at(65.0).snr_range_db == (-10.0, 20.0)  # -0.25 dB: below one 0.5 dB step
    assert s.at(10_000.0).drift == 1.0  # capped


def test_class_mix_switches_in_time_order():
    s = Scenario(class_mix=((20.0, ("ofdm",)), (10.0, ("am",))))
    assert s.at(5.0).classes == s.classes
    assert s.at(10.0).classes == ("am",)
    assert s.at(25.0).classes == ("ofdm",)


def test_parse_class_mix():
    assert parse_class_mix("30:ofdm, fm") == (30.0, ("ofdm", "fm"))
    for bad in ("ofdm", "x:am", "-1:am", "5:am,bogus", "5:"):
        with pytest.raises(ValueError):
            parse_class_mix(bad)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"classes": ("bogus",)},
        {"snr_range_db": (5.0, 1.0)},
        {"frontend_drift": 1.5},
        {"drift_after_s": -1.0},
        {"frontend_drift_per_min": -0.1},
    ],
)
def test_bad_scenarios_are_refused(kwargs):
    with pytest.raises(ValueError):
        Scenario(**kwargs)
