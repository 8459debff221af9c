"""What a run that did not publish leaves behind: its logs and a report of what it did and why.

A build or bench stopped by Ctrl-C / SIGTERM, or ended by an error, never touches the previous
output (``edgekit.outdir``), and its staging folder is removed. Its logs would go with it, so
before that they are moved into the store beside the output::

    out/.NAME.edgekit/stopped-STAMP-PID-HEX/
        .edgekit-stopped     marker (JSON): proves edgekit made this folder
        build.log            every progress line the run printed ([load] ..., [load] done ...)
        logs/...             the run's own log files (runtime.log, *.convert.log), paths kept
        report.txt           what was done (stages finished, the one running) and why it stopped
        report.json          the same, for tools

The run prints where. Why the store and not ``out/NAME``: the output folder lists every entry
it holds in its marker, and a folder added to it would make the next run refuse it as foreign;
the store is edgekit's own (marker, lock held). Only the newest :data:`KEEP` such folders are
kept; older ones are removed only when they carry the marker.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["KEEP", "KEPT_MARKER", "is_kept", "keep_stopped", "prune_kept", "why_stopped"]

KEPT_MARKER = ".edgekit-stopped"
"""The file inside ``stopped-*/`` that proves edgekit made it."""
KEEP = 5
"""How many folders of stopped runs are kept per output (newest first)."""
_NAME = re.compile(r"^stopped-[0-9TZ]+-\d+-[0-9a-f]+$")
_STARTED = re.compile(r"^\[(?P<stage>[\w-]+)\] \.\.\.$")
_DONE = re.compile(r"^\[(?P<stage>[\w-]+)\] done in ")


def why_stopped(exc: BaseException) -> tuple[str, str]:
    """(kind, sentence) for what ended a run: ``interrupted`` by a signal, else ``failed``."""
    signum = getattr(exc, "signum", None)  # edgekit.cli.Interrupted (cli is a layer above)
    if isinstance(exc, KeyboardInterrupt):
        signum = signal.SIGINT
    if isinstance(signum, int):
        name = signal.Signals(signum).name
        how = " (Ctrl-C)" if signum == signal.SIGINT else ""
        return "interrupted", f"interrupted by {name}{how}"
    if isinstance(exc, SystemExit):
        return "failed", f"ended with exit code {exc.code}"
    text = " ".join(str(exc).split()) or "(no message)"
    return "failed", f"failed: {type(exc).__name__}: {text}"


def is_kept(entry: Path) -> bool:
    """Whether ``entry`` is a stopped run's folder edgekit made (name and marker)."""
    if _NAME.match(entry.name) is None or entry.is_symlink() or not entry.is_dir():
        return False
    try:
        return json.loads((entry / KEPT_MARKER).read_text()).get("edgekit_stopped") == 1
    except (OSError, ValueError, AttributeError):
        return False


def _stages(progress: list[str]) -> tuple[list[str], str | None]:
    """Stages finished, and the one started but not finished, from the progress lines."""
    done: list[str] = []
    running: str | None = None
    for line in progress:
        if m := _DONE.match(line):
            done.append(m.group("stage"))
            running = None
        elif m := _STARTED.match(line):
            running = m.group("stage")
    return done, running


def keep_stopped(
    store: Path,
    *,
    kind: str,
    shown: str,
    progress: Path,
    staging: Path,
    exc: BaseException,
    previous: bool,
) -> Path:
    """Move the run's logs (``progress`` and ``*.log`` under ``staging``) into a new folder of
    ``store`` with a report; return the folder. Raises ``OSError`` if it cannot be made."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = store / f"stopped-{stamp}-{os.getpid()}-{secrets.token_hex(3)}"
    os.mkdir(dest)  # a new name: nothing is replaced
    (dest / KEPT_MARKER).write_text(
        json.dumps({"edgekit_stopped": 1, "for": kind, "pid": os.getpid()}) + "\n"
    )
    lines: list[str] = []
    log_name = f"{kind}.log"
    if progress.is_file():
        os.rename(progress, dest / log_name)
        lines = (dest / log_name).read_text(errors="replace").splitlines()
    else:
        (dest / log_name).write_text("")
    moved: list[str] = []
    with contextlib.suppress(OSError):
        for log in sorted(staging.rglob("*.log")):
            if log.is_symlink() or not log.is_file():
                continue
            rel = log.relative_to(staging)
            target = dest / "logs" / rel if rel.parts[0] != "logs" else dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                os.rename(log, target)
                moved.append(str(target.relative_to(dest)))
    what, why = why_stopped(exc)
    done, running = _stages(lines)
    report: dict[str, Any] = {
        "command": kind,
        "output": shown,
        "outcome": what,
        "why": why,
        "stopped_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stages_done": done,
        "stage_running": running,
        "previous_output": "unchanged" if previous else "none (this was the first run)",
        "logs": [log_name, *moved],
    }
    (dest / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    text = [
        f"edgekit {kind} into {shown}: {why}",
        f"stopped at: {report['stopped_at']}",
        f"stages done: {', '.join(done) if done else 'none'}",
        f"stage running when it stopped: {running or 'none'}",
        f"previous output: {report['previous_output']}",
        f"logs here: {', '.join(report['logs'])}",
    ]
    (dest / "report.txt").write_text("\n".join(text) + "\n")
    return dest


def prune_kept(store: Path, keep: int = KEEP) -> None:
    """Remove all but the newest ``keep`` stopped-run folders that carry the marker."""
    with contextlib.suppress(OSError):
        found = sorted(p for p in store.iterdir() if is_kept(p))
        for old in found[: max(len(found) - keep, 0)]:
            if is_kept(old):  # proven again just before removal
                shutil.rmtree(old, ignore_errors=True)
