"""The on-device daemon ``edgekit run``: captures in over serial, results out, energy measured.

``link_adapter`` (the only module that talks to ``firmware_bridge``) -> ``engine`` (preprocessing,
inference, OOD decision, fallback and watchdog; no I/O) -> ``journal`` (SQLite WAL, commit before
announce) -> ``metrics`` / ``status`` / ``drift`` / ``energy`` / ``governor``; ``daemon`` is the loop.
"""

from __future__ import annotations

from edgekit.runtime.daemon import Daemon
from edgekit.runtime.engine import Engine, Outcome
from edgekit.runtime.journal import Journal, check_journal, read_journal
from edgekit.runtime.settings import RuntimeSettings, load_settings

__all__ = [
    "Daemon",
    "Engine",
    "Journal",
    "Outcome",
    "RuntimeSettings",
    "check_journal",
    "load_settings",
    "read_journal",
]
