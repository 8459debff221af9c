"""The build as a list of stages of one shape, ``stage(run) -> run``, in the order they run.

load -> features -> optimise/quantise/export -> validate -> ood -> insight -> profile -> audit ->
judge -> baseline -> bundle -> report. Each module owns its stage's decisions;
:class:`~edgekit.builder.stages.context.Run` carries what earlier stages decided.
"""

from __future__ import annotations

from edgekit.builder.stages.audit import audit
from edgekit.builder.stages.baseline import baseline
from edgekit.builder.stages.context import Run, Stage
from edgekit.builder.stages.insight import insight
from edgekit.builder.stages.load import load
from edgekit.builder.stages.measure import judge, profile
from edgekit.builder.stages.ood import features, ood
from edgekit.builder.stages.publish import bundle, report
from edgekit.builder.stages.validate import validate
from edgekit.builder.stages.variants import build_variants

__all__ = ["STAGES", "Run", "Stage"]

STAGES: list[Stage] = [
    load, features, build_variants, validate, ood, insight, profile, audit, judge, baseline, bundle,
    report,
]
