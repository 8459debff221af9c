"""The daemon's loop on a scripted link (the scanner faked at the daemon's own boundary, the
link adapter): one journal commit per batch of input that carries a record, none for POWER
readings, every RESULT sent only after its record is committed, and no timer wake-up sooner
than the loop's longest wait when nothing is due."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

import edgekit.runtime.parts as parts_module
from edgekit.bundle import load_bundle
from edgekit.runtime.daemon import Daemon
from edgekit.runtime.journal import read_journal
from edgekit.runtime.jsonlog import StructuredLog
from edgekit.runtime.link_events import CaptureReceived, PowerReceived, ScannerHello
from edgekit.runtime.settings import load_settings
from tests.runtime.bundles import write_bundle

HELLO = ScannerHello("1.1", "2.3.4", 0xABC, 1_000_000, 1, 1024, 433_920_000, ("power_monitor",), False)


class ScriptedLink:
    """Stands in for ``ScannerLink``: each ``poll`` hands over the next scripted batch."""

    def __init__(self, journal: Path, script: list[list[Any]]) -> None:
        self.journal = journal
        self.script = script
        self.waits: list[float] = []
        self.sent: list[tuple[int, bool]] = []  # (capture id, its record committed when sent)

    def poll(self, timeout_s: float) -> list[Any]:
        self.waits.append(timeout_s)
        if not self.script:
            return []
        now = time.monotonic()
        return [_event(item, now) for item in self.script.pop(0)]

    def send_result(self, capture_id: int, *_: Any, **__: Any) -> bool:
        # read by another connection: only what is committed is visible
        committed = {r["capture_id"] for r in read_journal(self.journal, tables=("results",))["results"]}
        self.sent.append((capture_id, capture_id in committed))
        return True

    def accept(self) -> None:
        pass

    def refuse(self) -> None:
        pass

    def close(self) -> None:
        pass


def capture(capture_id: int, *, sample_format: int = 1, length: int = 1024) -> tuple[str, int, int, int]:
    """A scripted capture in another sample format or length (a bare int is the default one)."""
    return ("capture", capture_id, sample_format, length)


def _event(item: Any, now: float) -> Any:
    if item == "power":
        return PowerReceived(tuple((now - 0.1 + i * 0.01, 5.0, 0.08) for i in range(10)))
    if isinstance(item, int):
        item = capture(item)
    if isinstance(item, tuple) and item[:1] == ("capture",):
        _, cid, fmt, length = item
        iq = np.random.default_rng(cid).integers(-2000, 2000, (length, 2)).astype(np.int16)
        return CaptureReceived(cid, cid * 500_000, now, now, 1_000_000, fmt, 0.0, iq)
    return item


def scripted_daemon(
    tmp_path: Path,
    monkeypatch: Any,
    script: list[list[Any]],
    bundle: Path,
    *,
    meter: str = "none",
    name: str = "j",
    **settings: Any,
) -> tuple[Daemon, list[ScriptedLink]]:
    """A Daemon on ``bundle`` whose link is a ``ScriptedLink`` over ``script`` (the links it
    made, one per connection), journal ``tmp_path/NAME.sqlite``, no metrics server, no battery
    gauge, and a long commit interval: within a batch only its end commits, however slow this
    host is. ``settings``: more dotted ``[runtime]`` keys."""
    journal = tmp_path / f"{name}.sqlite"
    links: list[ScriptedLink] = []

    def make_link(*_: Any, **__: Any) -> ScriptedLink:
        links.append(ScriptedLink(journal, script))
        return links[-1]

    monkeypatch.setattr(parts_module, "ScannerLink", make_link)
    keys = {"journal.path": str(journal), "journal.commit_interval_ms": 5000.0, **settings}
    daemon = Daemon(
        load_bundle(bundle),
        "scripted",
        load_settings(None, meter=meter, metrics_addr="off", **keys),
        log=StructuredLog(stream=(tmp_path / f"{name}.log").open("w")),
        roots={"sysfs_root": tmp_path / "no-sysfs"},  # no battery gauge: no governor polls
    )
    return daemon, links


def test_one_commit_per_batch_of_input_none_for_power_and_results_sent_after_commit(tmp_path, monkeypatch):
    script: list[list[Any]] = [
        [HELLO],  # a journal event (scanner_hello): one commit
        [1],  # a capture alone: one commit
        ["power"],  # readings: nothing to journal, no commit
        [2],
        [3, 4, 5],  # arrived together: one commit for the three
        ["power"],
    ]
    daemon, links = scripted_daemon(tmp_path, monkeypatch, script, write_bundle(tmp_path / "b"))
    stats = daemon.parts.journal.stats
    assert daemon.run(should_stop=lambda: not script) == 0
    link = links[0]
    # start (before the loop), hello, capture 1, capture 2, captures 3-5, stop (shutdown)
    assert stats.records_per_commit == [1, 1, 1, 1, 3, 1]
    assert stats.results == 5 and stats.commits == 6
    assert link.sent == [(1, True), (2, True), (3, True), (4, True), (5, True)]
    # nothing due (no meter, no gauge, nothing pending): every wait is the longest one (2 s,
    # for SIGTERM), no timer
    assert link.waits == [2.0] * len(link.waits)
