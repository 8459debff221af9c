"""The fallback's label in the run log and ``edgekit status``: its kind and what it is."""

from __future__ import annotations

from types import SimpleNamespace

from edgekit.runtime.baseline import RuleBaseline
from edgekit.runtime.parts import baseline_label


def test_a_model_fallback_is_named_by_the_model_the_build_recorded() -> None:
    b = SimpleNamespace(kind="model", name="baseline:model", source="rfclass-trees (trees.toml)")
    assert baseline_label(b) == "model rfclass-trees (trees.toml)"
    unnamed = SimpleNamespace(kind="model", name="baseline:gbt", source="")
    assert baseline_label(unnamed) == "model gbt"


def _rule(source: str) -> RuleBaseline:
    return RuleBaseline("energy-detector", {"flatness_min": 0.8}, None, source)


def test_a_rule_fallback_is_named_by_its_rule() -> None:
    assert baseline_label(_rule("rule energy-detector")) == "rule energy-detector"
    assert baseline_label(_rule("site survey 2025")) == "rule energy-detector (site survey 2025)"
    assert baseline_label(None) == "none"
