"""A POWER batch fed as arrays (``LinkMeter.feed_arrays``, ``RingBuffer.extend``) keeps and
drops exactly the readings that feeding them one by one would, in one vectorised step."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.energy.meters.link import LinkMeter
from edgekit.energy.ring import RingBuffer


def test_a_batch_keeps_what_one_by_one_would_and_drops_the_out_of_order_readings():
    m = LinkMeter(capacity=64)
    m.feed([(5.0, 5.0, 0.1)])
    t = np.array([4.0, 6.0, 5.5, 6.0, 7.0])  # 4.0 < 5.0 and 5.5 < 6.0 go; an equal time stays
    v = np.array([5.0, 5.0, 5.0, 4.0, 5.0])
    a = np.array([0.1, -0.2, 0.3, 0.1, 0.05])
    assert m.feed_arrays(t, v, a) == 3
    assert m.dropped == 2
    got = m.samples_between(0.0, 10.0)
    assert got.timestamps_s.tolist() == [5.0, 6.0, 6.0, 7.0]
    assert got.power_w.tolist() == pytest.approx([0.5, 1.0, 0.4, 0.25])  # V x |I|, by hand
    last = m.read()
    got_last = (last.timestamp_s, last.power_w, last.voltage_v, last.current_a)
    assert got_last == pytest.approx((7.0, 0.25, 5.0, 0.05))


def test_a_batch_matches_feeding_the_same_readings_one_by_one():
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.normal(0.01, 0.02, 300))  # some steps backwards
    v, a = rng.uniform(4.5, 5.5, 300), rng.normal(0.1, 0.05, 300)
    one, batch = LinkMeter(capacity=128), LinkMeter(capacity=128)
    kept_one = one.feed(zip(t.tolist(), v.tolist(), a.tolist(), strict=True))
    kept_batch = sum(
        batch.feed_arrays(t[i : i + 100], v[i : i + 100], a[i : i + 100]) for i in range(0, 300, 100)
    )
    assert kept_batch == kept_one and batch.dropped == one.dropped > 0
    a1, a2 = one.samples_between(-1.0, 10.0), batch.samples_between(-1.0, 10.0)
    assert a2.timestamps_s.tolist() == a1.timestamps_s.tolist() and a2.power_w.tolist() == a1.power_w.tolist()
    assert batch.read() == one.read()


def test_an_empty_batch_changes_nothing_and_mismatched_arrays_are_refused():
    m = LinkMeter()
    assert m.feed_arrays(np.array([]), np.array([]), np.array([])) == 0 and m.dropped == 0
    with pytest.raises(ValueError, match="2 timestamps, 1 voltages"):
        m.feed_arrays(np.array([1.0, 2.0]), np.array([5.0]), np.array([0.1, 0.1]))


def test_ring_extend_wraps_like_appends_and_keeps_only_the_newest_of_a_long_batch():
    r = RingBuffer(4)
    r.extend(np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0]))
    r.extend(np.array([4.0, 5.0]), np.array([40.0, 50.0]))  # wraps: 1.0 is overwritten
    assert r.total == 5
    assert r.ordered().timestamps_s.tolist() == [2.0, 3.0, 4.0, 5.0]
    r.extend(np.arange(6.0, 12.0), np.arange(60.0, 120.0, 10.0))  # longer than the ring
    assert r.total == 11
    got = r.ordered()
    assert got.timestamps_s.tolist() == [8.0, 9.0, 10.0, 11.0]
    assert got.power_w.tolist() == [80.0, 90.0, 100.0, 110.0]
