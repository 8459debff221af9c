"""The build configuration ``edgekit.toml``: read with tomllib into typed, validated dataclasses.

Every key is documented in ``docs/config.md``. Validation is strict: an unknown key, a wrong
type or an out-of-range value is one :class:`~edgekit.errors.ConfigError` line naming the file,
the key path and what would be accepted. The validator is a small walk over the dataclass type
hints rather than a schema library, which keeps the on-device install light.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from edgekit.errors import ConfigError
from edgekit.filters import FilterError, parse_filter

__all__ = [
    "BASELINE_RULES",
    "BaselineConfig",
    "BatteryConfig",
    "BudgetsConfig",
    "BuildConfig",
    "CaptureConfig",
    "ContextConfig",
    "DataConfig",
    "DiscoveryConfig",
    "ModelConfig",
    "OodConfig",
    "PrivacyConfig",
    "ProfileConfig",
    "QuantConfig",
    "ScenarioConfig",
    "SlicesConfig",
    "TargetConfig",
    "build_table",
    "load_config",
    "parse_config",
]

VARIANT_NAMES = (
    "onnx-fp32",
    "onnx-fp16",
    "onnx-int8-dynamic",
    "onnx-int8-static",
    "tflite-fp32",
    "tflite-fp16",
    "tflite-int8",
    "trees-compiled",
    "trees-truncated",
    "trees-compiled-truncated",
)


@dataclass(frozen=True)
class ModelConfig:
    """The fp32 ONNX model and what its outputs mean."""

    path: str
    name: str = ""
    labels: list[str] = field(default_factory=list)
    output: Literal["logits", "probabilities"] = "logits"
    input_name: str = ""
    output_name: str = ""
    description: str = ""
    # Per-sample input shape (after the batch) that fixes dynamic dims; default: the data's shape.
    input_shape: list[int] = field(default_factory=list)
    # Values for the model's other inputs (a number, or "zeros"), folded in as constants.
    inputs: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataConfig:
    """Where calibration and evaluation data come from: an .npz path or a synthetic recipe."""

    calibration: str = ""
    evaluation: str = ""
    calibration_size: int = 256
    ood_classes: list[str] = field(default_factory=list)
    drop_nonfinite: bool = False  # drop NaN/inf captures (counted in the warnings) instead of refusing


@dataclass(frozen=True)
class SlicesConfig:
    """Which metadata columns define slices, and how numeric ones are binned."""

    columns: list[str] = field(default_factory=list)
    bins: dict[str, list[float]] = field(default_factory=dict)
    min_size: int = 30
    worst: int = 5


@dataclass(frozen=True)
class DiscoveryConfig:
    """Slice discovery: a search of the metadata for subgroups significantly worse than the rest."""

    enabled: bool = True
    columns: list[str] = field(default_factory=list)  # empty: every metadata column
    pairs: bool = True  # also pairs of conditions on two columns
    min_size: int = 30  # candidates smaller than this are not tested
    alpha: float = 0.05  # false discovery rate (Benjamini-Hochberg) over every candidate tested
    min_gap: float = 0.05  # a significant gap smaller than this is not reported
    max_values: int = 12  # a non-numeric column with more distinct values is skipped
    top: int = 10  # how many discoveries each report lists


@dataclass(frozen=True)
class ContextConfig:
    """Results with context: validated precision per predicted label and on-device condition."""

    enabled: bool = True
    observable: list[str] = field(default_factory=lambda: ["snr_db"])  # edgekit.signals.observe
    bins: dict[str, list[float]] = field(default_factory=dict)  # default: slices.bins, else below
    confidence: float = 0.95  # of the Wilson score intervals


@dataclass(frozen=True)
class ScenarioConfig:
    """A stakeholder scenario: a filter on metadata and the accuracy it must reach."""

    name: str
    filter: str
    min_accuracy: float
    min_size: int = 1  # fewer matching captures than this: not evaluated


@dataclass(frozen=True)
class QuantConfig:
    """Static int8 quantisation and the accuracy-aware loop."""

    calibrate_method: Literal["minmax", "entropy", "percentile"] = "minmax"
    per_channel: bool = False
    exclude_nodes: list[str] = field(default_factory=list)
    accuracy_aware: bool = True
    max_float_nodes: int = 8


@dataclass(frozen=True)
class OodConfig:
    """The out-of-distribution score and its threshold calibration."""

    # "auto": the build measures every score and picks one by its documented rule
    score: Literal["auto", "max_softmax", "energy", "mahalanobis", "knn", "spectral"] = "max_softmax"
    target_in_distribution_accept: float = 0.95
    features: str = ""  # penultimate tensor for the feature scores; "": input of the last Gemm/MatMul
    choose_on: str = ""  # the OOD class the choice is made on; "": the first of data.ood_classes
    knn_k: int = 5  # the k of the k-nearest-neighbour distance
    temperature_scaling: bool = True  # fit a temperature on the calibration data
    # captures whose blind SNR estimate (signals.snr) is below this (dB) get a threshold of their
    # own (signals.bands); None: one threshold for all
    low_snr_db: float | None = None
    low_snr_min_accept: float = 0.85  # the low band's in-distribution acceptance never below this
    # the spectral score's cyclic-prefix column (signals.cyclic): knowledge of OFDM, one of the
    # held-out families, so off unless a deployment expects OFDM-like interferers
    cyclic_prefix: bool = False


@dataclass(frozen=True)
class CaptureConfig:
    """What the scanner sends, written to the bundle's ``capture`` section so the daemon refuses a
    scanner whose settings differ. Defaults: edgekit's synthetic data (``edgekit.data.synth``:
    1 MHz, 1024 samples, float 16.0 = int16 full scale); this layer cannot import it."""

    sample_rate_hz: float = 1_000_000.0
    sample_format: Literal["ci16"] = "ci16"
    samples_per_capture: int = 1024
    iq_full_scale: float = 16.0


@dataclass(frozen=True)
class ProfileConfig:
    """Host latency and memory profiling."""

    threads: int = 1
    runs: int = 200
    warmup: int = 10
    batch: int = 1
    rounds: int = 10  # the runs are timed in this many interleaved rounds (edgekit.builder.interleave)
    max_reruns: int = 1  # timing repeated at most this often when it shows host interference


@dataclass(frozen=True)
class BudgetsConfig:
    """Limits a build must meet. A limit left unset is not checked."""

    max_accuracy_drop: float | None = None
    max_slice_accuracy_drop: float | None = None
    min_accuracy: float | None = None
    max_latency_p99_ms: float | None = None
    max_model_size_kb: float | None = None
    max_peak_memory_mb: float | None = None
    max_energy_per_inference_mj: float | None = None
    max_battery_life_loss_pct: float | None = None
    min_battery_life_h: float | None = None
    require_measured_energy: bool = False
    max_membership_advantage: float | None = None
    max_membership_auc: float | None = None


@dataclass(frozen=True)
class PrivacyConfig:
    """The membership-inference audit: data the model was trained on and data it never saw."""

    members: str = ""  # an .npz or a synthetic recipe: the training data
    non_members: str = ""  # same distribution, never seen in training
    max_rows: int = 2000  # per group, subsampled (seeded) to keep the audit under a minute
    bootstrap: int = 200  # bootstrap resamples for the intervals
    reference_model: str = ""  # an ONNX trained without the members, for the calibrated attack
    # ONNX models trained like the model on other data (never the members): the calibrated attacks
    reference_models: list[str] = field(default_factory=list)
    keep_metadata: bool = False  # keep doc strings / metadata properties in the shipped files

    @property
    def references(self) -> list[str]:
        """Every reference model, ``reference_model`` first (the two keys add up)."""
        return ([self.reference_model] if self.reference_model else []) + list(self.reference_models)

    @property
    def reference_keys(self) -> list[str]:
        """The config key of each of ``references``, in the same order (for messages)."""
        first = ["privacy.reference_model"] if self.reference_model else []
        return first + [f"privacy.reference_models[{i}]" for i in range(len(self.reference_models))]


@dataclass(frozen=True)
class BatteryConfig:
    """The scanner's battery and duty cycle, for battery-drain budgets."""

    capacity_mah: float | None = None
    nominal_v: float | None = None
    capacity_wh: float | None = None
    usable_fraction: float = 0.9
    scanner_baseline_w: float = 0.0
    duty_hz: float = 1.0
    converter_efficiency: float = 1.0  # DC-DC converter between battery and board, in (0, 1]


@dataclass(frozen=True)
class TargetConfig:
    """The board the model ships to, and on-target measurements to judge instead of estimates."""

    board: Literal["rpi4b", "rpi5", "zero2w", "cm4", "generic"] = "rpi4b"
    results: str = ""  # a bench.json written by `edgekit bench` on the target


BASELINE_RULES = ("energy-detector",)
"""Rules a ``[baseline]`` may name (documented in ``edgekit.runtime.baseline.RULES``)."""


@dataclass(frozen=True)
class BaselineConfig:
    """The fallback the daemon answers from when the model fails, overruns or cannot load:
    a cheaper model (``model``, or another model's build config ``config``) or a documented
    ``rule``. The build validates it on the same evaluation data and ships it in the bundle."""

    model: str = ""  # an fp32 ONNX model, relative to this file
    config: str = ""  # another model's edgekit.toml: its model, [[preprocess]], labels, outputs
    rule: str = ""  # a documented rule (BASELINE_RULES)
    params: dict[str, float] = field(default_factory=dict)  # the rule's parameters
    preprocess: list[dict[str, Any]] = field(default_factory=list)  # with model: its own steps
    labels: list[str] = field(default_factory=list)  # with model: its classes in output order
    output: Literal["logits", "probabilities"] = "logits"  # with model
    input_name: str = ""  # with model
    output_name: str = ""  # with model
    source: str = ""  # free text for the report; default: the file or the rule


@dataclass(frozen=True)
class BuildConfig:
    """A whole ``edgekit.toml``. ``base_dir`` is the folder relative paths are resolved against."""

    model: ModelConfig
    preprocess: list[dict[str, Any]] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    slices: SlicesConfig = field(default_factory=SlicesConfig)
    variants: list[str] = field(default_factory=lambda: list(VARIANT_NAMES))
    quant: QuantConfig = field(default_factory=QuantConfig)
    ood: OodConfig = field(default_factory=OodConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    budgets: BudgetsConfig = field(default_factory=BudgetsConfig)
    battery: BatteryConfig = field(default_factory=BatteryConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    context: ContextConfig = field(default_factory=ContextConfig)
    scenarios: list[ScenarioConfig] = field(default_factory=list)
    baseline: BaselineConfig | None = None
    schema: int = 1
    source: str = ""
    base_dir: str = "."

    @property
    def model_path(self) -> Path:
        """The model file, resolved against the config's folder."""
        return Path(self.base_dir) / self.model.path


# Keys set by the loader, not by the user.
_INTERNAL = {"source", "base_dir"}


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    if origin in (list, dict):
        item = get_args(tp)[-1]
        plural = {str: "strings", float: "numbers", int: "integers", Any: "values"}.get(item)
        of = plural or _type_name(item)
        return f"a list of {of}" if origin is list else f"a table of {of}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _convert(
    value: Any, tp: Any, where: str, fail: typing.Callable[[str, str], ConfigError]
) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        for a in args:
            try:
                return _convert(value, a, where, fail)
            except ConfigError:
                continue
        raise fail(where, f"expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise fail(where, f"expected {_type_name(tp)}, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise fail(where, f"expected {_type_name(tp)}, got {value!r}")
        (item,) = get_args(tp)
        return [_convert(v, item, f"{where}[{i}]", fail) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise fail(where, f"expected {_type_name(tp)}, got {value!r}")
        _, item = get_args(tp)
        return {k: _convert(v, item, f"{where}.{k}", fail) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise fail(where, f"expected a table, got {value!r}")
        return _build(tp, value, where, fail)
    if tp is Any:
        return value
    is_bool = isinstance(value, bool)
    if (tp is bool and is_bool) or (tp is int and isinstance(value, int) and not is_bool):
        return value
    if tp is float and isinstance(value, int | float) and not is_bool:
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    raise fail(where, f"expected {_type_name(tp)}, got {value!r}")


def build_table(cls: Any, table: dict[str, Any], where: str, fail: Any) -> Any:
    """Validate ``table`` into dataclass ``cls`` (strict keys and types); used for edgekit.toml
    and the daemon's ``[runtime]`` file alike."""
    return _build(cls, table, where, fail)


def _build(cls: Any, table: dict[str, Any], where: str, fail: Any) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _INTERNAL}
    kwargs: dict[str, Any] = {}
    prefix = f"{where}." if where else ""
    for key, value in table.items():
        if key not in fields:
            accepted = ", ".join(sorted(fields))
            raise fail(f"{prefix}{key}", f"unknown key; accepted here: {accepted}")
        kwargs[key] = _convert(value, hints[key], f"{prefix}{key}", fail)
    for name, f in fields.items():
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in kwargs and no_default:
            raise fail(f"{prefix}{name}", f"missing required key ({_type_name(hints[name])})")
    return cls(**kwargs)


# Upper bounds that keep a typo from turning into an endless or memory-exhausting build.
_MAX_RUNS = 1_000_000
_MAX_THREADS = 256
_MAX_BATCH = 4096
_MAX_NAME = 128


def _check_text(value: Any, where: str, fail: Any) -> None:
    """Every string in the file: no control characters (they break one-line messages and paths),
    every number finite. Recurses into the free-form ``preprocess`` tables."""
    if isinstance(value, str):
        bad = next((c for c in value if ord(c) < 0x20 or ord(c) == 0x7F), None)
        if bad is not None:
            raise fail(where, f"control character {bad!r} in {value!r}; use printable text")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise fail(where, f"must be a finite number, got {value}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_text(v, f"{where}[{i}]", fail)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, f"{where} (key)", fail)
            _check_text(v, f"{where}.{k}", fail)


def _check_names(cfg: BuildConfig, fail: Any) -> None:
    """Names that must be distinct, non-empty, or safe to use as a path component."""
    name = cfg.model.name
    if name in (".", "..") or "/" in name or "\\" in name or len(name) > _MAX_NAME:
        raise fail(
            "model.name",
            f"{name!r} cannot name an output folder; use a short name without '/', '\\', "
            f"'.' or '..' (at most {_MAX_NAME} characters)",
        )
    if not cfg.model.path.strip():
        raise fail("model.path", "must name the fp32 ONNX model file, got an empty string")
    for i, d in enumerate(cfg.model.input_shape):
        if not 1 <= d <= 1 << 20:
            raise fail(f"model.input_shape[{i}]", f"must be a dimension in [1, {1 << 20}], got {d}")
    for key, value in cfg.model.inputs.items():
        if isinstance(value, str) and value != "zeros":
            raise fail(f"model.inputs.{key}", f'expected a number or "zeros", got {value!r}')
    lists = {
        "model.labels": cfg.model.labels,
        "data.ood_classes": cfg.data.ood_classes,
        "slices.columns": cfg.slices.columns,
        "variants": cfg.variants,
    }
    for key, items in lists.items():
        for i, item in enumerate(items):
            if not item.strip():
                raise fail(f"{key}[{i}]", "must be a non-empty name")
        seen: set[str] = set()
        for item in items:
            if item in seen:
                raise fail(key, f"{item!r} appears more than once; each name once")
            seen.add(item)
    if not cfg.variants:
        raise fail("variants", f"must name at least one variant; accepted: {', '.join(VARIANT_NAMES)}")
    for name in cfg.variants:
        if name not in VARIANT_NAMES:
            raise fail(
                "variants", f"unknown variant {name!r}; accepted: {', '.join(VARIANT_NAMES)}"
            )
    both = sorted(set(cfg.data.ood_classes) & set(cfg.model.labels))
    if both:
        raise fail(
            "data.ood_classes",
            f"{', '.join(map(repr, both))} also in model.labels; an out-of-distribution class is "
            "one the model was not trained on",
        )


def _check_ranges(cfg: BuildConfig, fail: Any) -> None:
    """Numeric ranges that types alone cannot express."""
    ranges: dict[str, tuple[float | None, float, float]] = {
        # key: (value, lowest, highest), both inclusive
        "data.calibration_size": (cfg.data.calibration_size, 1, math.inf),
        "profile.runs": (cfg.profile.runs, 1, _MAX_RUNS),
        "profile.warmup": (cfg.profile.warmup, 0, _MAX_RUNS),
        "profile.threads": (cfg.profile.threads, 1, _MAX_THREADS),
        "profile.batch": (cfg.profile.batch, 1, _MAX_BATCH),
        "profile.rounds": (cfg.profile.rounds, 1, _MAX_RUNS),
        "profile.max_reruns": (cfg.profile.max_reruns, 0, 5),
        "slices.min_size": (cfg.slices.min_size, 1, math.inf),
        "slices.worst": (cfg.slices.worst, 0, math.inf),
        "quant.max_float_nodes": (cfg.quant.max_float_nodes, 0, math.inf),
        "battery.scanner_baseline_w": (cfg.battery.scanner_baseline_w, 0.0, math.inf),
        # the wire's range rules (firmware_bridge/PROTOCOL.md): a HELLO announcing more than 1024
        # samples per capture is Incompatible, so a bundle needing more could never run
        "capture.samples_per_capture": (cfg.capture.samples_per_capture, 1, 1024),
        "privacy.max_rows": (cfg.privacy.max_rows, 10, math.inf),
        "privacy.bootstrap": (cfg.privacy.bootstrap, 0, 100_000),
    }
    # Budgets: fractions of accuracy in [0, 1], a percentage in [0, 100], the rest >= 0.
    budget_highs = {
        "max_accuracy_drop": 1.0,
        "max_slice_accuracy_drop": 1.0,
        "min_accuracy": 1.0,
        "max_battery_life_loss_pct": 100.0,
        "max_membership_advantage": 1.0,
        "max_membership_auc": 1.0,
    }
    for f in dataclasses.fields(BudgetsConfig):
        v = getattr(cfg.budgets, f.name)
        if isinstance(v, float):
            ranges[f"budgets.{f.name}"] = (v, 0.0, budget_highs.get(f.name, math.inf))
    for key, (v, lo, hi) in ranges.items():
        if v is None:
            continue
        if not lo <= v <= hi:
            span = f">= {lo:g}" if hi == math.inf else f"in [{lo:g}, {hi:g}]"
            unit = " (a fraction: 0.02 is 2 points)" if "accuracy" in key and v > 1 else ""
            raise fail(key, f"must be {span}, got {v:g}{unit}")
    positives = {
        "capture.sample_rate_hz": cfg.capture.sample_rate_hz,
        "capture.iq_full_scale": cfg.capture.iq_full_scale,
        "battery.duty_hz": cfg.battery.duty_hz,
        "battery.capacity_mah": cfg.battery.capacity_mah,
        "battery.nominal_v": cfg.battery.nominal_v,
        "battery.capacity_wh": cfg.battery.capacity_wh,
    }
    for key, pv in positives.items():
        if pv is not None and pv <= 0:
            raise fail(key, f"must be > 0, got {pv:g}")
    b = cfg.battery
    if b.capacity_wh is not None and (b.capacity_mah is not None or b.nominal_v is not None):
        raise fail("battery.capacity_wh", "give capacity_wh, or capacity_mah and nominal_v, not both")
    if (b.capacity_mah is None) != (b.nominal_v is None):
        missing = "battery.nominal_v" if b.nominal_v is None else "battery.capacity_mah"
        raise fail(missing, "missing: capacity_mah and nominal_v go together")
    if not 0 < b.usable_fraction <= 1:
        raise fail("battery.usable_fraction", f"must be in (0, 1], got {b.usable_fraction:g}")
    if not 0 < b.converter_efficiency <= 1:
        raise fail(
            "battery.converter_efficiency",
            f"must be in (0, 1] (0.9 is a converter losing 10 %), got {b.converter_efficiency:g}",
        )
    if not 0 < cfg.ood.target_in_distribution_accept < 1:
        raise fail(
            "ood.target_in_distribution_accept",
            f"must be in (0, 1), got {cfg.ood.target_in_distribution_accept:g}",
        )
    if not 1 <= cfg.ood.knn_k <= 1000:
        raise fail("ood.knn_k", f"must be in 1..1000, got {cfg.ood.knn_k}")
    if cfg.ood.low_snr_db is not None and not -30.0 <= cfg.ood.low_snr_db <= 60.0:
        raise fail("ood.low_snr_db", f"must be in -30..60 dB (the SNR estimator's range), got "
                   f"{cfg.ood.low_snr_db:g}")
    if not 0 < cfg.ood.low_snr_min_accept <= 1:
        raise fail("ood.low_snr_min_accept", f"must be in (0, 1], got {cfg.ood.low_snr_min_accept:g}")
    if cfg.ood.choose_on and cfg.ood.choose_on not in cfg.data.ood_classes:
        raise fail(
            "ood.choose_on",
            f"{cfg.ood.choose_on!r} is not in data.ood_classes {cfg.data.ood_classes}",
        )
    for col, edges in cfg.slices.bins.items():
        if len(edges) < 2 or any(b2 <= a for a, b2 in pairwise(edges)):
            raise fail(f"slices.bins.{col}", "must be at least two strictly increasing edges")
        if col not in cfg.slices.columns:
            raise fail(
                f"slices.bins.{col}",
                f"{col!r} is not in slices.columns {cfg.slices.columns}; bins apply to those",
            )


def _check_privacy(cfg: BuildConfig, fail: Any) -> None:
    """Members and non-members go together; a membership budget needs both."""
    p = cfg.privacy
    if bool(p.members) != bool(p.non_members):
        missing = "privacy.non_members" if p.members else "privacy.members"
        raise fail(missing, "missing: members and non_members go together (the audit needs both)")
    for i, ref in enumerate(p.reference_models):
        if not ref.strip():
            raise fail(f"privacy.reference_models[{i}]", "must name an ONNX file, got an empty string")
    if len(set(p.references)) != len(p.references):
        raise fail("privacy.reference_models", "a reference model appears more than once; each once")


def _check_insight(cfg: BuildConfig, fail: Any) -> None:
    """[discovery], [context] and [[scenarios]]: ranges, known observables, parseable filters."""

    d = cfg.discovery
    for key, v, lo, hi in (
        ("discovery.min_size", d.min_size, 1, math.inf),
        ("discovery.alpha", d.alpha, 1e-9, 0.5),
        ("discovery.min_gap", d.min_gap, 0.0, 1.0),
        ("discovery.max_values", d.max_values, 2, 1000),
        ("discovery.top", d.top, 0, 1000),
        ("context.confidence", cfg.context.confidence, 0.5, 0.9999),
    ):
        if not lo <= v <= hi:
            span = f">= {lo:g}" if hi == math.inf else f"in [{lo:g}, {hi:g}]"
            raise fail(key, f"must be {span}, got {v:g}")
    # context.observable names are checked against edgekit.signals.observe when the build loads
    # its data (a layer above this one), still before any variant is built
    for col, edges in cfg.context.bins.items():
        if col not in cfg.context.observable:
            what = f"{col!r} is not in context.observable {cfg.context.observable}"
            raise fail(f"context.bins.{col}", what)
        if not edges or any(b2 <= a for a, b2 in pairwise(edges)):
            raise fail(f"context.bins.{col}", "must be one or more strictly increasing edges")
    seen: set[str] = set()
    for i, sc in enumerate(cfg.scenarios):
        key = f"scenarios[{i}]"
        if not sc.name.strip() or len(sc.name) > _MAX_NAME:
            raise fail(f"{key}.name", f"must be a non-empty name of at most {_MAX_NAME} characters")
        if sc.name in seen:
            raise fail(f"{key}.name", f"{sc.name!r} names two scenarios; each name once")
        seen.add(sc.name)
        if not 0.0 <= sc.min_accuracy <= 1.0:
            unit = " (a fraction: 0.6 is 60 %)" if sc.min_accuracy > 1 else ""
            raise fail(f"{key}.min_accuracy", f"must be in [0, 1], got {sc.min_accuracy:g}{unit}")
        if sc.min_size < 1:
            raise fail(f"{key}.min_size", f"must be >= 1, got {sc.min_size}")
        try:
            parse_filter(sc.filter)
        except FilterError as e:
            raise fail(f"{key}.filter", f"{e}") from e


_MODEL_ONLY = ("preprocess", "labels", "output", "input_name", "output_name")


def _check_baseline(cfg: BuildConfig, fail: Any) -> None:
    """One kind of baseline; keys that belong to it; labels among the model's; rule params."""
    b = cfg.baseline
    if b is None:
        return
    given = [k for k in ("model", "config", "rule") if getattr(b, k)]
    if len(given) != 1:
        what = " and ".join(given) if given else "none of them"
        raise fail("baseline", f"give exactly one of model, config or rule (got {what})")
    defaults = BaselineConfig()
    if b.rule or b.config:
        extra = [k for k in _MODEL_ONLY if getattr(b, k) != getattr(defaults, k)]
        if extra:
            whence = "come from that config" if b.config else "do not apply to a rule"
            keys = ", ".join(_MODEL_ONLY)
            raise fail(f"baseline.{extra[0]}", f"only with baseline.model ({keys} {whence})")
    if b.params and not b.rule:
        raise fail("baseline.params", "only with baseline.rule")
    if b.rule:
        if b.rule not in BASELINE_RULES:
            raise fail("baseline.rule", f"unknown rule {b.rule!r}; accepted: {', '.join(BASELINE_RULES)}")
        unknown = sorted(set(b.params) - {"flatness_min"})
        if unknown:
            raise fail(f"baseline.params.{unknown[0]}", "unknown parameter; accepted: flatness_min")
        flat = b.params.get("flatness_min")
        if flat is None or not 0 < flat < 1:
            raise fail("baseline.params.flatness_min", f"expected a number in (0, 1), got {flat!r}")
        if cfg.model.labels and "noise" not in cfg.model.labels:
            raise fail("baseline.rule", "energy-detector answers 'noise', which is not in model.labels")
    for i, label in enumerate(b.labels):
        if not label.strip():
            raise fail(f"baseline.labels[{i}]", "must be a non-empty name")
    if len(set(b.labels)) != len(b.labels):
        raise fail("baseline.labels", "a label appears more than once; each name once")
    outside = [lbl for lbl in b.labels if cfg.model.labels and lbl not in cfg.model.labels]
    if outside:
        raise fail(
            "baseline.labels",
            f"{outside[0]!r} is not in model.labels; a baseline answers with the bundle's labels",
        )
    for i, step in enumerate(b.preprocess):
        if "op" not in step or not isinstance(step["op"], str):
            raise fail(f"baseline.preprocess[{i}]", 'each step needs op = "<name>"')


def _check_values(cfg: BuildConfig, fail: Any) -> None:
    """Everything types alone cannot express, so a bad file stops before any work starts."""
    if cfg.schema != 1:
        raise fail("schema", f"unsupported schema {cfg.schema}; this edgekit reads schema 1")
    _check_privacy(cfg, fail)
    _check_insight(cfg, fail)
    _check_baseline(cfg, fail)
    _check_names(cfg, fail)
    _check_ranges(cfg, fail)
    for i, step in enumerate(cfg.preprocess):
        if "op" not in step or not isinstance(step["op"], str):
            raise fail(f"preprocess[{i}]", 'each step needs op = "<name>"')


def parse_config(
    table: dict[str, Any], *, source: str = "<config>", base_dir: Path | None = None
) -> BuildConfig:
    """Validate a parsed TOML table into a :class:`BuildConfig`."""

    def fail(key: str, what: str) -> ConfigError:
        return ConfigError(f"{source}: {key}: {what}")

    if not isinstance(table, dict):
        raise fail("(top level)", f"expected a table, got {type(table).__name__}")
    cfg: BuildConfig = _build(BuildConfig, table, "", fail)
    for key, value in table.items():
        if key not in _INTERNAL:
            _check_text(value, key, fail)
    cfg = dataclasses.replace(cfg, source=source, base_dir=str(base_dir or Path(".")))
    _check_values(cfg, fail)
    return cfg


def load_config(path: str | Path) -> BuildConfig:
    """Read and validate ``edgekit.toml`` at ``path``."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: is a folder, expected a config file (edgekit.toml)")
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file (expected an edgekit.toml)")
    try:
        with p.open("rb") as f:
            table = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read: {e}") from e
    return parse_config(table, source=str(p), base_dir=p.parent)
