"""The sampler survives transient read failures at the lowest boundary (a sysfs hwmon file that
reads empty, an I2C bus that answers EIO), counts them, stores nothing for them, and gives up
(the existing stop path) only after ``max_failures`` failed reads in a row."""

from __future__ import annotations

import errno
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.energy import open_meter
from edgekit.energy.sampler import Sampler
from edgekit.energy.testing import FakeI2CBus, FakeINA219, FakeInaChip
from edgekit.errors import MeterError

FIXTURES = Path(__file__).parent / "fixtures"


def _wait(pred, limit_s: float = 20.0) -> None:
    """Wait for the sampling thread to get somewhere (a bound against hangs, not a timing claim)."""
    deadline = time.monotonic() + limit_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("the sampler did not get there")
        time.sleep(0.002)


class EioBus(FakeI2CBus):
    """The register-level fake whose next ``eio`` transactions fail as a NACKed transfer does."""

    def __init__(self, devices: dict[int, FakeInaChip]) -> None:
        super().__init__(devices)
        self.eio = 0

    def _device(self, addr: int) -> FakeInaChip:
        if self.eio > 0:
            self.eio -= 1
            raise OSError(errno.EIO, "Input/output error")
        return super()._device(addr)


def test_an_hwmon_file_empty_for_a_few_reads_costs_those_samples_only(tmp_path: Path) -> None:
    sysfs = tmp_path / "sys"
    shutil.copytree(FIXTURES / "sys_hwmon", sysfs)
    power = sysfs / "class" / "hwmon" / "hwmon1" / "power1_input"
    meter = open_meter("hwmon:name=ina226", sysfs_root=sysfs)
    power.write_text("")  # the driver returned nothing
    sampler = Sampler(meter, 500.0, max_failures=1000, max_backoff_s=0.005)
    t_start = time.monotonic()
    with sampler:
        _wait(lambda: sampler.failed_reads >= 3)
        power.write_text("6274000\n")  # good again: 6 274 000 uW
        _wait(lambda: sampler.count >= 5)
    failed = sampler.failed_reads
    t, p = sampler.samples()  # raises if the thread ended on the error
    assert failed >= 3 and sampler.consecutive_failures == 0
    assert t.size >= 5 and np.all(p == pytest.approx(6.274))  # no sample made up for the gap
    assert sampler.failed_between(t_start, time.monotonic()) == failed
    assert sampler.failed_between(0.0, t_start - 1e-9) == 0


@pytest.mark.parametrize("eio", [1, 4])
def test_i2c_eio_fewer_times_than_the_limit_is_retried_and_counted(eio: int) -> None:
    bus = EioBus({0x40: FakeINA219(current_a=0.5, voltage_v=5.0)})
    meter = open_meter("ina219", bus=bus)
    bus.eio = eio  # the next reads NACK; the configuration went through
    with Sampler(meter, 500.0, max_failures=5, max_backoff_s=0.005) as sampler:
        _wait(lambda: sampler.count >= 5)
    sampler.check()
    assert sampler.failed_reads == eio  # one failed transaction is one failed read
    assert sampler.consecutive_failures == 0


def test_i2c_eio_as_many_times_as_the_limit_ends_sampling_with_the_count() -> None:
    bus = EioBus({0x40: FakeINA219(current_a=0.5, voltage_v=5.0)})
    meter = open_meter("ina219", bus=bus)
    bus.eio = 5
    sampler = Sampler(meter, 500.0, max_failures=5, max_backoff_s=0.005)
    sampler.start()
    _wait(lambda: sampler.failed_reads >= 5)
    sampler.stop()  # joins: the thread has recorded its error
    assert sampler.count == 0
    expected = r"read failed .*Input/output error.*\(5 failed reads in a row, 5 in all\)"
    with pytest.raises(MeterError, match=expected):
        sampler.samples()


def test_max_failures_below_one_is_refused() -> None:
    bus = FakeI2CBus({0x40: FakeINA219()})
    with pytest.raises(MeterError, match="max_failures must be >= 1, got 0"):
        Sampler(open_meter("ina219", bus=bus), 100.0, max_failures=0)
