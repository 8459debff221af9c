"""The link adapter on a real pseudo-terminal: a device-side Connection writes wire bytes into
the master end; the adapter opens the slave by path, as on a Pi."""

from __future__ import annotations

import os
import time
import tty

import numpy as np
import pytest

from edgekit.errors import UsageError
from edgekit.runtime.link_adapter import NO_LABEL, ScannerLink
from edgekit.runtime.link_events import (
    CaptureReceived,
    CapturesLost,
    PowerReceived,
    ScannerHello,
    ScannerReset,
)
from edgekit.runtime.settings import LinkSettings
from firmware_bridge import (
    Capture,
    Config,
    Connection,
    Hello,
    Packet,
    PacketFlag,
    Ping,
    Power,
    PowerSample,
    Reconnected,
    Result,
    ResultFlag,
    Start,
    Stop,
)
from firmware_bridge.codec import build_header, encode_raw, forge_payload
from firmware_bridge.messages import MessageType


class Device:
    def __init__(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave
        self.conn = Connection(role="device", minor=0)  # a 1.0 scanner: no TIME, no boot IDs
        self.t0 = time.monotonic() - 1.0  # booted a second ago

    def now_us(self) -> int:
        return int((time.monotonic() - self.t0) * 1e6)

    def send(self, message, flags: int = 0, ts_us: int | None = None) -> None:
        os.write(
            self.master,
            self.conn.send(message, timestamp_us=self.now_us() if ts_us is None else ts_us, flags=flags),
        )

    def received(self, timeout_s: float = 2.0) -> list:
        out = []
        deadline = time.monotonic() + timeout_s
        os.set_blocking(self.master, False)
        while time.monotonic() < deadline:
            try:
                self.conn.receive_data(os.read(self.master, 4096))
            except BlockingIOError:
                time.sleep(0.01)
            out += [e.message for e in self.conn.events() if isinstance(e, Packet)]
            if out and time.monotonic() > deadline - timeout_s + 0.3:
                break
        return out

    def close(self) -> None:
        for fd in (self.master, self._slave):
            os.close(fd)


def hello(fmt: int = 1) -> Hello:
    return Hello(1, 0, 2, 3, 4, 0xABC, 1_000_000, fmt, 1024, 433_920_000, 0x07)


def capture(cid: int) -> Capture:
    return Capture.from_iq(
        np.full((1024, 2), cid % 100, np.int16),
        capture_id=cid,
        sample_rate_hz=1_000_000,
        centre_freq_hz=433_920_000,
    )


@pytest.fixture
def device():
    d = Device()
    yield d
    d.close()


def poll_until(link: ScannerLink, pred, limit_s: float = 3.0) -> list:
    events: list = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and not pred(events):
        events += link.poll(0.05)
    return events


def test_pings_until_hello_then_starts_once_when_accepted(device):
    link = ScannerLink(device.path, LinkSettings(hello_retry_s=0.2))
    try:
        link.poll(0.01)
        assert any(isinstance(m, Ping) for m in device.received(0.5))
        device.send(hello(), flags=PacketFlag.BOOT)
        events = poll_until(link, lambda ev: any(isinstance(e, ScannerHello) for e in ev))
        h = next(e for e in events if isinstance(e, ScannerHello))
        assert (h.firmware_version, h.protocol_version, h.boot, h.samples_per_capture) == (
            "2.3.4",
            "1.0",
            True,
            1024,
        )
        assert h.capabilities == ("power_monitor", "heartbeat", "result_display")
        assert all(isinstance(m, Ping) for m in device.received(0.3))  # retries, before the HELLO
        link.accept()
        link.accept()  # a second HELLO (reply to START) must not start again
        assert [type(m) for m in device.received(0.5)] == [Start]
        link.refuse()
        assert [type(m) for m in device.received(0.5)] == [Stop]
    finally:
        link.close()


def test_capture_id_gaps_are_counted_as_lost_and_backwards_ids_are_not(device):
    link = ScannerLink(device.path)
    try:
        events: list = []
        for cid in (10, 11, 14, 15, 3):  # one at a time: a pty holds ~4 KB
            device.send(capture(cid))
            events += poll_until(link, lambda ev: any(isinstance(e, CaptureReceived) for e in ev))
    finally:
        link.close()
    got = [e.capture_id for e in events if isinstance(e, CaptureReceived)]
    lost = [(e.count, e.next_capture_id) for e in events if isinstance(e, CapturesLost)]
    assert got == [10, 11, 14, 15, 3]
    assert lost == [(2, 14)]  # 12 and 13; the jump back to 3 (a restart) is not a loss
    c = next(e for e in events if isinstance(e, CaptureReceived))
    assert c.iq.shape == (1024, 2) and c.iq.dtype == np.int16
    assert c.ended_at_s <= c.received_at_s


def test_device_time_is_mapped_onto_host_time(device):
    link = ScannerLink(device.path)
    try:
        device.send(Power((PowerSample(device.now_us() - 100_000, 5000, 200_000),)))
        events = poll_until(link, lambda ev: any(isinstance(e, PowerReceived) for e in ev))
    finally:
        link.close()
    (t_s, v, a) = next(e for e in events if isinstance(e, PowerReceived)).samples[0]
    # the sample was taken 100 ms (device clock) before the packet was sent
    assert time.monotonic() - 1.0 < t_s < time.monotonic()
    assert (v, a) == (5.0, 0.2)


def test_results_carry_flags_and_no_label(device):
    link = ScannerLink(device.path)
    try:
        assert link.send_result(7, None, 0.3, 0.012, unknown=True, overrun=True)
        assert link.send_result(8, 2, 1.7, -1.0, fallback=True)  # clamped, never refused
        msgs = [m for m in device.received(0.5) if isinstance(m, Result)]
    finally:
        link.close()
    assert (msgs[0].capture_id, msgs[0].label_index, msgs[0].latency_us) == (7, NO_LABEL, 12_000)
    # no TIME reply from this 1.0 device: the latency counts from arrival, and says so
    assert msgs[0].flags == ResultFlag.UNKNOWN | ResultFlag.OVERRUN | ResultFlag.LATENCY_FROM_RECEIPT
    assert (msgs[1].label_index, msgs[1].confidence, msgs[1].latency_us, msgs[1].flags) == (
        2,
        1.0,
        0,
        ResultFlag.FALLBACK | ResultFlag.LATENCY_FROM_RECEIPT,
    )


def test_a_port_that_does_not_exist_is_a_one_line_usage_error(tmp_path):
    with pytest.raises(UsageError, match="--port") as info:
        ScannerLink(str(tmp_path / "nope"))
    assert "\n" not in str(info.value)


def test_a_hello_the_bridge_cannot_take_reaches_the_daemon_as_a_hello_to_refuse(device):
    link = ScannerLink(device.path)
    try:
        # not CI16: the bridge says Incompatible (the codec will not build one: forge it)
        payload = forge_payload(hello(fmt=2))
        header = build_header(MessageType.HELLO, 0, device.now_us(), len(payload), PacketFlag.BOOT, minor=0)
        os.write(device.master, encode_raw(header + payload))
        events = poll_until(link, lambda ev: any(isinstance(e, ScannerHello) for e in ev))
        link.accept()  # even if asked, an incompatible scanner is not started
        sent = device.received(0.5)
    finally:
        link.close()
    h = next(e for e in events if isinstance(e, ScannerHello))
    assert (h.sample_format, h.samples_per_capture) == (2, 1024)
    assert link.session.incompatible is not None
    assert not any(isinstance(m, Start) for m in sent)


# -- the POWER batch period (PROTOCOL.md §5.9) --------------------------------------------------
class Device11(Device):
    """A 1.1 scanner with a power monitor: HELLO reports the capture and POWER periods."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = Connection(role="device", minor=1)


def hello11(power_period_ms: int = 100, caps: int = 0x03) -> Hello:
    # POWER_MONITOR | HEARTBEAT, no TIME_SYNC (no TIME rounds to answer); streaming
    return Hello(1, 1, 2, 3, 4, 0xABC, 1_000_000, 1, 1024, 433_920_000, caps, 0x1234, 2, 500, power_period_ms)


def power_batch(device: Device, n: int, step_us: int) -> Power:
    t0 = device.now_us() - n * step_us
    return Power(tuple(PowerSample(t0 + i * step_us, 5000, 80_000) for i in range(n)))


def configs_after_streaming(device: Device, link: ScannerLink, hello_msg: Hello, step_us: int) -> list:
    """HELLO, accept, one capture at gain 12.5 dB and one POWER batch; the CONFIGs sent."""
    device.send(hello_msg)  # the answer to the PING (a BOOT HELLO would be PINGed back first)
    poll_until(link, lambda ev: any(isinstance(e, ScannerHello) for e in ev))
    link.accept()
    c = Capture.from_iq(
        np.zeros((1024, 2), np.int16),
        capture_id=1,
        sample_rate_hz=1_000_000,
        centre_freq_hz=433_920_000,
        gain_db=12.5,
    )
    device.send(c)
    poll_until(link, lambda ev: any(isinstance(e, CaptureReceived) for e in ev))
    device.send(power_batch(device, 10, step_us))
    poll_until(link, lambda ev: any(isinstance(e, PowerReceived) for e in ev))
    return [m for m in device.received(0.5) if isinstance(m, Config)]


@pytest.fixture
def device11():
    d = Device11()
    yield d
    d.close()


@pytest.mark.parametrize(
    ("want_ms", "step_us", "asked_ms"),
    [
        (1000, 10_000, 1000),  # 100 readings per batch
        (5000, 10_000, 2560),  # 256 readings of 10 ms: the most a batch holds
        (1000, 2_000, 512),  # a faster meter: 256 x 2 ms
        (0, 10_000, 0),  # no link meter: no POWER at all
    ],
)
def test_a_11_scanner_is_asked_for_the_power_period_keeping_its_capture_period_and_gain(
    device11, want_ms, step_us, asked_ms
):
    link = ScannerLink(device11.path, power_period_ms=want_ms)
    try:
        configs = configs_after_streaming(device11, link, hello11(100), step_us)
    finally:
        link.close()
    # sample rate, centre frequency and capture length 0 = unchanged; the capture period (500 ms
    # from HELLO) and the gain (12.5 dB from the capture) sent back as they are
    assert configs == [Config(0, 0, 12.5, 500, 0, asked_ms)]


def test_a_period_already_in_force_or_a_10_scanner_or_none_wanted_is_left_alone(device11, device):
    for dev, msg, want in (
        (device11, hello11(1000), 1000),  # already in force
        (device11, hello11(100, caps=0x02), 1000),  # no power monitor
        (device11, hello11(100), None),  # the daemon does not ask
        (device, hello(), 1000),  # 1.0: its capture period is unknown, a CONFIG would change it
    ):
        link = ScannerLink(dev.path, power_period_ms=want)
        try:
            assert configs_after_streaming(dev, link, msg, 10_000) == [], (msg, want)
        finally:
            link.close()


def test_a_reboot_gets_the_same_config_at_once_and_a_reconnect_asks_afresh(device11):
    link = ScannerLink(device11.path, power_period_ms=1000)
    try:
        first = configs_after_streaming(device11, link, hello11(100), 10_000)
        assert first == [Config(0, 0, 12.5, 500, 0, 1000)]
        # a reboot (a BOOT HELLO with a new boot ID): PROTOCOL.md §6.3 re-applies the CONFIG
        rebooted = Hello(1, 1, 2, 3, 4, 0xABC, 1_000_000, 1, 1024, 433_920_000, 0x03, 0x5678, 1, 500, 100)
        device11.send(rebooted, flags=PacketFlag.BOOT)
        poll_until(link, lambda ev: any(isinstance(e, ScannerReset) for e in ev))
        again = [m for m in device11.received(0.5) if isinstance(m, Config)]
        assert again == first
        # a reconnect may be another scanner: nothing of this one's is re-applied
        out: list = []
        link._translate(Reconnected(1), out)
        assert link.session.config is None and out
    finally:
        link.close()
