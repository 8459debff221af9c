"""Every refusal docs/energy-files.md promises, run as a user runs it (the console script).

The doc: "Refusals exit with code 1 and name their cause: aliasing, clock, units, drift,
coverage, resolution"; `--help`: "1 refused (the files are understood but cannot give a
defensible figure)". So: exit 1, nothing on stdout (no figure before the refusal), one line on
stderr naming the cause in parentheses, and with ``--json`` a refusal object instead of a figure.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from .meter import Meter, Recording, record
from .runner import attribute, attribute_inprocess
from .scenario import Scenario, build_schedule

SHORT = {"window_s": 3.0, "idle_s": 2.0}


def _rec(tmp_path: Path, sc: Scenario, m: Meter, seed: int = 5) -> Recording:
    rng = np.random.default_rng(seed)
    return record(build_schedule(sc, rng), m, rng, tmp_path)


def _rename(old: str, new: str) -> Callable[[Recording], None]:
    """Relabel a column: the numbers stay, the declared unit changes (a unit slip)."""
    def edit(r: Recording) -> None:
        r.power.write_text(r.power.read_text().replace(old, new, 1))
    return edit


def _cut_half(r: Recording) -> None:
    lines = r.power.read_text().splitlines()
    r.power.write_text("\n".join(lines[: len(lines) // 2]) + "\n")


def _negate_one(r: Recording) -> None:
    lines = r.power.read_text().splitlines()
    t, _ = lines[500].split(",")
    lines[500] = f"{t},-2.5"
    r.power.write_text("\n".join(lines) + "\n")


def _zigzag_idle(r: Recording) -> None:
    """Idle that jumps up and down between segments: no smooth curve through it (add 0.8 W to
    every sample of the second and fourth idle segments, nothing else)."""
    import json

    idle = [json.loads(x) for x in r.events.read_text().splitlines()[1:]]
    segs = [(e["start_s"], e["end_s"]) for e in idle if e.get("event") == "idle"]
    lines = r.power.read_text().splitlines()
    out = []
    for ln in lines:
        if ln[:1].isdigit():
            t, p = (float(x) for x in ln.split(","))
            if any(a - 0.2 <= t <= b + 0.2 for a, b in (segs[1], segs[3])):
                p += 0.8
            ln = f"{t!r},{p!r}"
        out.append(ln)
    r.power.write_text("\n".join(out) + "\n")


REFUSALS: dict[str, tuple[Scenario, Meter, Callable[[Recording], None] | None, str]] = {
    # a fixed 5 ms loop, not dithered, under a 200 Hz point sampler: every sample on the same phases
    "aliasing": (Scenario(**SHORT, infer_s=0.004, infer_jitter=0.0, gap_s=(0.001, 0.001)),
                 Meter(rate_hz=200.0, noise_w=0.001), None, "aliasing"),
    # a meter clock with no sync events and no power edges (no marker, no extra power)
    "clock": (Scenario(**SHORT, marker_w=0.0, extra_w=0.0), Meter(clock="meter", offset_s=50.0),
              None, "clock"),
    "units-mW-as-W": (Scenario(**SHORT), Meter(columns=("timestamp_s", "power_mw")),
                      _rename("power_mw", "power_w"), "units"),
    "units-W-as-mW": (Scenario(**SHORT), Meter(), _rename("power_w", "power_mw"), "units"),
    "units-VxI-mA-as-A": (Scenario(**SHORT),
                          Meter(columns=("timestamp_s", "power_w", "voltage_v", "current_ma")),
                          _rename("current_ma", "current_a"), "units"),
    "units-negative": (Scenario(**SHORT), Meter(), _negate_one, "units"),
    "coverage": (Scenario(**SHORT), Meter(), _cut_half, "coverage"),
    "resolution-idle": (Scenario(window_s=3.0, idle_s=0.6), Meter(rate_hz=2.0), None, "resolution"),
    "resolution-window": (Scenario(window_s=0.4, idle_s=3.0, infer_s=0.05), Meter(rate_hz=2.0), None,
                          "resolution"),
    "drift": (Scenario(**SHORT, freqs_mhz=(1500.0,) * 3, extra_w=0.5), Meter(), _zigzag_idle, "drift"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_documented_refusal(tmp_path: Path, name: str, as_json: bool) -> None:
    sc, m, edit, cause = REFUSALS[name]
    rec = _rec(tmp_path, sc, m)
    if edit:
        edit(rec)
    # the text form through the console script; the JSON form through its entry point in-process
    res = (attribute_inprocess(rec.power, rec.events, "--json") if as_json
           else attribute(rec.power, rec.events))
    assert res.rc == 1, (res.rc, res.out[:300], res.err)
    assert "Traceback" not in res.err
    if as_json:
        d = res.data
        assert d["status"] == "refused" and d["cause"] == cause, d
        assert "energy_per_inference_mj" not in d
    else:
        assert res.out == "", "a figure was printed before the refusal"
        lines = res.err.strip().splitlines()
        assert len(lines) == 1 and f"({cause})" in lines[0], res.err


def test_unit_slip_names_the_unit_that_would_fit(tmp_path: Path) -> None:
    """The doc: 'naming the unit that would fit'; the V x I refusal 'gives the median ratio, so a
    milli-unit slip reads as x1000' (here: power is 1000 x smaller than V x I, so x0.001)."""
    for name, hint in (("units-mW-as-W", "mW"), ("units-VxI-mA-as-A", "0.001")):
        sc, m, edit, _ = REFUSALS[name]
        rec = _rec(tmp_path, sc, m)
        assert edit is not None
        edit(rec)
        res = attribute_inprocess(rec.power, rec.events)
        assert hint in res.err, res.err


def test_a_small_vxi_disagreement_within_5_percent_is_accepted(tmp_path: Path) -> None:
    """V x |I| must agree with power within 5 % (plus resolution): 3 % off is still a figure."""
    rec = _rec(tmp_path, Scenario(**SHORT),
               Meter(columns=("timestamp_s", "power_w", "voltage_v", "current_a")))
    lines = rec.power.read_text().splitlines()
    out = []
    for ln in lines:
        if ln[:1].isdigit():
            t, p, v, i = (float(x) for x in ln.split(","))
            ln = f"{t!r},{p * 1.03!r},{v!r},{i!r}"
        out.append(ln)
    rec.power.write_text("\n".join(out) + "\n")
    assert attribute_inprocess(rec.power, rec.events).rc == 0
    rows = [ln if not ln[:1].isdigit() else
            ",".join([*ln.split(",")[:1], repr(float(ln.split(",")[1]) * 1.08 / 1.03), *ln.split(",")[2:]])
            for ln in out]
    rec.power.write_text("\n".join(rows) + "\n")
    res = attribute_inprocess(rec.power, rec.events)
    assert res.rc == 1 and "(units)" in res.err, res.err
