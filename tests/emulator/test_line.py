"""The UART line model: rate, ordering, and a full TX buffer refusing whole frames."""

from __future__ import annotations

import pytest

from edgekit.emulator.line import LineModel


def test_a_uart_carries_a_tenth_of_its_baud_rate_in_bytes():
    line = LineModel(921_600, tx_buffer_bytes=1 << 20)
    assert line.offer(b"\x01" * 9_216, 0)  # 9,216 bytes = 92,160 bits = 100 ms at 921,600 baud
    assert line.take(50_000) == b"\x01" * 4_608  # half of it after half the time
    assert line.next_due_us() == 100_000
    assert len(line.take(100_000)) == 4_608 and line.queued_bytes == 0


def test_frames_queue_behind_each_other_and_keep_their_order():
    line = LineModel(115_200)  # 86.8 µs a byte
    line.offer(b"a" * 100, 0)
    line.offer(b"b" * 100, 0)
    assert line.take(8_681) == b"a" * 100  # 100 bytes x 86.8 µs
    assert line.take(17_362) == b"b" * 100


def test_a_full_tx_buffer_refuses_whole_frames():
    line = LineModel(921_600, tx_buffer_bytes=10_000)
    assert line.offer(b"x" * 6_000, 0)
    assert not line.fits(5_000) and not line.offer(b"y" * 5_000, 0)
    assert line.offer(b"z" * 4_000, 0)  # what fits still goes
    assert line.queued_bytes == 10_000


def test_usb_has_no_rate_limit_here():
    line = LineModel(None)
    line.offer(b"q" * 100_000, 5)
    assert line.take(5) == b"q" * 100_000 and line.next_due_us() is None


@pytest.mark.parametrize("baud", [0, 299])
def test_implausible_rates_are_refused(baud):
    with pytest.raises(ValueError, match="baud"):
        LineModel(baud)
