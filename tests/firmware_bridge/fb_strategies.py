"""Hypothesis strategies for firmware_bridge messages (shared by the firmware_bridge tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from firmware_bridge import (
    MAX_CAPTURE_SAMPLES,
    Capture,
    Config,
    Heartbeat,
    Hello,
    Log,
    Ping,
    Pong,
    Power,
    PowerSample,
    Result,
    ResultContext,
    ResultFlag,
    Start,
    Stop,
    TimeReply,
    TimeRequest,
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)
i32 = st.integers(-(2**31), 2**31 - 1)
# No subnormals: the codecs copy float bits unchanged, but the C test harness converts floats to
# and from decimal text, and a -ffast-math build (FTZ/DAZ) flushes subnormals to zero there.
f32 = st.floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=False)
unit_f32 = st.floats(0.0, 1.0, width=32, allow_subnormal=False)

boot_ids = st.integers(1, 0xFFFF_FFFF)
states = st.integers(0, 2)
hellos = st.builds(
    Hello,
    u8,
    u8,
    u8,
    u8,
    u16,
    u64,
    u32,
    st.just(1),  # the only sample format a host accepts (others: Incompatible)
    st.integers(1, MAX_CAPTURE_SAMPLES),
    u64,
    u32,
    boot_ids,
    states,
    u32,
    u16,
)
captures = st.builds(
    Capture,
    capture_id=u32,
    sample_rate_hz=u32,
    centre_freq_hz=u64,
    gain_db=f32,
    iq_bytes=st.integers(0, MAX_CAPTURE_SAMPLES).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
)
small_captures = st.builds(
    Capture,
    capture_id=u32,
    sample_rate_hz=u32,
    centre_freq_hz=u64,
    gain_db=f32,
    iq_bytes=st.integers(0, 40).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
)
power_samples = st.builds(PowerSample, u64, u16, i32)
powers = st.builds(Power, st.lists(power_samples, max_size=256).map(tuple))
heartbeats = st.builds(Heartbeat, u32, u32, u32, u32, boot_ids, u32, states)
time_replies = st.builds(TimeReply, u64, u64, u64)
time_requests = st.builds(TimeRequest, u64)
logs = st.builds(Log, st.integers(0, 3), st.text(max_size=60).filter(lambda t: len(t.encode()) <= 255))
pongs = st.builds(Pong, u32)
starts = st.just(Start())
stops = st.just(Stop())
configs = st.builds(Config, u32, u64, f32, u32, st.integers(0, MAX_CAPTURE_SAMPLES), u16)
e4 = st.integers(0, 10_000)  # 1.2's optional context: ordered fractions on the wire's 1e-4 grid


def _context(t: tuple[int, int, int, int]) -> ResultContext:
    lo, mid, hi = sorted(t[:3])
    return ResultContext(mid / 10_000, lo / 10_000, hi / 10_000, t[3])


contexts = st.tuples(e4, e4, e4, u16).map(_context)
results = st.one_of(
    st.builds(Result, u32, u16, unit_f32, u32, u8.map(lambda f: f & ~ResultFlag.CONTEXT)),
    st.builds(
        lambda c, lbl, conf, lat, f, ctx: Result(c, lbl, conf, lat, f | ResultFlag.CONTEXT, ctx),
        u32, u16, unit_f32, u32, u8, contexts,
    ),
)
pings = st.builds(Ping, u32)

device_messages = st.one_of(hellos, small_captures, powers, heartbeats, logs, pongs, time_replies)
stream_messages = st.one_of(small_captures, powers, logs, pongs, time_replies)  # no boot IDs
host_messages = st.one_of(starts, stops, configs, results, pings, time_requests)
all_messages = st.one_of(device_messages, host_messages, captures)
