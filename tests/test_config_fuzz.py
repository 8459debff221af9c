"""Fuzzing ``parse_config``: any TOML value at any key gives a config or one ConfigError line
naming the file and a key, never another exception."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import typing
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.config import BuildConfig, parse_config
from edgekit.errors import ConfigError

VALID: dict[str, Any] = {
    "variants": ["onnx-fp32"],
    "model": {"path": "m.onnx", "name": "m", "labels": ["a", "b"]},
    "data": {"evaluation": "e.npz", "ood_classes": ["z"]},
    "slices": {"columns": ["snr_db"], "bins": {"snr_db": [0.0, 1.0]}},
    "budgets": {"max_accuracy_drop": 0.02},
    "battery": {"capacity_wh": 10.0},
    "preprocess": [{"op": "scale", "factor": 2.0}],
}


def _keys() -> list[tuple[str, ...]]:
    """Every key path of the schema, plus a few unknown ones."""
    out: list[tuple[str, ...]] = [("nope",), ("model", "nope")]
    hints = typing.get_type_hints(BuildConfig)
    for f in dataclasses.fields(BuildConfig):
        if f.name in ("source", "base_dir"):
            continue
        out.append((f.name,))
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.extend((f.name, g.name) for g in dataclasses.fields(tp))
    return out


SCALARS = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.dates(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(_keys()), VALUES), min_size=1, max_size=3))
def test_any_value_at_any_key(edits: list[tuple[tuple[str, ...], Any]]) -> None:
    table: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in VALID.items()}
    for path, value in edits:
        if len(path) == 1:
            table[path[0]] = value
        else:
            section = table.get(path[0])
            if not isinstance(section, dict):
                section = table[path[0]] = {}
            section[path[1]] = value
    try:
        cfg = parse_config(table, source="x.toml")
    except ConfigError as e:
        msg = str(e)
        assert "\n" not in msg
        assert msg.startswith("x.toml: ")
        key = msg[len("x.toml: ") :].split(": ", 1)[0]
        top = key.split(".")[0].split("[")[0].split(" ")[0]
        assert top in table or key == "(top level)", msg
    else:
        assert isinstance(cfg, BuildConfig)
        _assert_clean(dataclasses.asdict(cfg))


def _assert_clean(value: Any) -> None:
    """What a returned config holds: finite numbers and printable text only."""
    if isinstance(value, float):
        assert math.isfinite(value), value
    elif isinstance(value, str):
        assert all(ord(c) >= 0x20 and ord(c) != 0x7F for c in value), repr(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _assert_clean(k)
            _assert_clean(v)
    elif isinstance(value, list):
        for v in value:
            _assert_clean(v)


@settings(max_examples=60, deadline=None)
@given(value=VALUES)
def test_any_top_level_value(value: Any) -> None:
    try:
        parse_config(value, source="x.toml")
    except ConfigError as e:
        assert str(e).startswith("x.toml: ")
