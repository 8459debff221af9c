"""``[runtime.journal] group``: "burst" (the default) commits what arrived together as soon as
the input is drained; "interval" holds records that arrive apart until the oldest is
``commit_interval_ms`` old, so captures at a few Hz share one fsync. Either way a RESULT is sent
only after its record is committed."""

from __future__ import annotations

from typing import Any

import pytest

from edgekit.errors import ConfigError
from edgekit.runtime.journal import Journal
from edgekit.runtime.settings import JournalSettings, load_settings
from tests.runtime.bundles import write_bundle
from tests.runtime.test_daemon_loop import HELLO, scripted_daemon
from tests.runtime.test_journal import Clock, committed_ids, row


def test_burst_group_commits_as_soon_as_the_input_is_drained(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path, JournalSettings(commit_interval_ms=1000), clock=Clock())
    j.add_result(row(1), "a")
    assert j.drained() == ["a"]  # no wait for company: the default keeps latency
    assert committed_ids(path) == [1]
    j.close()


def test_interval_group_holds_records_that_arrive_apart_until_the_oldest_is_due(tmp_path):
    path = tmp_path / "j.sqlite"
    clock = Clock()
    j = Journal(path, JournalSettings(commit_interval_ms=1000, group="interval"), clock=clock)
    j.add_result(row(1), "a")
    assert j.drained() == [] and committed_ids(path) == []  # held, and invisible to others
    clock.t = 0.5  # the next capture, half a second later
    j.add_result(row(2), "b")
    assert j.drained() == [] and committed_ids(path) == []
    assert j.seconds_until_due() == pytest.approx(0.5)  # the oldest decides, not the newest
    clock.t = 1.0
    assert j.drained() == ["a", "b"]
    assert committed_ids(path) == [1, 2]
    assert j.stats.commits == 1 and j.stats.records_per_commit == [2]
    j.close()


def test_interval_group_still_commits_a_full_transaction_at_once(tmp_path):
    clock = Clock()
    j = Journal(
        tmp_path / "j.sqlite",
        JournalSettings(commit_interval_ms=1000, commit_max_records=2, group="interval"),
        clock=clock,
    )
    j.add_result(row(1), 1)
    assert j.drained() == []
    j.add_result(row(2), 2)
    assert j.drained() == [1, 2]
    j.close()


def test_daemon_with_interval_group_shares_one_commit_across_captures_and_announces_after_it(
    tmp_path, monkeypatch
):
    script: list[list[Any]] = [[HELLO], [1], [2], [3]]
    daemon, links = scripted_daemon(
        tmp_path,
        monkeypatch,
        script,
        write_bundle(tmp_path / "b"),
        **{"journal.group": "interval", "journal.commit_interval_ms": 1500.0},
    )
    stats = daemon.parts.journal.stats
    assert daemon.run(should_stop=lambda: not script) == 0
    link = links[0]
    # start (before the loop); hello and the three captures, each its own batch of input, in
    # one commit (made at shutdown here: the scripted link hands them over at once); stop
    assert stats.records_per_commit == [1, 4, 1]
    assert link.sent == [(1, True), (2, True), (3, True)]
    # with records held, the loop wakes for their commit: no wait past the interval
    assert 0 < min(link.waits[1:]) <= 1.5


def test_group_must_be_burst_or_interval(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[runtime.journal]\ngroup = "minute"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    text = str(info.value)
    assert "runtime.journal.group" in text and '"interval"' in text and "'minute'" in text
    assert str(cfg) in text and "\n" not in text
    assert load_settings(None).journal.group == "burst"
