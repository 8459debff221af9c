"""[privacy] and the membership budgets are validated before any work."""

from __future__ import annotations

import pytest

from edgekit.config import BuildConfig, parse_config
from edgekit.errors import ConfigError


def _cfg(privacy: dict, budgets: dict | None = None) -> BuildConfig:
    return parse_config(
        {"model": {"path": "m.onnx"}, "privacy": privacy, "budgets": budgets or {}},
        source="edgekit.toml",
    )


def test_defaults_and_a_full_table() -> None:
    c = _cfg({"members": "a.npz", "non_members": "b.npz", "max_rows": 10, "bootstrap": 0})
    assert (c.privacy.members, c.privacy.non_members, c.privacy.max_rows) == ("a.npz", "b.npz", 10)
    assert _cfg({}).privacy.max_rows == 2000


@pytest.mark.parametrize(
    ("privacy", "budgets", "key"),
    [
        ({"members": "a.npz"}, {}, "privacy.non_members"),
        ({"non_members": "b.npz"}, {}, "privacy.members"),
        ({"max_rows": 9}, {}, "privacy.max_rows"),
        ({"bootstrap": -1}, {}, "privacy.bootstrap"),
        ({"member": "a.npz"}, {}, "privacy.member"),
        ({}, {"max_membership_advantage": 1.5}, "budgets.max_membership_advantage"),
        ({}, {"max_membership_auc": -0.1}, "budgets.max_membership_auc"),
    ],
)
def test_refusals_name_the_key(privacy: dict, budgets: dict, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        _cfg(privacy, budgets)
    msg = str(e.value)
    assert key in msg and "\n" not in msg


def test_reference_models_and_keep_metadata() -> None:
    c = _cfg({"reference_model": "r0.onnx", "reference_models": ["r1.onnx", "r2.onnx.gz"],
              "keep_metadata": True})
    assert c.privacy.references == ["r0.onnx", "r1.onnx", "r2.onnx.gz"]
    assert c.privacy.keep_metadata is True
    assert _cfg({}).privacy.keep_metadata is False and _cfg({}).privacy.references == []


@pytest.mark.parametrize(
    ("privacy", "key"),
    [
        ({"reference_models": ["a.onnx", " "]}, "privacy.reference_models[1]"),
        ({"reference_models": ["a.onnx", "a.onnx"]}, "privacy.reference_models"),
        ({"reference_models": "a.onnx"}, "privacy.reference_models"),
        ({"keep_metadata": "yes"}, "privacy.keep_metadata"),
    ],
)
def test_reference_and_metadata_refusals(privacy: dict, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        _cfg(privacy)
    assert key in str(e.value) and "\n" not in str(e.value)
