"""The background sampler: ordered timestamps in the ring, meter errors surfaced to the caller."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edgekit.energy.meters.base import MeterInfo, PowerSample
from edgekit.energy.ring import RingBuffer
from edgekit.energy.sampler import Sampler
from edgekit.errors import MeterError

INFO = MeterInfo("stub", "stub", "measured", 1000.0, None, "nothing")


class CountingMeter:
    """Returns increasing timestamps; signals once it has been read ``target`` times."""

    info = INFO

    def __init__(self, target: int, fail: bool = False) -> None:
        self.n = 0
        self.target = target
        self.fail = fail
        self.reached = threading.Event()

    def read(self) -> PowerSample:
        self.n += 1
        if self.n >= self.target:
            self.reached.set()
            if self.fail:
                raise MeterError("stub: device unplugged")
        return PowerSample(float(self.n), 2.0 * self.n)

    def close(self) -> None:
        pass


def test_sampler_collects_in_order() -> None:
    meter = CountingMeter(target=20)
    with Sampler(meter, 2000.0) as sampler:
        assert meter.reached.wait(10.0)
    t, p = sampler.samples()
    assert t.size >= 20
    assert np.all(np.diff(t) > 0)
    assert np.allclose(p, 2.0 * t)
    assert sampler.count_between(5.0, 10.0) == 6


def test_sampler_surfaces_meter_error() -> None:
    meter = CountingMeter(target=3, fail=True)
    sampler = Sampler(meter, 2000.0, max_failures=1)  # give up at the first failed read
    sampler.start()
    assert meter.reached.wait(10.0)
    sampler.stop()
    with pytest.raises(MeterError, match="device unplugged"):
        sampler.samples_between(0.0, 10.0)


def test_ring_wraps_and_keeps_order() -> None:
    ring = RingBuffer(4)
    for i in range(10):
        ring.append(float(i), float(i))
    t, _ = ring.ordered()
    assert list(t) == [6.0, 7.0, 8.0, 9.0]
    assert ring.count_between(7.0, 100.0) == 3
    assert list(ring.samples_between(7.5, 8.0).timestamps_s) == [7.0, 8.0, 9.0]


class ReadyMeter:
    """Has a new value on every third poll; counts what was asked."""

    info = INFO

    def __init__(self) -> None:
        self.polls = 0
        self.reached = threading.Event()

    def read_if_ready(self) -> PowerSample | None:
        self.polls += 1
        if self.polls >= 30:
            self.reached.set()
        return PowerSample(float(self.polls), 1.0) if self.polls % 3 == 0 else None

    def read(self) -> PowerSample:
        raise AssertionError("a ready-polling sampler must not call read()")

    def close(self) -> None:
        pass


def test_sampler_polls_the_ready_flag_and_stores_only_new_values() -> None:
    meter = ReadyMeter()
    with Sampler(meter, 2000.0) as sampler:
        assert meter.reached.wait(10.0)
    assert sampler.ready_polling and sampler.delay_s == pytest.approx(0.5 / 2000.0)
    t, _ = sampler.samples()
    assert t.size >= 10 and np.all(t % 3 == 0)  # every third poll, nothing else
