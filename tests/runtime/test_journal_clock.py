"""Retention by age when the wall clock steps (NTP after a boot without a real-time clock):
records this session wrote before the step look decades old by their timestamps, but are at
most the session's monotonic uptime old, so none of them is deleted for its age."""

from __future__ import annotations

import sqlite3

from edgekit.runtime.journal import Journal
from edgekit.runtime.settings import JournalSettings
from tests.runtime.test_journal import Clock, row

DAY = 86400.0


def _ids(path) -> list[int]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT capture_id FROM results ORDER BY id")]
    finally:
        db.close()


def test_an_ntp_step_forward_does_not_age_out_this_sessions_records(tmp_path):
    path = tmp_path / "j.sqlite"
    # a past session that really is old (written 40 days before the corrected time)
    past = Journal(path, session="past")
    past.add_result(row(1, at=56 * 365 * DAY - 40 * DAY))
    past.commit()
    past.close()
    wall = [3600.0]  # booted believing it is 1970
    mono = Clock()
    j = Journal(path, JournalSettings(max_age_days=30), clock=mono, wall=lambda: wall[0])
    j.add_result(row(2, at=wall[0]))
    j.commit()
    mono.t += 120.0
    wall[0] = 56 * 365 * DAY  # NTP steps the clock forward by 56 years, two minutes later
    j.add_result(row(3, at=wall[0]))
    j.commit()
    # the past session's record goes (40 days old); this session's, "56 years old", stays
    assert j.enforce_retention() == 1
    assert _ids(path) == [2, 3]
    # once the session has really run longer than the limit, the wall clock rules again
    mono.t += 31 * DAY
    wall[0] += 31 * DAY
    assert j.enforce_retention() == 2  # row 2 (56 years) and row 3 (31 days)
    assert _ids(path) == []
    j.close()
