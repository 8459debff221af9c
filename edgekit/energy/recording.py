"""A recorded run: the power trace and the event log, as a pair of files that can be re-analysed.

``<name>.power.csv`` and ``<name>.events.jsonl`` in one folder (``name`` is usually the
variant). Writing replaces a file only when it is one of ours (it starts with our format line),
and goes through a temporary file and a rename, so a crash never leaves half a recording.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgekit.energy.events import EVENTS_FORMAT, EventLog, read_events, write_events
from edgekit.energy.tracefile import TRACE_FORMAT, PowerTrace, read_trace, write_trace
from edgekit.errors import DataError, UsageError

__all__ = [
    "EVENTS_SUFFIX",
    "POWER_SUFFIX",
    "Recording",
    "find_recording",
    "read_recording",
    "write_recording",
]

POWER_SUFFIX = ".power.csv"
EVENTS_SUFFIX = ".events.jsonl"


@dataclass(frozen=True)
class Recording:
    """A trace and the events it is attributed against."""

    trace: PowerTrace
    events: EventLog


def _is_ours(path: Path, marker: str) -> bool:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            head = f.read(256)
    except OSError:
        return False
    return marker in head.splitlines()[0] if head else False


def _replace_into(path: Path, marker: str, write: object) -> None:
    if path.exists() and not (path.is_file() and _is_ours(path, marker)):
        raise UsageError(f"{path}: exists and is not an edgekit recording; refusing to overwrite it")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)  # type: ignore[operator]
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a recording is meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_recording(folder: str | Path, name: str, recording: Recording) -> tuple[Path, Path]:
    """Write ``name``'s trace and events into ``folder`` (created if missing); both paths."""
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"recording name {name!r} must be a plain file name")
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: not a folder")
    root.mkdir(parents=True, exist_ok=True)
    power, events = root / f"{name}{POWER_SUFFIX}", root / f"{name}{EVENTS_SUFFIX}"
    _replace_into(power, f"# format={TRACE_FORMAT}", lambda p: write_trace(recording.trace, p))
    _replace_into(events, f'"format": "{EVENTS_FORMAT}"', lambda p: write_events(recording.events, p))
    return power, events


def read_recording(power: str | Path, events: str | Path) -> Recording:
    """Read a trace and its event log."""
    return Recording(read_trace(power), read_events(events))


def find_recording(folder: str | Path, name: str | None) -> tuple[Path, Path | None]:
    """The trace (and events, if present) of ``name`` in ``folder``; ``name`` may be omitted
    when the folder holds exactly one recording."""
    root = Path(folder)
    traces = sorted(root.glob(f"*{POWER_SUFFIX}"))
    names = [p.name[: -len(POWER_SUFFIX)] for p in traces]
    if name is None:
        if len(names) != 1:
            raise DataError(
                f"{root}: holds {len(names)} recordings ({', '.join(names) or 'none'}); "
                "name one (variant=...)"
            )
        name = names[0]
    power = root / f"{name}{POWER_SUFFIX}"
    if not power.is_file():
        raise DataError(f"{root}: no recording {name!r}; it holds: {', '.join(names) or 'none'}")
    events = root / f"{name}{EVENTS_SUFFIX}"
    return power, (events if events.is_file() else None)
