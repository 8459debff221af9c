"""ClockMapping on exchanges built by hand from a known device clock."""

from __future__ import annotations

import pytest

from firmware_bridge import ClockMapping

S = 1_000_000


def _exchange(mapping: ClockMapping, host_t1: int, offset: float, ppm: float, there: int, back: int):
    """One exchange against a device whose clock = host x (1 + ppm) + offset."""

    def device(host: float) -> int:
        return round(host * (1 + ppm * 1e-6) + offset)

    t2 = device(host_t1 + there)
    return mapping.add(host_t1, t2, t2 + 100, host_t1 + there + 100 + back)


def test_symmetric_exchanges_give_offset_and_drift():
    mapping = ClockMapping()
    for i in range(60):  # one round a second for a minute, 300 µs each way
        _exchange(mapping, i * S, 7_000_000, 50.0, 300, 300)
    assert mapping.drift_ppm == pytest.approx(50.0, abs=0.01)
    assert mapping.to_device_us(30 * S) == pytest.approx(30 * S * 1.00005 + 7_000_000, abs=2)
    assert mapping.to_host_us(mapping.to_device_us(12 * S)) == pytest.approx(12 * S, abs=0.01)


def test_the_best_exchange_of_each_burst_is_used():
    mapping = ClockMapping()
    for i in range(40):
        base = i * S
        _exchange(mapping, base, 0, 0.0, 2_000, 200)  # slow going: offset wrong by +900
        _exchange(mapping, base + 20_000, 0, 0.0, 200, 200)  # the one to keep
        _exchange(mapping, base + 40_000, 0, 0.0, 200, 3_000)  # slow back: wrong by -1400
    assert mapping.offset_us_at(20 * S) == pytest.approx(0, abs=1)
    assert mapping.drift_ppm == pytest.approx(0, abs=0.01)


def test_offset_only_until_the_rounds_span_20_s():
    mapping = ClockMapping()
    _exchange(mapping, 0, 1_000, 100.0, 300, 300)
    _exchange(mapping, 10 * S, 1_000, 100.0, 300, 300)
    assert mapping.is_synced and mapping.drift_ppm == 0.0
    assert mapping.offset_us_at(10 * S) == pytest.approx(1_000 + 1_000, abs=2)  # latest round
    _exchange(mapping, 25 * S, 1_000, 100.0, 300, 300)
    assert mapping.drift_ppm == pytest.approx(100.0, abs=0.1)


def test_impossible_exchanges_are_refused_and_reset_forgets():
    mapping = ClockMapping()
    assert mapping.to_host_us(5) is None and mapping.device_to_host_s(5) is None
    assert mapping.add(1_000, 50, 60, 1_005) is None  # replied before the request arrived
    assert mapping.refused == 1 and not mapping.is_synced
    _exchange(mapping, 0, 500, 0.0, 100, 100)
    assert mapping.device_to_host_s(10_000) == pytest.approx(-500e-6)
    mapping.reset()
    assert not mapping.is_synced and mapping.samples == ()


def test_a_round_keeps_what_its_exchanges_bounds_agree_on():
    """Two exchanges of 1.2 ms round trip, one slow going and one slow back: each alone is
    600 µs wide either side (its offset 400 µs off); together the true offset lies within
    [-200, +200] µs of both, and the middle of that is exact (§7.2)."""
    mapping = ClockMapping()
    for i in range(30):  # a round a second
        _exchange(mapping, i * S, 3_000, 0.0, 200, 1_000)  # alone: 400 µs low
        _exchange(mapping, i * S + 25_000, 3_000, 0.0, 1_000, 200)  # alone: 400 µs high
    assert mapping.offset_us_at(29 * S) == pytest.approx(3_000, abs=1)
    assert mapping.drift_ppm == pytest.approx(0.0, abs=0.01)


def test_bounds_that_exclude_each_other_fall_back_to_the_best_exchange():
    mapping = ClockMapping()
    mapping.add(0, 1_100, 1_100, 200)  # offset 1_000 ± 100
    mapping.add(20_000, 25_100, 25_100, 20_300)  # offset 4_950 ± 150: disjoint, slower
    assert mapping.offset_us_at(0) == pytest.approx(1_000)
