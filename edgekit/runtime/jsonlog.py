"""Structured log lines for journald: one JSON object per line on stdout.

Each line has ``ts`` (ISO 8601, UTC), ``level``, ``event`` (a stable machine name such as
``scanner_refused``), ``msg`` (one human sentence) and the event's fields. systemd stores stdout
in the journal; ``journalctl -u edgekit -o cat | jq`` reads it back.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

__all__ = ["JsonFormatter", "StructuredLog"]


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (fields from ``extra={"event":..., "fields": {...}}``)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "log"),
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}) or {})
        return json.dumps(line, default=str)


class StructuredLog:
    """A named logger writing JSON lines to ``stream`` (stdout by default)."""

    def __init__(
        self, name: str = "edgekit.run", stream: IO[str] | None = None, level: int = logging.INFO
    ) -> None:
        self.logger = logging.getLogger(name)
        self.logger.propagate = False
        self.logger.setLevel(level)
        for h in list(self.logger.handlers):
            self.logger.removeHandler(h)
        handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
        handler.setFormatter(JsonFormatter())
        self.logger.addHandler(handler)

    def emit(self, level: str, event: str, msg: str, **fields: Any) -> None:
        """Write one line: ``level`` is debug, info, warning or error."""
        self.logger.log(getattr(logging, level.upper()), msg, extra={"event": event, "fields": fields})
