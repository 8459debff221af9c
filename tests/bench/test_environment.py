"""The board probe through a fake sysfs/procfs tree and a fake vcgencmd (no patching)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.environment import (
    Environment,
    decode_throttled,
    probe_environment,
    read_throttled,
    throttle_warnings,
    throttled_during,
)

from .conftest import write_vcgencmd


def _probe(board: Path, vcgencmd: Path | str) -> Environment:
    return probe_environment(sysfs_root=board / "sys", proc_root=board / "proc", vcgencmd=vcgencmd)


def test_probe_reads_the_fake_pi(fake_board: Path, tmp_path: Path) -> None:
    vcgencmd = write_vcgencmd(tmp_path / "vcgencmd", before="0x0", after="0x0")
    env = probe_environment(sysfs_root=fake_board / "sys", proc_root=fake_board / "proc", vcgencmd=vcgencmd)
    assert env.board_model == "Raspberry Pi 4 Model B Rev 1.4"  # trailing NUL stripped
    assert env.cpu_governor == "ondemand"
    assert env.cpu_freq_mhz == pytest.approx(1500.0)
    assert env.cpu_max_freq_mhz == pytest.approx(1800.0)
    assert env.temperature_c == pytest.approx(61.835)
    assert env.kernel == "6.6.31+rpt-rpi-v8"
    assert env.throttled is not None and env.throttled.raw == 0
    assert "onnxruntime" in env.versions and "numpy" in env.versions
    assert "ondemand @ 1500 MHz" in env.summary


def test_devicetree_root_overrides_proc(fake_board: Path, tmp_path: Path) -> None:
    dt = tmp_path / "dt"
    dt.mkdir()
    (dt / "model").write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    env = probe_environment(
        sysfs_root=fake_board / "sys",
        proc_root=fake_board / "proc",
        devicetree_root=dt,
        vcgencmd=tmp_path / "absent",
    )
    assert env.board_model == "Raspberry Pi 5 Model B Rev 1.0"
    assert env.throttled is None  # no vcgencmd: unknown, not "fine"


def test_empty_roots_give_none_not_guesses(tmp_path: Path) -> None:
    env = probe_environment(
        sysfs_root=tmp_path / "sys", proc_root=tmp_path / "proc", vcgencmd=tmp_path / "nope"
    )
    assert env.board_model is None
    assert env.cpu_governor is None and env.cpu_freq_mhz is None
    assert env.temperature_c is None and env.throttled is None and env.kernel is None


@pytest.mark.parametrize(
    ("raw", "now", "occurred"),
    [
        (0x0, (), ()),
        (0x1, ("under-voltage detected",), ()),
        (0x2, ("arm frequency capped",), ()),
        (0x4, ("currently throttled",), ()),
        (0x8, ("soft temperature limit active",), ()),
        (
            0x50005,
            ("under-voltage detected", "currently throttled"),
            ("under-voltage has occurred", "throttling has occurred"),
        ),
        (0x80000, (), ("soft temperature limit has occurred",)),
        (0x20000, (), ("arm frequency capping has occurred",)),
    ],
)
def test_throttle_bits_decoded(raw: int, now: tuple[str, ...], occurred: tuple[str, ...]) -> None:
    state = decode_throttled(raw)
    assert state.now == now and state.occurred == occurred
    assert state.throttled_now == bool(now)


def test_read_throttled_runs_the_program(tmp_path: Path) -> None:
    vcgencmd = write_vcgencmd(tmp_path / "vcgencmd", before="0x50005", after="0x0")
    state = read_throttled(vcgencmd)
    assert state is not None and state.raw == 0x50005
    assert read_throttled(tmp_path / "missing") is None


def test_throttling_during_the_run_is_warned(fake_board: Path, tmp_path: Path) -> None:
    vcgencmd = write_vcgencmd(tmp_path / "vcgencmd", before="0x0", after="0x50005")
    before = _probe(fake_board, vcgencmd)
    after = _probe(fake_board, vcgencmd)
    assert throttled_during(before, after)
    warnings = throttle_warnings(before, after)
    assert any("THROTTLED DURING THE RUN" in w and "under-voltage" in w for w in warnings)


def test_sticky_bits_from_before_the_run_are_not_blamed_on_it(fake_board: Path, tmp_path: Path) -> None:
    # 0x50000: under-voltage and throttling occurred since boot, but not now and not newly
    vcgencmd = write_vcgencmd(tmp_path / "vcgencmd", before="0x50000", after="0x50000")
    before = _probe(fake_board, vcgencmd)
    after = _probe(fake_board, vcgencmd)
    assert not throttled_during(before, after)
    assert throttle_warnings(before, after) == []


def test_clock_drop_is_warned(fake_board: Path, tmp_path: Path) -> None:
    before = _probe(fake_board, tmp_path / "none")
    (fake_board / "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq").write_text("600000\n")
    after = _probe(fake_board, tmp_path / "none")
    assert any("1500 to 600 MHz" in w for w in throttle_warnings(before, after))
