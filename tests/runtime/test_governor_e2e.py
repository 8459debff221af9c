"""The governor inside the daemon, with a fuel gauge faked at the sysfs boundary: low battery
switches to the cheaper variant, critical lowers the inference rate with explicit "skipped"
answers, and the journal and metrics say so."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from edgekit.bundle import load_bundle
from edgekit.runtime.daemon import Daemon
from edgekit.runtime.jsonlog import StructuredLog
from edgekit.runtime.settings import load_settings
from tests.runtime.bundles import CNN, write_bundle
from tests.runtime.conftest import START_LIMIT_S, Emulator


def fake_battery(root: Path, percent: int) -> Path:
    bat = root / "class" / "power_supply" / "BAT0"
    bat.mkdir(parents=True, exist_ok=True)
    (bat / "type").write_text("Battery\n")
    (bat / "status").write_text("Discharging\n")
    (bat / "capacity").write_text(f"{percent}\n")
    return bat / "capacity"


def test_low_and_critical_battery(tmp_path):
    sysfs = tmp_path / "sys"
    capacity = fake_battery(sysfs, 80)
    bundle = write_bundle(
        tmp_path / "b",
        variants={"onnx-fp32": CNN, "onnx-cheap": CNN},
        variant_meta={
            "onnx-fp32": {"energy": {"energy_per_inference_mj": 0.8}},
            "onnx-cheap": {"energy": {"energy_per_inference_mj": 0.4}},
        },
    )
    cfg = tmp_path / "run.toml"
    cfg.write_text("[runtime.governor]\npoll_s = 0.2\ncritical_min_interval_s = 0.5\n")
    settings = load_settings(
        cfg, **{"journal.path": str(tmp_path / "j.sqlite"), "metrics_addr": "off", "meter": "none"}
    )
    # the daemon ends the run (11 s after its answers began) and the emulator is stopped then: a
    # duration counted from the emulator's launch would end the stream early on a host slow to
    # start the daemon
    emu = Emulator(tmp_path, "--rate", "20", "--duration", "120", "--seed", "41")
    daemon = Daemon(
        load_bundle(bundle),
        str(emu.link),
        settings,
        log=StructuredLog(stream=(tmp_path / "log").open("w")),
        roots={"sysfs_root": sysfs},
    )
    # The battery schedule runs on the daemon's answers, not on a clock started before them: its
    # phases begin once 10 captures were answered (the stream is up however slow the start-up
    # was on a loaded host), with a liveness bound on the wait.
    schedule = [(3.0, 15), (6.0, 5), (9.0, 60)]  # low, critical, back to normal
    launched, started = time.monotonic(), None

    def tick() -> bool:
        nonlocal started
        if started is None:
            if sum(daemon.parts.board.results.values()) < 10:
                return time.monotonic() - launched > START_LIMIT_S
            started = time.monotonic()
        elapsed = time.monotonic() - started
        while schedule and elapsed >= schedule[0][0]:
            capacity.write_text(f"{schedule.pop(0)[1]}\n")
        return elapsed > 11.0

    try:
        assert daemon.run(should_stop=tick) == 0
    finally:
        emu.stop()
    from edgekit.runtime.journal import read_journal

    data = read_journal(settings.journal.path)
    assert started is not None, "no capture was answered"
    states = [e["data"]["state"] for e in data["events"] if e["kind"] == "governor"]
    assert states == ["low", "critical", "normal"]
    by_model = Counter((r["model"], r["status"]) for r in data["results"])
    assert by_model[("onnx-fp32", "ok")] + by_model[("onnx-fp32", "unknown")] > 0
    assert by_model[("onnx-cheap", "ok")] + by_model[("onnx-cheap", "unknown")] > 0
    skipped = [r for r in data["results"] if r["status"] == "skipped"]
    assert skipped and all(r["label"] == "skipped" and r["reason"] == "governor" for r in skipped)
    # in the critical phase (about 3 s at 20 Hz) at most one inference per 0.5 s
    crit = [e["at"] for e in data["events"] if e["kind"] == "governor"][1:]
    inferred = [r for r in data["results"] if crit[0] <= r["at"] < crit[1] and r["status"] != "skipped"]
    assert len(inferred) <= (crit[1] - crit[0]) / 0.5 + 2
