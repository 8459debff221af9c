"""NaN, infinity, empty and huge measured values on their way into the daemon's journal.

The journal refuses NaN/inf (``allow_nan=False``); the daemon builds events from meter readings,
the fuel gauge and drift scores. These tests drive each path with such values at the lowest
boundary (the link meter's POWER readings, a sysfs hwmon tree, a sysfs fuel gauge) and check that
the daemon keeps answering and says what happened: a non-finite field is stored as null and named
in ``non_finite``, a window of bad readings is *invalid* (no figure), a gauge reading "nan" is
unreadable, a meter that fails ends energy windows with one ``energy_meter_failed`` event.
Expected values are written out by hand, not computed with the code under test.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgekit.runtime.parts as parts_module
from edgekit.bundle import load_bundle
from edgekit.energy.meters.link import LinkMeter
from edgekit.runtime.battery_gauge import BatteryGauge
from edgekit.runtime.daemon import Daemon
from edgekit.runtime.energy import RollingEnergy
from edgekit.runtime.finite import finite_fields
from edgekit.runtime.governor import Governor
from edgekit.runtime.journal import read_journal
from edgekit.runtime.jsonlog import StructuredLog
from edgekit.runtime.link_events import CaptureReceived, PowerReceived
from edgekit.runtime.settings import GovernorSettings, load_settings
from tests.runtime.bundles import write_bundle
from tests.runtime.test_daemon_loop import HELLO

FIXTURES = Path(__file__).parents[1] / "energy" / "fixtures"
NAN, INF = float("nan"), float("inf")


def _strict_json(text: str) -> Any:
    """json.loads that refuses NaN/Infinity (what jq and the journal's readers accept)."""

    def refuse(word: str) -> Any:
        raise ValueError(f"non-standard JSON constant {word}")

    return json.loads(text, parse_constant=refuse)


# -- the payload filter ------------------------------------------------------------------------
def test_finite_fields_nulls_and_names_every_non_finite_number():
    data = {
        "a": NAN,
        "b": {"c": INF, "d": 2.5},
        "e": [1.0, -INF],
        "f": 3,
        "g": np.float32("nan"),
        "h": "text",
        "i": None,
        "j": True,
    }
    assert finite_fields(data) == {
        "a": None,
        "b": {"c": None, "d": 2.5},
        "e": [1.0, None],
        "f": 3,
        "g": None,
        "h": "text",
        "i": None,
        "j": True,
        "non_finite": {"a": "nan", "b.c": "inf", "e[1]": "-inf", "g": "nan"},
    }


def test_finite_fields_adds_nothing_when_every_number_is_finite():
    assert finite_fields({"x": 1e308, "y": -0.0, "z": [0, 1]}) == {"x": 1e308, "y": -0.0, "z": [0, 1]}


# -- rolling energy windows --------------------------------------------------------------------
def _window(readings: list[tuple[float, float, float]]) -> Any:
    meter = LinkMeter()
    meter.feed(readings)
    roll = RollingEnergy(meter, meter.info, window_s=10.0, min_samples=20, start_s=0.0)
    roll.note_inference(1.0, 1.1)
    return roll.poll(11.0)


def _readings(value_at: dict[int, float]) -> list[tuple[float, float, float]]:
    """1 V x 1 A every 10 ms for 11 s, except the readings at the given indices (current)."""
    return [(i * 0.01, 1.0, value_at.get(i, 1.0)) for i in range(1100)]


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_a_window_with_a_non_finite_reading_is_invalid_with_no_figure(bad):
    # readings 0.00 .. 10.00 s are in the window [0, 10] (1001) and the one at 10.01 s is used to
    # interpolate its end (none exists before 0 s): 1002 used, one bad (index 500); power is
    # V x |I|, so -inf current is +inf power and still not finite
    w = _window(_readings({500: bad}))
    assert w is not None and not w.resolved
    assert w.why == "invalid meter readings: 1 of the 1002 used not finite (NaN or infinity)"
    assert w.energy_j is None and w.energy_per_inference_j is None and w.idle_power_w is None


def test_a_bad_reading_outside_the_window_does_not_invalidate_it():
    w = _window(_readings({1050: NAN}))  # 10.5 s: after the window's end
    assert w is not None and w.resolved
    assert w.energy_j == pytest.approx(10.0, rel=1e-9)  # 1 W for 10 s


def test_readings_so_large_their_energy_overflows_make_an_invalid_window():
    # 1e308 W is finite, but two of them summed in the trapezoid rule are not
    w = _window(_readings(dict.fromkeys(range(1100), 1e308)))
    assert w is not None and not w.resolved
    assert w.why == "invalid meter readings: the energy overflows (readings too large)"
    assert w.energy_j is None


def test_huge_but_integrable_readings_give_a_finite_figure():
    # 1e6 W (a garbage INA219 register, but finite): 1e7 J over the 10 s window
    w = _window(_readings(dict.fromkeys(range(1100), 1e6)))
    assert w is not None and w.resolved and w.energy_j == pytest.approx(1e7, rel=1e-9)


def test_an_empty_window_is_unresolved_not_guessed():
    w = _window([(11.0, 1.0, 1.0)])  # nothing inside [0, 10], one reading after it
    assert w is not None and not w.resolved and w.why == "0 meter samples, need >= 20"


# -- the fuel gauge and the governor -----------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [("nan", None), ("inf", None), ("-inf", None),
                                                 ("", None), ("42", 42.0), ("250", 100.0)])
def test_gauge_reading_that_is_not_a_number_is_unreadable(tmp_path, text, expected):
    (tmp_path / "capacity").write_text(text + "\n")
    assert BatteryGauge(tmp_path).percent() == expected


def test_a_nan_state_of_charge_leaves_the_governor_where_it_was():
    g = Governor(GovernorSettings(), primary="big", cheaper="small")
    g.update(1.0)
    assert g.state == "critical"
    d = g.update(NAN)
    assert (d.state, d.changed) == ("critical", False)


# -- the daemon on the real stack --------------------------------------------------------------
class TimedLink:
    """Stands in for ``ScannerLink`` (as in test_daemon_loop): HELLO, then for ``duration_s``
    one capture and one POWER batch per poll; ``power(i)`` gives reading i's (V, A)."""

    def __init__(self, duration_s: float, power: Any = None) -> None:
        self.duration_s = duration_s
        self.power = power
        self.started: float | None = None
        self.captures = 0
        self.sent: list[int] = []
        self._i = 0

    def done(self) -> bool:
        return self.started is not None and time.monotonic() - self.started > self.duration_s

    def poll(self, timeout_s: float) -> list[Any]:
        if self.started is None:
            self.started = time.monotonic()
            return [HELLO]
        time.sleep(min(timeout_s, 0.02))
        now = time.monotonic()
        self.captures += 1
        iq = np.random.default_rng(self.captures).integers(-2000, 2000, (1024, 2)).astype(np.int16)
        cid = self.captures
        events: list[Any] = [CaptureReceived(cid, cid * 20_000, now, now, 1_000_000, 1, 0.0, iq)]
        if self.power is not None:
            batch = []
            for k in range(4):  # readings every 5 ms up to now
                v, a = self.power(self._i)
                batch.append((now - 0.015 + k * 0.005, v, a))
                self._i += 1
            events.append(PowerReceived(tuple(batch)))
        return events

    def send_result(self, capture_id: int, *_: Any, **__: Any) -> bool:
        self.sent.append(capture_id)
        return True

    def accept(self) -> None:
        pass

    def refuse(self) -> None:
        pass

    def close(self) -> None:
        pass


def _daemon(tmp_path: Path, monkeypatch: Any, link: TimedLink, *, meter: str, sysfs: Path,
            **keys: Any) -> Daemon:
    monkeypatch.setattr(parts_module, "ScannerLink", lambda *_, **__: link)
    settings = load_settings(
        None,
        meter=meter,
        metrics_addr="off",
        **{"journal.path": str(tmp_path / "j.sqlite"), "energy.window_s": 0.2, "energy.min_samples": 2,
           "energy.power_period_ms": 10, **keys},
    )
    return Daemon(
        load_bundle(write_bundle(tmp_path / "b")),
        "scripted",
        settings,
        log=StructuredLog(stream=(tmp_path / "log").open("w")),
        roots={"sysfs_root": sysfs},
    )


def _log(tmp_path: Path) -> list[dict[str, Any]]:
    return [_strict_json(line) for line in (tmp_path / "log").read_text().splitlines()]


def test_nan_readings_make_invalid_windows_on_record_and_the_daemon_answers_on(tmp_path, monkeypatch):
    """Every 7th reading of the scanner's power monitor is NaN: every window holds one, so
    every window is invalid and journaled as such; no internal error; every capture answered."""
    link = TimedLink(1.0, power=lambda i: (5.0, NAN if i % 7 == 3 else 0.08))
    daemon = _daemon(tmp_path, monkeypatch, link, meter="link", sysfs=tmp_path / "no-sysfs")
    assert daemon.run(should_stop=link.done) == 0
    events = read_journal(tmp_path / "j.sqlite")["events"]
    invalid = [e for e in events if e["kind"] == "energy_window_invalid"]
    assert invalid, [e["kind"] for e in events]
    for e in invalid:
        assert e["level"] == "warning"
        assert e["data"]["resolved"] is False and e["data"]["energy_j"] is None
        assert e["data"]["why"].startswith("invalid meter readings: ")
    assert not [e for e in events if e["kind"] == "energy"]  # no figure made of NaN
    log = _log(tmp_path)
    assert not [line for line in log if line["event"] == "internal_error"]
    assert sorted(link.sent) == list(range(1, link.captures + 1))


def test_an_emptied_hwmon_file_stops_energy_windows_not_the_daemon(tmp_path, monkeypatch):
    """The sysfs hwmon meter's power file becomes empty mid-run and stays so (the sampler
    gives up after ``energy.max_failed_reads`` failed reads in a row): one energy_meter_failed
    event, the status says why, every capture answered."""
    sysfs = tmp_path / "sys"
    shutil.copytree(FIXTURES / "sys_hwmon", sysfs)
    power = sysfs / "class" / "hwmon" / "hwmon1" / "power1_input"
    link = TimedLink(1.2)

    def stop() -> bool:
        if link.started is not None and time.monotonic() - link.started > 0.3:
            power.write_text("")  # the driver returned nothing
        return link.done()

    daemon = _daemon(tmp_path, monkeypatch, link, meter="hwmon:name=ina226", sysfs=sysfs,
                     **{"energy.max_failed_reads": 3})
    assert daemon.run(should_stop=stop) == 0
    events = read_journal(tmp_path / "j.sqlite")["events"]
    failed = [e for e in events if e["kind"] == "energy_meter_failed"]
    assert len(failed) == 1 and failed[0]["level"] == "error"
    assert "power1_input: unreadable" in failed[0]["data"]["error"]
    assert "(3 failed reads in a row, 3 in all)" in failed[0]["data"]["error"]
    assert daemon.parts.board.energy["why"].startswith("meter failed: hwmon ")
    assert daemon.parts.board.energy["resolved"] is False
    assert sorted(link.sent) == list(range(1, link.captures + 1))


def test_an_hwmon_file_empty_for_a_moment_leaves_a_gap_not_the_end_of_energy(tmp_path, monkeypatch):
    """The power file reads empty for 0.2 s, then good again (a transient driver failure): no
    energy_meter_failed, windows go on, and the window spanning the failed reads says so.
    Windows of 0.5 s: the sampler (50 Hz) backs off 20, 40, 80, 160, 320 ms, so the gap is
    at most ~0.34 s and the window holding the first failure keeps >= 2 samples (resolved)."""
    sysfs = tmp_path / "sys"
    shutil.copytree(FIXTURES / "sys_hwmon", sysfs)
    power = sysfs / "class" / "hwmon" / "hwmon1" / "power1_input"
    good = power.read_text()
    link = TimedLink(1.8)

    def stop() -> bool:
        if link.started is not None:
            since = time.monotonic() - link.started
            if 0.3 < since < 0.5:
                power.write_text("")
            elif since >= 0.5 and power.read_text() != good:
                power.write_text(good)
        return link.done()

    daemon = _daemon(tmp_path, monkeypatch, link, meter="hwmon:name=ina226", sysfs=sysfs,
                     **{"energy.window_s": 0.5})
    assert daemon.run(should_stop=stop) == 0
    events = read_journal(tmp_path / "j.sqlite")["events"]
    assert not [e for e in events if e["kind"] == "energy_meter_failed"]
    windows = [e["data"] for e in events if e["kind"] == "energy"]
    gapped = [w for w in windows if w["failed_reads"] > 0]
    assert gapped, windows
    for w in gapped:
        assert w["why"].endswith(f"; {w['failed_reads']} failed meter reads (a gap, not filled in)")
    assert windows[-1]["failed_reads_total"] >= 1
    assert sum(w["failed_reads"] for w in windows) <= windows[-1]["failed_reads_total"]
    assert windows[-1]["start_s"] > gapped[0]["start_s"]  # windows went on after the gap
    assert sorted(link.sent) == list(range(1, link.captures + 1))


def test_a_gauge_reading_nan_moves_the_governor_nowhere(tmp_path, monkeypatch):
    """A fuel gauge whose capacity reads "nan": before, clamped to 0 % and critical (a number
    nobody measured); now unreadable, the governor stays normal and says nothing."""
    sysfs = tmp_path / "sys"
    bat = sysfs / "class" / "power_supply" / "BAT0"
    bat.mkdir(parents=True)
    (bat / "type").write_text("Battery\n")
    (bat / "status").write_text("Discharging\n")
    (bat / "capacity").write_text("nan\n")
    link = TimedLink(0.6)
    daemon = _daemon(tmp_path, monkeypatch, link, meter="none", sysfs=sysfs, **{"governor.poll_s": 0.05})
    assert daemon.run(should_stop=link.done) == 0
    events = read_journal(tmp_path / "j.sqlite")["events"]
    assert not [e for e in events if e["kind"] == "governor"]
    assert daemon.parts.board.governor["state"] == "normal"
    assert daemon.parts.board.battery["soc_pct"] is None


def test_a_note_with_non_finite_fields_is_journaled_with_null_and_the_reason(tmp_path, monkeypatch):
    """Any event the daemon notes (drift scores, governor, link) with NaN/inf in its fields: the
    journal keeps null plus ``non_finite``, the log line stays valid JSON."""
    link = TimedLink(0.0)
    daemon = _daemon(tmp_path, monkeypatch, link, meter="none", sysfs=tmp_path / "no-sysfs")
    daemon._note("warning", "drift_detected", "drift", scores={"input.power": NAN, "prediction": 0.5},
                 worst=INF)
    daemon.parts.journal.commit()
    daemon.parts.close()
    (event,) = [e for e in read_journal(tmp_path / "j.sqlite")["events"] if e["kind"] == "drift_detected"]
    assert event["data"] == {
        "scores": {"input.power": None, "prediction": 0.5},
        "worst": None,
        "non_finite": {"scores.input.power": "nan", "worst": "inf"},
    }
    (line,) = [x for x in _log(tmp_path) if x["event"] == "drift_detected"]
    assert line["non_finite"] == {"scores.input.power": "nan", "worst": "inf"}
    assert math.isclose(line["scores"]["prediction"], 0.5)
