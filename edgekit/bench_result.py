"""``BenchResult``: what ``edgekit bench`` measured on the device, as typed data.

``bench.json`` is this model serialised (``to_dict``); ``load_bench_json`` reads it back, checks
the schema version, and is what ``edgekit build --target-results bench.json`` judges against the
budgets. Renderers (``edgekit.bench.report_md``, ``report_html``) only read it.

Every figure carries how it was obtained: latency and memory are ``measured`` on the device in a
fresh process; energy is the ``EnergyResult`` dict (``kind`` measured/estimated, meter, sample
rate, N, spread); the battery projection inherits the energy's ``kind``; accuracy is copied from
the bundle's build-time validation on the host (``accuracy_source``), never from bench inputs.
``board`` is the board's identity (device-tree model, profile key, SoC), ``bundle_id`` the bundle
benched, and each variant's ``file_sha256`` the digest of the file measured: with the meter's
``kind`` they decide whether a build may count a figure as measured on its target.
``duty_energy``/``duty_battery`` are the field duty-cycle figures (``--duty``) beside the
back-to-back ones.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgekit._json import json_safe
from edgekit.environment import Environment
from edgekit.errors import DataError

__all__ = [
    "BENCH_SCHEMA_VERSION",
    "BenchResult",
    "ColdStart",
    "LatencyStats",
    "VariantBench",
    "load_bench_json",
]

BENCH_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LatencyStats:
    """Preprocessing + inference of one batch, timed in a fresh process after warm-up."""

    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    runs: int
    warmup: int
    batch: int
    threads: int
    samples_ms: tuple[float, ...] = ()
    provenance: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyStats:
        values = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        values["samples_ms"] = tuple(float(v) for v in data.get("samples_ms") or ())
        return cls(**values)


@dataclass(frozen=True)
class ColdStart:
    """From spawning a fresh interpreter to the first result, and its parts."""

    cold_start_ms: float
    load_ms: float
    first_inference_ms: float
    provenance: str = ""


@dataclass(frozen=True)
class VariantBench:
    """The bench figures of one variant; ``energy``/``battery`` are None when not measured
    (``energy_error`` says why)."""

    name: str
    file: str
    runtime: str
    precision: str | None
    cold_start: ColdStart
    latency: LatencyStats
    cpu_ms_per_inference: float
    peak_memory_mb: float
    memory_provenance: str
    energy: dict[str, Any] | None
    battery: dict[str, Any] | None
    energy_error: str | None = None
    accuracy: float | None = None
    accuracy_source: str = "host-validated at build time (bundle manifest)"
    file_sha256: str = ""  # SHA-256 of the variant file benched: what a build matches its file on
    duty_energy: dict[str, Any] | None = None  # energy per capture at the duty cycle (--duty)
    duty_battery: dict[str, Any] | None = None  # the battery projection from ``duty_energy``
    duty_energy_error: str | None = None
    recording: dict[str, str] | None = None  # file names in the --record folder

    @property
    def identity(self) -> dict[str, Any]:
        """The variant's keys for ``is_measured_on_target`` (its file's digest)."""
        return {"variant_sha256": self.file_sha256 or None}

    @property
    def energy_kind(self) -> str | None:
        return None if self.energy is None else str(self.energy.get("kind"))

    @property
    def energy_label(self) -> str:
        """``measured (ina260, 998 Hz)``, ``ESTIMATED (model:rpi4b, 10 Hz)`` or ``not measured``."""
        if self.energy is None:
            return "not measured"
        return str(self.energy.get("label") or self.energy.get("kind"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariantBench:
        values: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__ if k in data}
        values["cold_start"] = ColdStart(**data["cold_start"])
        values["latency"] = LatencyStats.from_dict(data["latency"])
        return cls(**values)


@dataclass(frozen=True)
class BenchResult:
    """One ``edgekit bench`` run over the variants of one bundle on one board."""

    bundle: dict[str, Any]
    started_at: str
    duration_s: float
    quick: bool
    options: dict[str, Any]
    meter: dict[str, Any]
    battery: dict[str, Any] | None
    inputs: dict[str, Any]
    environment_before: Environment
    environment_after: Environment
    variants: tuple[VariantBench, ...]
    warnings: tuple[str, ...] = ()
    throttled_during_run: bool = False
    bundle_id: str = ""  # SHA-256 of the bundle's canonical manifest: which bundle was measured
    board: dict[str, Any] = field(default_factory=dict)  # BoardIdentity: board, model, soc, ...
    record_dir: str | None = None  # where --record wrote each variant's trace and event log
    schema_version: int = BENCH_SCHEMA_VERSION
    tool: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def variant(self, name: str) -> VariantBench:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    @property
    def energy_kinds(self) -> set[str]:
        return {v.energy_kind for v in self.variants if v.energy_kind}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["environment_before"] = self.environment_before.to_dict()
        data["environment_after"] = self.environment_after.to_dict()
        data["variants"] = [asdict(v) for v in self.variants]
        data["warnings"] = list(self.warnings)
        return json_safe(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        values: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__ if k in data}
        values["environment_before"] = Environment.from_dict(data["environment_before"])
        values["environment_after"] = Environment.from_dict(data["environment_after"])
        values["variants"] = tuple(VariantBench.from_dict(v) for v in data["variants"])
        values["warnings"] = tuple(data.get("warnings") or ())
        values["extra"] = dict(data.get("extra") or {})
        return cls(**values)


def load_bench_json(path: str | Path) -> BenchResult:
    """Read ``bench.json``; one-line ``DataError`` naming the file when it is not one we can use."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise DataError(f"{p}: cannot read bench results ({e.strerror or e})") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: malformed JSON: {e}") from e
    if not isinstance(data, dict) or "variants" not in data:
        raise DataError(f"{p}: not an edgekit bench.json (no 'variants')")
    version = data.get("schema_version")
    if version != BENCH_SCHEMA_VERSION:
        raise DataError(f"{p}: bench schema {version!r}; this edgekit reads {BENCH_SCHEMA_VERSION}")
    try:
        return BenchResult.from_dict(data)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{p}: bench.json does not match schema {BENCH_SCHEMA_VERSION}: {e!r}") from e
