"""The daemon's settings: the ``[runtime]`` table of a TOML file, command-line overrides on top.

Every key is documented in docs/config.md ("[runtime]"). The table is validated by the same
typed-dataclass walk as the build configuration, so a bad key is one line naming the file and
the key and what would be accepted.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The typed walk over dataclasses that validates edgekit.toml; shared rather than duplicated.
from edgekit.config import build_table
from edgekit.errors import ConfigError

__all__ = [
    "DriftSettings",
    "EnergySettings",
    "GovernorSettings",
    "JournalSettings",
    "LinkSettings",
    "RuntimeSettings",
    "load_settings",
    "parse_addr",
    "parse_settings",
]


@dataclass(frozen=True)
class JournalSettings:
    """Where results go and how long they stay (see journal.py)."""

    path: str = "/var/lib/edgekit/journal.sqlite"
    commit_interval_ms: float = 20.0
    commit_max_records: int = 64
    # "burst": what arrived together commits as soon as the input is drained (a lone capture
    # pays its own fsync, no added latency); "interval": records wait until the oldest is
    # commit_interval_ms old, so captures that arrive apart share a commit (bench_daemon.py
    # --commit-interval-ms measures the trade-off)
    group: str = "burst"
    max_bytes: int = 256 * 1024 * 1024
    max_age_days: float = 30.0
    synchronous: str = "FULL"


@dataclass(frozen=True)
class LinkSettings:
    """Serial link: reconnect backoff and handshake retries."""

    backoff_initial_s: float = 0.05
    backoff_max_s: float = 2.0
    hello_retry_s: float = 1.0
    stream_timeout_s: float = 5.0


@dataclass(frozen=True)
class DriftSettings:
    """Rolling drift check against the bundle's reference statistics (see drift.py)."""

    enabled: bool = True
    window: int = 256
    every: int = 32
    threshold_psi: float = 0.25


@dataclass(frozen=True)
class EnergySettings:
    """Rolling energy attribution (see energy.py)."""

    window_s: float = 10.0
    min_samples: int = 20
    # POWER batch period asked of a 1.1 scanner when its link meter is used (PROTOCOL.md §5.9;
    # capped at 256 readings per batch at the meter's rate). Every batch wakes the daemon:
    # fewer, larger batches cost less CPU (bench/bench_daemon.py). Without the link meter the
    # daemon asks for no POWER at all.
    power_period_ms: int = 1000
    # failed reads in a row after which a sampled meter is given up (energy/sampler.py); fewer
    # are retried with a bounded backoff and counted, so a transient I2C EIO costs one sample
    max_failed_reads: int = 10


@dataclass(frozen=True)
class GovernorSettings:
    """Battery thresholds (percent state of charge) and what to do below them."""

    enabled: bool = True
    battery: str = "auto"
    low_pct: float = 20.0
    critical_pct: float = 10.0
    hysteresis_pct: float = 3.0
    low_variant: str = "auto"
    critical_min_interval_s: float = 2.0
    poll_s: float = 30.0


@dataclass(frozen=True)
class RuntimeSettings:
    """Everything ``edgekit run`` needs besides the bundle and the port."""

    variant: str | None = None
    meter: str = "auto"
    metrics_addr: str = "127.0.0.1:9108"
    threads: int = 1
    latency_budget_ms: float | None = None
    baseline_reserve_ms: float = 5.0
    log_results: bool = False
    journal: JournalSettings = field(default_factory=JournalSettings)
    link: LinkSettings = field(default_factory=LinkSettings)
    drift: DriftSettings = field(default_factory=DriftSettings)
    energy: EnergySettings = field(default_factory=EnergySettings)
    governor: GovernorSettings = field(default_factory=GovernorSettings)


def parse_addr(text: str, where: str = "metrics_addr") -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); ``off`` is handled by the caller."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{where}: expected HOST:PORT such as 127.0.0.1:9108 (or off), got {text!r}")
    return host.strip("[]"), int(port)


def _check(s: RuntimeSettings, fail: Any) -> None:
    def positive(key: str, v: float) -> None:
        if not (math.isfinite(v) and v > 0):
            raise fail(key, f"must be a number > 0, got {v}")

    positive("threads", s.threads)
    if s.latency_budget_ms is not None:
        positive("latency_budget_ms", s.latency_budget_ms)
    if not (math.isfinite(s.baseline_reserve_ms) and s.baseline_reserve_ms >= 0):
        raise fail("baseline_reserve_ms", f"must be >= 0, got {s.baseline_reserve_ms}")
    j = s.journal
    positive("journal.commit_interval_ms", j.commit_interval_ms)
    positive("journal.commit_max_records", j.commit_max_records)
    positive("journal.max_bytes", j.max_bytes)
    positive("journal.max_age_days", j.max_age_days)
    if j.group not in ("burst", "interval"):
        raise fail("journal.group", f'expected "burst" or "interval", got {j.group!r}')
    if j.synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
        raise fail("journal.synchronous", f"expected FULL, EXTRA or NORMAL, got {j.synchronous!r}")
    positive("link.backoff_initial_s", s.link.backoff_initial_s)
    positive("link.backoff_max_s", s.link.backoff_max_s)
    positive("link.hello_retry_s", s.link.hello_retry_s)
    positive("link.stream_timeout_s", s.link.stream_timeout_s)
    positive("drift.window", s.drift.window)
    positive("drift.every", s.drift.every)
    positive("drift.threshold_psi", s.drift.threshold_psi)
    if s.drift.window < 32:
        raise fail("drift.window", f"must be >= 32 captures (PSI on fewer is noise), got {s.drift.window}")
    positive("energy.window_s", s.energy.window_s)
    if s.energy.min_samples < 2:
        raise fail("energy.min_samples", f"must be >= 2, got {s.energy.min_samples}")
    if s.energy.max_failed_reads < 1:
        raise fail("energy.max_failed_reads", f"must be >= 1, got {s.energy.max_failed_reads}")
    # a window waits for a reading past its end: a batch period of at most half a window keeps
    # every window's readings in before the next one ends
    most_ms = min(65535, int(s.energy.window_s * 1000 / 2))
    if not 10 <= s.energy.power_period_ms <= most_ms:
        raise fail(
            "energy.power_period_ms",
            f"must be 10..{most_ms} ms (at most half of energy.window_s), got {s.energy.power_period_ms}",
        )
    g = s.governor
    for key in ("low_pct", "critical_pct", "hysteresis_pct"):
        v = getattr(g, key)
        if not (math.isfinite(v) and 0 <= v <= 100):
            raise fail(f"governor.{key}", f"must be a percentage in 0..100, got {v}")
    if g.critical_pct > g.low_pct:
        raise fail(
            "governor.critical_pct", f"must be <= governor.low_pct ({g.low_pct}), got {g.critical_pct}"
        )
    positive("governor.critical_min_interval_s", g.critical_min_interval_s)
    positive("governor.poll_s", g.poll_s)
    if s.metrics_addr != "off":
        try:
            parse_addr(s.metrics_addr)
        except ConfigError as e:
            raise fail("metrics_addr", str(e).partition(": ")[2]) from None


def parse_settings(table: dict[str, Any], *, source: str = "<config>") -> RuntimeSettings:
    """Validate the ``[runtime]`` table (the whole file's other tables are ignored)."""

    def fail(key: str, what: str) -> ConfigError:
        return ConfigError(f"{source}: runtime.{key}: {what}")

    raw = table.get("runtime", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: runtime: expected a table [runtime], got {raw!r}")
    settings: RuntimeSettings = build_table(RuntimeSettings, raw, "", fail)
    _check(settings, fail)
    return settings


def load_settings(path: str | Path | None, **overrides: Any) -> RuntimeSettings:
    """Read ``[runtime]`` from ``path`` (defaults when None), then apply non-None overrides.

    Overrides use dotted names for nested keys: ``{"journal.path": "/tmp/j.sqlite"}``.
    """
    source = "<defaults>"
    table: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        source = str(p)
        if not p.is_file():
            raise ConfigError(f"{p}: no such config file (expected a TOML file with a [runtime] table)")
        try:
            with p.open("rb") as f:
                table = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from e
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p}: cannot read: {e}") from e
    settings = parse_settings(table, source=source)
    for key, value in overrides.items():
        if value is None:
            continue
        head, _, tail = key.partition(".")
        if tail:
            inner = dataclasses.replace(getattr(settings, head), **{tail: value})
            settings = dataclasses.replace(settings, **{head: inner})
        else:
            settings = dataclasses.replace(settings, **{key: value})

    def fail(key: str, what: str) -> ConfigError:
        return ConfigError(f"runtime.{key}: {what}")

    _check(settings, fail)
    return settings
