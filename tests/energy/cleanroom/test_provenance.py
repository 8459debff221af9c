"""Figures say how they were obtained: measured vs estimated vs unverified, meter, rate, count,
spread; and the board check of the unit plausibility (docs/energy-files.md, *Provenance* and the
trace's checks).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from .meter import Meter, Recording, record
from .runner import attribute, attribute_inprocess
from .scenario import Scenario, build_schedule

SHA = "9d" * 32
FULL = {"kind": "measured", "meter": "ina226", "board": "rpi4b", "bundle_id": "3f1c0a",
        "variant": "tflite-int8", "variant_sha256": SHA}


def _rec(tmp_path: Path, header: dict[str, str | None], events: dict[str, object] | None = None,
         sc: Scenario | None = None, m: Meter | None = None) -> Recording:
    rng = np.random.default_rng(21)
    sched = build_schedule(sc or Scenario(window_s=1.5, idle_s=1.2), rng)
    meter = m or Meter()
    meter = Meter(**{**meter.__dict__, "header": header})
    return record(sched, meter, rng, tmp_path, events_header=events)


def test_a_measured_figure_says_so_with_meter_rate_count_and_interval(tmp_path: Path) -> None:
    rec = _rec(tmp_path, FULL, {"bundle_id": "3f1c0a", "variant_sha256": SHA})
    res = attribute(rec.power, rec.events)
    assert res.rc == 0, res.err
    first, kind = res.out.splitlines()[:2]
    # "energy per inference: X mJ [lo, hi] (95%), dynamic Y mJ [lo, hi]; measured (ina226, 1000 Hz)"
    m = re.fullmatch(r"energy per inference: ([\d.]+) mJ \[([\d.]+), ([\d.]+)\] \(95%\), dynamic "
                     r"([\d.]+) mJ \[([\d.]+), ([\d.]+)\]; measured \(ina226, 1000 Hz\)", first)
    assert m, first
    lo, mid, hi = float(m[2]), float(m[1]), float(m[3])
    assert lo < mid < hi
    assert kind.startswith("kind: measured") and "rpi4b" in kind and "3f1c0a" in kind
    assert f"{rec.schedule.truth.n} inferences in 3 windows" in res.out
    assert "bootstrap" in res.out  # the method line says how the interval was made


def test_json_figure_carries_its_provenance(tmp_path: Path) -> None:
    rec = _rec(tmp_path, FULL, {"bundle_id": "3f1c0a", "variant_sha256": SHA},
               m=Meter(rate_hz=500.0, drop_p=0.1))
    d = attribute_inprocess(rec.power, rec.events, "--json").data
    assert d["kind"] == "measured" and d["provenance"]["kind"] == "measured"
    assert d["meter"] == "ina226" and d["provenance"]["board"] == "rpi4b"
    assert d["provenance"]["variant_sha256"] == SHA and d["provenance"]["bundle_id"] == "3f1c0a"
    assert d["n_inferences"] == rec.schedule.truth.n
    # 10 % of the samples dropped: the rate reported is the one the windows really had
    assert 0.85 * 500 < d["sample_rate_hz"] < 0.95 * 500
    assert d["confidence"] == 0.95 and len(d["spread_mj"]) == 2 and len(d["dynamic_spread_mj"]) == 2
    assert d["uncertainty_mj"]["statistical"] > 0


@pytest.mark.parametrize(("name", "header", "events", "kind", "why"), [
    ("no kind line", {**FULL, "kind": None}, {}, "unverified", "kind"),
    ("declared estimated", {**FULL, "kind": "estimated"}, {}, "estimated", ""),
    ("not a physical meter", {**FULL, "meter": "model:rpi4b"}, {}, "estimated", "model"),
    ("no bundle id", {**FULL, "bundle_id": None}, {}, "unverified", "bundle_id"),
    ("no board", {**FULL, "board": None}, {"board": None}, "unverified", "board"),
    ("events name another board", FULL, {"board": "rpi5", "bundle_id": "3f1c0a"}, "unverified", "rpi5"),
    ("events name another bundle", FULL, {"bundle_id": "ffff"}, "unverified", "ffff"),
])
def test_what_is_not_measured(tmp_path: Path, name: str, header: dict[str, str | None],
                              events: dict[str, object], kind: str, why: str) -> None:
    rec = _rec(tmp_path, header, events)
    d = attribute_inprocess(rec.power, rec.events, "--json").data
    assert d["kind"] == kind, (name, d["provenance"])
    assert why in str(d["provenance"]["reason"]), d["provenance"]["reason"]
    assert kind.upper() in attribute_inprocess(rec.power, rec.events).out.splitlines()[0]


def test_power_far_beyond_the_named_board_is_refused_and_3x_is_flagged(tmp_path: Path) -> None:
    """zero2w: 0.6-2.0 W. A 6.5 W board (3.2 x max) is flagged; 45 W (22 x) is a units refusal;
    --board overrides the trace's board."""
    hot = _rec(tmp_path, FULL, {"bundle_id": "3f1c0a"},
               sc=Scenario(window_s=1.5, idle_s=1.2, idle_w=6.5))
    flagged = attribute_inprocess(hot.power, hot.events, "--board", "zero2w", "--json")
    assert flagged.rc == 0
    assert [w for w in flagged.data["warnings"] if w.startswith("units:") and "3 x" in w and "zero2w" in w]
    # the trace's own board (rpi4b, up to 5 W: 1.3 x) is not flagged
    plain = attribute_inprocess(hot.power, hot.events, "--json")
    assert not [w for w in plain.data["warnings"] if w.startswith("units:")]
    huge = _rec(tmp_path, FULL, {}, sc=Scenario(window_s=1.5, idle_s=1.2, idle_w=45.0, extra_w=10.0))
    res = attribute_inprocess(huge.power, huge.events, "--board", "zero2w")
    assert res.rc == 1 and "(units)" in res.err, res.err
