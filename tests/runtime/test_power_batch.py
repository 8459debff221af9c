"""A POWER batch reaches the link meter as one array (``PowerReceived`` rows, fed with
``LinkMeter.feed_arrays``): every reading kept, none by a Python step per reading."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from edgekit.runtime.link_events import PowerReceived
from tests.runtime.bundles import write_bundle
from tests.runtime.test_daemon_loop import HELLO, scripted_daemon


@pytest.mark.parametrize("as_array", [True, False])
def test_a_power_batch_is_fed_to_the_link_meter_whole(tmp_path, monkeypatch, as_array):
    rows = [(100.0 + i * 0.01, 5.0, 0.08 + i * 0.001) for i in range(10)]
    batch = PowerReceived(np.array(rows) if as_array else tuple(rows))
    script: list[list[Any]] = [[HELLO], [batch]]
    daemon, _ = scripted_daemon(tmp_path, monkeypatch, script, write_bundle(tmp_path / "b"), meter="link")
    meter = daemon.parts.link_meter
    assert daemon.run(should_stop=lambda: not script) == 0
    got = meter.samples_between(-math.inf, math.inf)
    assert got.timestamps_s.tolist() == [r[0] for r in rows]
    assert got.power_w.tolist() == pytest.approx([r[1] * r[2] for r in rows])
    assert meter.dropped == 0
