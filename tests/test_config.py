"""edgekit.toml validation: every error is one line naming the file, the key and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.config import VARIANT_NAMES, load_config, parse_config
from edgekit.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = {"model": {"path": "m.onnx"}}


def _err(table: dict) -> str:
    with pytest.raises(ConfigError) as ei:
        parse_config(table, source="x.toml")
    msg = str(ei.value)
    assert "\n" not in msg
    assert msg.startswith("x.toml: ")
    return msg


def test_reference_configs_load() -> None:
    for name in ("rfclass-cnn", "rfclass-gbt"):
        cfg = load_config(ROOT / "models" / name / "edgekit.toml")
        assert cfg.model.name == name
        assert len(cfg.model.labels) == 10
        assert cfg.model_path == ROOT / "models" / name / "model.onnx"
        assert cfg.budgets.max_latency_p99_ms == 150.0


def test_minimal_defaults() -> None:
    cfg = parse_config(MINIMAL)
    assert cfg.variants == list(VARIANT_NAMES)
    assert cfg.budgets.max_accuracy_drop is None
    assert cfg.quant.calibrate_method == "minmax"


def test_unknown_key_names_path_and_accepted() -> None:
    msg = _err({"model": {"path": "m.onnx"}, "budgets": {"max_latency_ms": 1.0}})
    assert "budgets.max_latency_ms" in msg
    assert "max_latency_p99_ms" in msg  # the accepted keys are listed


def test_unknown_top_level_key() -> None:
    assert "modle" in _err({"modle": {}, **MINIMAL})


def test_wrong_type() -> None:
    msg = _err({**MINIMAL, "profile": {"runs": "many"}})
    assert "profile.runs" in msg and "an integer" in msg


def test_bool_is_not_a_number() -> None:
    assert "budgets.min_accuracy" in _err({**MINIMAL, "budgets": {"min_accuracy": True}})


def test_int_accepted_for_float() -> None:
    cfg = parse_config({**MINIMAL, "budgets": {"max_latency_p99_ms": 150}})
    assert cfg.budgets.max_latency_p99_ms == 150.0
    assert isinstance(cfg.budgets.max_latency_p99_ms, float)


def test_literal_choices_listed() -> None:
    msg = _err({**MINIMAL, "quant": {"calibrate_method": "kl"}})
    assert "'minmax'" in msg and "'entropy'" in msg


def test_missing_required() -> None:
    assert "model.path" in _err({"model": {}})
    assert "model: missing" in _err({})


def test_unknown_variant() -> None:
    msg = _err({**MINIMAL, "variants": ["onnx-int4"]})
    assert "onnx-int4" in msg and "tflite-int8" in msg


def test_value_ranges() -> None:
    assert "battery.usable_fraction" in _err({**MINIMAL, "battery": {"usable_fraction": 1.5}})
    assert "profile.runs" in _err({**MINIMAL, "profile": {"runs": 0}})
    assert "slices.bins.snr_db" in _err({**MINIMAL, "slices": {"bins": {"snr_db": [5.0, 1.0]}}})
    assert "preprocess[0]" in _err({**MINIMAL, "preprocess": [{"eps": 1.0}]})
    assert "budgets.max_accuracy_drop" in _err({**MINIMAL, "budgets": {"max_accuracy_drop": -0.1}})


def test_list_item_type() -> None:
    assert "model.labels[1]" in _err({"model": {"path": "m", "labels": ["a", 3]}})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_bad_toml(tmp_path: Path) -> None:
    p = tmp_path / "edgekit.toml"
    p.write_text("[model\npath = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as ei:
        load_config(p)
    assert str(p) in str(ei.value)


def test_paths_resolve_against_config_folder(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "edgekit.toml"
    p.parent.mkdir()
    p.write_text('[model]\npath = "net.onnx"\n')
    assert load_config(p).model_path == tmp_path / "sub" / "net.onnx"


def test_capture_table_defaults_are_the_synthetic_data() -> None:
    from edgekit.data import synth

    c = parse_config(MINIMAL, source="x.toml").capture
    assert (c.sample_rate_hz, c.sample_format, c.samples_per_capture, c.iq_full_scale) == (
        synth.SAMPLE_RATE_HZ,
        "ci16",
        synth.N_SAMPLES,
        synth.IQ_FULL_SCALE,
    )


def test_capture_table_is_validated() -> None:
    ok = parse_config({**MINIMAL, "capture": {"samples_per_capture": 1024, "sample_rate_hz": 2.4e6}})
    assert ok.capture.samples_per_capture == 1024 and ok.capture.sample_rate_hz == 2.4e6
    # 1024 is the most a HELLO may announce (firmware_bridge/PROTOCOL.md range rules)
    assert "capture.samples_per_capture" in _err({**MINIMAL, "capture": {"samples_per_capture": 1025}})
    assert "capture.samples_per_capture" in _err({**MINIMAL, "capture": {"samples_per_capture": 0}})
    assert "capture.sample_rate_hz" in _err({**MINIMAL, "capture": {"sample_rate_hz": 0}})
    assert "capture.iq_full_scale" in _err({**MINIMAL, "capture": {"iq_full_scale": -1.0}})
    msg = _err({**MINIMAL, "capture": {"sample_format": "cf32"}})
    assert "capture.sample_format" in msg and "ci16" in msg
    assert "capture.centre_freq_hz" in _err({**MINIMAL, "capture": {"centre_freq_hz": 433e6}})
