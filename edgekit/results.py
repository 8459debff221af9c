"""Typed results of a build. Renderers (``edgekit/report/``) only read these.

Units live in field names. Every measured figure carries its provenance: where and how it was
obtained (host or target, runtime, count, spread), so a report never shows a bare number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "AccuracyResult",
    "BaselineResult",
    "BudgetCheck",
    "BuildResult",
    "CalibrationResult",
    "ContextCell",
    "DiscoveredSlice",
    "EnergyFigure",
    "LatencyResult",
    "MembershipAttack",
    "OodBandRow",
    "OodReport",
    "OodResult",
    "OodScoreRow",
    "PrivacyResult",
    "QuantStep",
    "ScenarioResult",
    "ScoreCost",
    "SliceResult",
    "StageTiming",
    "VariantResult",
]

REPORT_SCHEMA_VERSION = 1

CheckStatus = Literal["pass", "fail", "not_evaluated"]
VariantStatus = Literal["built", "skipped", "failed"]


@dataclass
class SliceResult:
    """Accuracy on one slice of the evaluation data (one value or bin of a metadata column)."""

    column: str
    value: str
    n: int
    accuracy: float
    reference_accuracy: float
    drop: float  # reference_accuracy - accuracy; positive is worse


@dataclass
class OodResult:
    """How the calibrated "unknown" threshold behaves."""

    score: str
    threshold: float
    in_distribution_accept_rate: float  # fraction of in-distribution captures accepted
    ood_unknown_rate: float | None  # fraction of held-out-class captures called "unknown"
    n_in_distribution: int
    n_ood: int
    ood_classes: list[str] = field(default_factory=list)


@dataclass
class OodBandRow:
    """The shipped score in one band of the blind SNR estimate (``signals.bands``): its threshold
    and, on the held-out half, the in-distribution captures accepted and each family called
    unknown."""

    band: str  # e.g. "< -7.5 dB", ">= -7.5 dB"
    threshold: float
    choice_accept_rate: float | None  # in-distribution accepted, choice half
    n_heldout_in_distribution: int
    heldout_accept_rate: float | None
    heldout_unknown: dict[str, float] = field(default_factory=dict)  # family -> rate
    heldout_worst_class: str = ""  # the in-distribution class accepted least in this band
    heldout_worst_class_accept: float | None = None


@dataclass
class OodScoreRow:
    """One OOD score of one variant, measured by the build's ``ood`` stage (see its docstring
    for which captures each figure comes from)."""

    score: str
    available: bool  # False: the variant has no penultimate features for a feature score
    auroc: float | None = None  # in-distribution vs the choice family, choice half
    unknown_rate: float | None = None  # choice family called unknown at the threshold, choice half
    threshold: float | None = None  # accepts the target share of in-distribution, choice half
    heldout_accept_rate: float | None = None  # in-distribution accepted, held-out half
    heldout_unknown: dict[str, float] = field(default_factory=dict)  # family -> rate, held-out half
    heldout_unknown_all: float | None = None  # every OOD capture of the held-out half
    heldout_auroc: dict[str, float] = field(default_factory=dict)
    latency_us: float | None = None  # numpy scoring of one capture, median (host)
    memory_bytes: int = 0  # statistics the score keeps in memory
    chosen: bool = False
    note: str = ""
    # per SNR band (the chosen score with ood.low_snr_db): thresholds and held-out figures; the
    # figures above are then those of the band thresholds, and single_* those of one threshold
    bands: list[OodBandRow] = field(default_factory=list)
    band_rule: str = ""
    single_heldout_accept_rate: float | None = None
    single_heldout_unknown: dict[str, float] = field(default_factory=dict)


@dataclass
class OodReport:
    """Every OOD score of one variant, the choice among them and the input guard."""

    choice_family: str
    heldout_families: list[str]
    rule: str
    chosen: str
    rows: list[OodScoreRow]
    n_choice_in_distribution: int
    n_heldout_in_distribution: int
    n_fit: int  # in-distribution calibration captures the statistics were fitted on
    features: str | None  # the penultimate tensor (None: no feature scores)
    features_note: str = ""
    guard: dict[str, float] = field(default_factory=dict)  # probe -> share caught by the guard
    guard_false_reject_rate: float | None = None  # in-distribution evaluation captures refused


@dataclass
class CalibrationResult:
    """Temperature scaling of one variant: fitted on calibration data, judged on evaluation data."""

    temperature: float
    n_fit: int
    n_eval: int
    ece_before: float
    ece_after: float
    bins_before: dict[str, list[float]] = field(default_factory=dict)  # confidence, accuracy, count
    bins_after: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class AccuracyResult:
    """Validation of one variant on the evaluation data, with the device's preprocessing."""

    n: int
    accuracy: float
    macro_f1: float
    per_class_recall: dict[str, float]
    agreement_with_reference: float  # fraction of captures where argmax equals fp32's
    max_abs_diff_vs_reference: float  # on the score output, over the evaluation set
    slices: list[SliceResult] = field(default_factory=list)
    worst_slices: list[SliceResult] = field(default_factory=list)
    ood: OodResult | None = None
    data_source: str = ""
    min_slice_size: int = 0  # slices smaller than this are too noisy to rank (config slices.min_size)


@dataclass
class ContextCell:
    """Validated precision of one predicted label in one on-device condition ("results with
    context"): of ``n`` accepted answers ``label`` in this condition, ``correct`` were right.

    ``condition`` is an observable's name (``edgekit.signals.observe``) or ``""`` for all
    conditions; ``low``/``high`` bound the bin (null: open). The interval is Wilson's score
    interval at ``confidence``."""

    label: str
    condition: str
    bin: str  # printable, e.g. "[0, 10)", "< -10", "all"
    low: float | None
    high: float | None
    n: int
    correct: int
    precision: float | None  # correct / n; None when n == 0
    ci_low: float
    ci_high: float
    confidence: float


@dataclass
class DiscoveredSlice:
    """A subgroup of the evaluation data found, not configured, to be significantly worse.

    ``metric``: ``accuracy`` (the variant's accuracy in the subgroup against the rest) or
    ``drop_vs_fp32`` (the share of captures fp32 gets right and the variant wrong, against the
    rest). ``gap`` is how much worse (rest minus subgroup for accuracy; subgroup minus rest for
    the drop); ``p_value`` one-sided Fisher exact, ``q_value`` Benjamini-Hochberg adjusted over
    every candidate tested; ``score`` = n x gap ranks them."""

    metric: str
    conditions: list[list[str]]  # [[column, value], ...]: one or two
    description: str
    n: int
    value: float  # the subgroup's accuracy (or drop rate)
    rest_value: float
    gap: float
    p_value: float
    q_value: float
    score: float
    tested: int  # how many candidates the correction covered


@dataclass
class ScenarioResult:
    """A stakeholder scenario (``[[scenarios]]``): its filter's rows and the accuracy there."""

    name: str
    filter: str
    min_accuracy: float
    n: int
    correct: int
    accuracy: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    why_empty: str = ""  # when n == 0: which clause selected nothing


@dataclass
class LatencyResult:
    """Host latency and memory of one variant: preprocessing + inference of one batch."""

    cold_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    runs: int
    threads: int
    batch: int
    peak_memory_mb: float
    runtime: str
    provenance: str  # e.g. "host x86_64, measured, onnxruntime 1.32.0, 200 runs, 1 thread"
    cpu_ms_per_inference: float = float("nan")  # process CPU time, all threads
    cpu_ms_p10: float = float("nan")
    cpu_ms_p90: float = float("nan")
    cpu_ms_p99: float = float("nan")
    # How the host timing went (edgekit.builder.interleave): rounds, the attempt reported, the
    # host's load while timing, and each sign of interference left in that attempt that names
    # this variant or the whole host.
    rounds: int = 1
    attempt: int = 1
    host_busy_pct: float = float("nan")
    host_steal_pct: float = float("nan")
    host_loadavg_1m: float = float("nan")
    descheduled_pct: float = float("nan")  # runs with wall time well above their CPU time
    interference: list[str] = field(default_factory=list)


@dataclass
class ScoreCost:
    """The chosen OOD score's cost per capture, timed in the same worker process and the same
    runs as the variant's :class:`LatencyResult` (``edgekit.builder.profile``): each run is
    preprocessing + inference, then the score on the model's outputs, as the daemon does on every
    capture (``runtime.model.Prediction.score_s``). ``total_*`` are percentiles of the per-run
    sums, not sums of percentiles. Memory: the statistics' arrays, and the worker's peak resident
    memory before the score was loaded (the model alone) and at the end (model and score)."""

    score: str
    runs: int
    p10_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_ms_per_capture: float  # median process CPU time of the score
    total_p50_ms: float  # preprocessing + inference + score, per run
    total_p90_ms: float
    total_p99_ms: float
    total_cpu_ms_per_inference: float  # median of the per-run CPU sums
    total_cpu_ms_p10: float
    total_cpu_ms_p90: float
    total_cpu_ms_p99: float
    stats_bytes: int  # the statistics the score keeps (0: none, a logit score)
    model_peak_memory_mb: float  # the worker's peak before the score was loaded
    total_peak_memory_mb: float  # the worker's peak at the end: model and score
    provenance: str


@dataclass
class EnergyFigure:
    """Energy per inference and battery projection of one variant, with provenance."""

    energy_per_inference_mj: float
    dynamic_energy_per_inference_mj: float
    spread_mj: float
    kind: Literal["measured", "estimated", "unverified"]
    meter: str
    sample_rate_hz: float
    n_inferences: int
    windows: int
    battery_life_h: float | None = None
    battery_life_without_model_h: float | None = None
    battery_life_loss_pct: float | None = None
    drain_pct_per_h: float | None = None
    provenance: str = ""
    dynamic_spread_mj: float = float("nan")  # half-width of the dynamic energy's interval
    # "measured on the target" (what require_measured_energy needs) is decided only by
    # edgekit.energy.provenance.is_measured_on_target, from a bench.json; target_reason says why
    measured_on_target: bool = False
    target_reason: str = ""
    # the battery projection at both ends of the dynamic energy's interval
    battery_life_interval_h: tuple[float, float] | None = None
    battery_life_loss_interval_pct: tuple[float, float] | None = None
    # the chosen OOD score's share of energy_per_inference_mj (an estimate derived from its CPU
    # time); None: the figure does not include the score (none measured, or a bench figure)
    ood_score_mj: float | None = None


@dataclass
class BudgetCheck:
    """One budget applied to one variant."""

    budget: str  # the key in [budgets]
    status: CheckStatus
    limit: float | bool
    value: float | None = None
    unit: str = ""
    detail: str = ""  # e.g. the slice that broke it, or why it was not evaluated

    @property
    def is_minimum(self) -> bool:
        """True for a lower limit (``min_*`` budgets and ``scenario:*`` accuracies)."""
        return self.budget.startswith(("min_", "scenario:"))

    @property
    def excess(self) -> float | None:
        """By how much the value breaks the limit (positive) or how much room is left (negative)."""
        if self.value is None or isinstance(self.limit, bool):
            return None
        return (
            self.value - self.limit
            if not self.is_minimum
            else self.limit - self.value
        )


@dataclass
class QuantStep:
    """One round of the accuracy-aware quantisation loop."""

    float_nodes: list[str]
    accuracy: float
    accuracy_drop: float
    worst_slice_drop: float | None
    p50_ms: float | None
    accepted: bool


@dataclass
class MembershipAttack:
    """One membership-inference attack's figures; each ``_ci`` is an interval (low, high).

    ``auc_ci`` is a bootstrap interval, ``(None, None)`` with ``auc_ci_note`` saying why when no
    resamples were drawn (bootstrap 0): a point is never shown as a zero-width interval."""

    attack: str
    method: str  # which attack from the literature, in a line
    n_members: int
    n_non_members: int
    auc: float
    auc_ci: tuple[float | None, float | None]
    advantage: float  # max over thresholds of TPR - FPR
    advantage_ci: tuple[float, float]
    tpr_at_1pct_fpr: float
    tpr_at_1pct_fpr_ci: tuple[float, float]
    tpr_at_01pct_fpr: float
    tpr_at_01pct_fpr_ci: tuple[float, float]
    bootstrap: int
    confidence: float
    auc_ci_note: str = ""  # why auc_ci has no bounds ("no interval (--bootstrap 0)"), else ""


@dataclass
class PrivacyResult:
    """The membership-inference audit of one variant (edgekit.privacy)."""

    members: str
    non_members: str
    attacks: list[MembershipAttack] = field(default_factory=list)
    provenance: str = ""
    hygiene: list[str] = field(default_factory=list)  # training traces found and kept in the file
    removed: list[str] = field(default_factory=list)  # what was stripped from the file (hygiene)

    @property
    def worst(self) -> MembershipAttack | None:
        """The attack with the highest membership advantage."""
        return max(self.attacks, key=lambda a: a.advantage, default=None)


@dataclass
class VariantResult:
    """Everything known about one variant."""

    name: str
    runtime: str  # "onnxruntime" | "tflite"
    precision: str  # "fp32" | "fp16" | "int8"
    status: VariantStatus
    reason: str = ""  # why skipped or failed
    path: str = ""  # relative to the build's output folder
    size_bytes: int | None = None
    sha256: str = ""
    build_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    accuracy: AccuracyResult | None = None
    latency: LatencyResult | None = None  # the model: preprocessing + inference
    score_cost: ScoreCost | None = None  # the chosen OOD score, timed with the model (host)
    energy: EnergyFigure | None = None
    checks: list[BudgetCheck] = field(default_factory=list)
    quant_search: list[QuantStep] = field(default_factory=list)
    privacy: PrivacyResult | None = None  # membership-inference audit ([privacy])
    context: list[ContextCell] = field(default_factory=list)  # precision per label and condition
    discovered_slices: list[DiscoveredSlice] = field(default_factory=list)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    ood_report: OodReport | None = None  # every OOD score and the choice ([ood])
    calibration: CalibrationResult | None = None  # temperature scaling
    meta: dict[str, Any] = field(default_factory=dict)  # converter versions, layouts, qparams

    @property
    def passed(self) -> bool:
        """Built, and no budget failed or was left unevaluated."""
        return self.status == "built" and all(c.status == "pass" for c in self.checks)

    @property
    def failed_checks(self) -> list[BudgetCheck]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def unevaluated_checks(self) -> list[BudgetCheck]:
        return [c for c in self.checks if c.status == "not_evaluated"]


@dataclass
class StageTiming:
    """How long a stage took."""

    name: str
    duration_s: float
    detail: str = ""


@dataclass
class BaselineResult:
    """The fallback the bundle carries ([baseline]), validated on the build's evaluation data.

    ``accuracy`` is over the in-distribution rows with the baseline's answers mapped onto the
    bundle's labels by name (``accuracy_of`` says what was counted: for the energy-detector
    rule, the noise-or-signal decision). ``latency_*``: preprocessing + inference of one
    capture in process on the build host (``latency_provenance``)."""

    kind: Literal["model", "rule"]
    name: str  # the model file's name or the rule
    source: str
    accuracy: float | None
    accuracy_of: str
    n: int
    labels: list[str] = field(default_factory=list)
    per_class_recall: dict[str, float] = field(default_factory=dict)
    agreement_with_model: float | None = None  # same label as the fp32 model, in-distribution
    ood: OodResult | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_provenance: str = ""
    preprocess: list[dict[str, Any]] = field(default_factory=list)
    output_index: int = 0
    output_kind: str = ""
    rule: str = ""
    params: dict[str, float] = field(default_factory=dict)
    model_path: str = ""  # the source file the bundle's copy was made from
    bundle_file: str = ""  # its path inside the bundle
    size_bytes: int | None = None


@dataclass
class BuildResult:
    """The whole outcome of ``edgekit build``."""

    model_name: str
    config_path: str
    model_path: str
    verdict: Literal["pass", "rejected"]
    selected: str | None
    selection_reason: str
    variants: list[VariantResult]
    pareto: list[str]
    stages: list[StageTiming]
    reference: str  # what every variant is compared against (a variant name or a description)
    host: dict[str, str]
    versions: dict[str, str]
    started_at: str
    duration_s: float
    budgets: dict[str, Any]
    bundle_dir: str = ""
    bundle_archive: str = ""
    bundle_id: str = ""  # SHA-256 of the bundle's canonical manifest (edgekit.bundle.manifest)
    schema_version: int = REPORT_SCHEMA_VERSION
    warnings: list[str] = field(default_factory=list)
    reference_accuracy: float | None = None  # accuracy of the reference on in-distribution rows
    feature_costs: dict[str, Any] | None = None  # per-feature cost table (edgekit.builder.feature_costs)
    # Log files in the output folder (relative paths): the runtimes', the profiling workers' and
    # the converter's output, kept out of the terminal (edgekit.logs).
    logs: list[str] = field(default_factory=list)
    baseline: BaselineResult | None = None  # the fallback in the bundle ([baseline])

    def variant(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with derived fields (``passed``) included for readers of report.json."""
        d = asdict(self)
        for vd, v in zip(d["variants"], self.variants, strict=True):
            vd["passed"] = v.passed
        return d
