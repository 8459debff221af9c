"""The manifest validator: any malformed manifest is one ``BundleError`` line naming the key; an
accepted one is safe for every loader. Fuzzed with hypothesis over a realistic manifest."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.bench.energy_run import battery_from_manifest
from edgekit.bundle import Bundle, bundle_id, parse_manifest, validate_manifest
from edgekit.bundle.schema import MAX_INPUT_ELEMENTS
from edgekit.errors import BundleError
from edgekit.signals.preprocess import OPS, Pipeline

H = "a" * 64


def real_manifest() -> dict[str, Any]:
    """Shaped like a reference build's manifest: every section, an ONNX and a TFLite variant."""
    checks = [{"budget": "max_latency_p99_ms", "status": "pass", "limit": 150.0, "value": 0.4, "unit": "ms"}]
    return {
        "schema_version": 1,
        "name": "rfclass-cnn",
        "description": "1D CNN on IQ captures",
        "created_by": "edgekit 0.1.0",
        "created_at": "2026-11-29T12:56:57+00:00",
        "verdict": "pass",
        "selected": "tflite-int8",
        "selection_reason": "lowest energy",
        "variants": [
            {
                "name": "onnx-fp32",
                "file": "variants/onnx-fp32.onnx",
                "extra_files": [],
                "runtime": "onnxruntime",
                "precision": "fp32",
                "passed": True,
                "size_bytes": 218098,
                "backend_options": {"optimization": "all"},
                "accuracy": 0.82,
                "ood_threshold": 0.41,
                "latency": {"p50_ms": 0.3, "p99_ms": 0.5},
                "energy": {"energy_per_inference_mj": 0.6, "kind": "estimated"},
                "checks": checks,
                "meta": {},
            },
            {
                "name": "tflite-int8",
                "file": "variants/tflite-int8.tflite",
                "extra_files": ["variants/tflite-int8.layout.json"],
                "runtime": "tflite",
                "precision": "int8",
                "passed": True,
                "size_bytes": 67968,
                "backend_options": {"transpose_input": [0, 2, 1]},
                "accuracy": 0.81,
                "ood_threshold": None,
                "latency": None,
                "energy": None,
                "checks": checks,
                "meta": {"converter_versions": {"onnx2tf": "1.29.24"}},
            },
        ],
        "input": {"name": "x", "shape": ["batch", 6, 1024], "dtype": "float32"},
        "output": {"index": 0, "kind": "logits", "name": "logits", "shape": ["batch", 10]},
        "labels": ["noise", "tone", "am", "fm", "bpsk", "qpsk", "8psk", "16qam", "gfsk", "chirp"],
        "preprocess": [{"op": "rms_normalize"}, {"op": "powers_iq", "powers": "1,2,4"}],
        "ood": {"score": "max_softmax", "threshold": 0.41, "target_in_distribution_accept": 0.95},
        "reference_statistics": {"n": 1200, "input_rms": {"quantiles": [0.01, 0.5], "values": [0.9, 1.0]}},
        "budgets": {"max_latency_p99_ms": 150.0, "min_accuracy": 0.7, "require_measured_energy": False},
        "battery": {"capacity_mah": 5000.0, "nominal_v": 3.7, "capacity_wh": None, "duty_hz": 2.0},
        "versions": {"edgekit": "0.1.0", "onnxruntime": "1.32.0"},
        "host": {"description": "x86_64", "machine": "x86_64"},
        "context": {  # optional: results with context (edgekit.bundle.context_section)
            "method": "wilson",
            "confidence": 0.95,
            "source": "synthetic:rf?n=3000&seed=202",
            "conditions": {"snr_db": {"edges": [-10.0, 0.0, 10.0], "describe": "blind SNR"}},
            "variants": {
                "tflite-int8": [
                    {"label": "bpsk", "condition": "", "bin": "all", "low": None, "high": None,
                     "n": 277, "correct": 241, "precision": 0.87, "ci_low": 0.83, "ci_high": 0.91},
                    {"label": "bpsk", "condition": "snr_db", "bin": "[0, 10)", "low": 0.0, "high": 10.0,
                     "n": 273, "correct": 167, "precision": 0.6117, "ci_low": 0.55, "ci_high": 0.67},
                ]
            },
        },
        "files": {
            "variants/onnx-fp32.onnx": H,
            "variants/tflite-int8.tflite": H,
            "variants/tflite-int8.layout.json": H,
        },
    }


def _check(m: Any) -> str | None:
    """Serialise, parse and validate as a loader would; the error line, or None when accepted."""
    try:
        validate_manifest(parse_manifest(json.dumps(m).encode("utf-8"), "m.json"), "m.json")
    except BundleError as e:
        return str(e)
    return None


def test_the_real_manifest_is_accepted() -> None:
    assert _check(real_manifest()) is None


def _set(m: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(m)
    node: Any = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


def _delete(m: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(m)
    node: Any = out
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]
    return out


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (("files",), ["variants/onnx-fp32.onnx"], "files: must be a table, got a list"),
        (("variants",), "onnx-fp32", "variants: must be a list, got a string"),
        (("variants",), [], "variants: must hold 1 to 64 entries, got 0"),
        (("variants", 0, "runtime"), "tensorflow", "variants[0].runtime: must be one of onnxruntime, tflite"),
        (
            ("variants", 1, "file"),
            "variants/onnx-fp32.onnx",
            "variants[1].file: 'variants/onnx-fp32.onnx' is not a tflite model",
        ),
        (("variants", 0, "extra_files"), "x", "variants[0].extra_files: must be a list"),
        (("variants", 0, "extra_files"), ["variants/tflite-int8.layout.json"] * 2, "lists a file twice"),
        (("variants", 0, "backend_options"), {"kind": "tflite"}, "unknown option 'kind' for onnxruntime"),
        (("variants", 0, "backend_options"), {"threads": 64}, "unknown option 'threads'"),
        (("variants", 1, "backend_options"), {"transpose_input": [0, 0, 1]}, "a permutation of 0..2"),
        (("variants", 0, "name"), "../x", "variants[0].name: must be a name"),
        (("variants", 1, "name"), "onnx-fp32", "variants[1].name: 'onnx-fp32' names two variants"),
        (("variants", 0, "accuracy"), 1.5, "variants[0].accuracy: must be a number in [0, 1] or null"),
        (("variants", 0, "passed"), "yes", "variants[0].passed: must be true, false or null"),
        (("input", "shape"), [1, 1 << 24, 1 << 24], "input.shape: one sample of shape"),
        (("input", "shape"), [1] * 9, "input.shape: must hold 1 to 8 entries, got 9"),
        (("input", "shape"), [1, -2], "input.shape[1]: must be an integer in [0, 16777216]"),
        (("input", "shape"), [1, True], "input.shape[1]: must be an integer"),
        (("input", "shape"), "1024", "input.shape: must be a list, got a string"),
        (("input", "dtype"), "float 32", "input.dtype: must be a dtype name"),
        (("output", "index"), -1, "output.index: must be an integer in [0, 1023]"),
        (("labels",), "noise,tone", "labels: must be a list"),
        (("labels",), ["noise", 3], "labels[1]: must be a string"),
        (("preprocess",), [{"op": "fft"}], "preprocess: preprocess step 0: unknown op 'fft'"),
        (("preprocess",), {"op": "rms_normalize"}, "preprocess: must be a list"),
        (("selected",), "nope", "selected: a string 'nope' is not a variant"),
        (("battery", "duty_hz"), "2", "battery.duty_hz: must be a number or null"),
        (("budgets", "max_latency_p99_ms"), "fast", "budgets.max_latency_p99_ms: must be a number or null"),
        (("ood",), [], "ood: must be a table or null"),
        (("schema_version",), 2, "schema_version: manifest schema an integer 2; this edgekit reads 1"),
        (("schema_version",), True, "schema_version: manifest schema a boolean True"),
        (("files", "variants/onnx-fp32.onnx"), "A" * 64, "a SHA-256 of 64 lowercase hex digits"),
        (("files", "/etc/passwd"), H, "'/etc/passwd' is not a relative path inside the bundle"),
        (("files", "manifest.sig"), H, "manifest.sig is the bundle's own"),
        (("files", "a//b"), H, "no empty, '.' or '..' parts"),
        (("files", "a\\b"), H, "no control characters or backslashes"),
    ],
)
def test_malformed_fields_name_the_key(path: tuple[Any, ...], value: Any, needle: str) -> None:
    err = _check(_set(real_manifest(), path, value))
    assert err is not None and err.startswith("m.json: ") and "\n" not in err
    assert needle in err, err


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        (("variants", 0, "file"), "variants[0]: missing 'file'"),
        (("variants", 0, "name"), "variants[0]: missing 'name'"),
        (("input",), "missing 'input'"),
        (("labels",), "missing 'labels'"),
        (
            ("files", "variants/tflite-int8.layout.json"),
            "variants[1].extra_files[0]: 'variants/tflite-int8.layout.json' is not listed",
        ),
        (
            ("files", "variants/onnx-fp32.onnx"),
            "variants[0].file: 'variants/onnx-fp32.onnx' is not listed in 'files'",
        ),
    ],
)
def test_missing_fields_name_the_key(path: tuple[Any, ...], needle: str) -> None:
    err = _check(_delete(real_manifest(), path))
    assert err is not None and needle in err, err


def test_input_size_bound_is_exactly_the_documented_one() -> None:
    side = 1 << 12  # 2**12 * 2**12 = 2**24 elements: the largest sample accepted
    assert side * side == MAX_INPUT_ELEMENTS
    assert _check(_set(real_manifest(), ("input", "shape"), ["N", side, side])) is None
    assert _check(_set(real_manifest(), ("input", "shape"), ["N", side, side + 1])) is not None


# --- fuzzing -----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out += _paths(v, (*prefix, k))
    return out


PATHS = _paths(real_manifest())


def _usable(m: dict[str, Any]) -> None:
    """What the loaders do with an accepted manifest must work without surprises."""
    b = Bundle(Path("/nonexistent"), m, bundle_id(m))
    for v in m["variants"]:
        var = b.variant(v["name"])
        assert var["file"] in m["files"]
        assert all(e in m["files"] for e in var.get("extra_files") or [])
        assert set(var.get("backend_options") or {}) <= {
            "optimization",
            "transpose_input",
            "original_input_shapes",
        }
    Pipeline.from_spec(m.get("preprocess") or [])
    battery_from_manifest(m, None)
    assert isinstance(m["input"]["shape"], list) and all(isinstance(label, str) for label in m["labels"])


def _outcome(m: Any) -> None:
    err = _check(m)
    if err is None:
        _usable(parse_manifest(json.dumps(m).encode("utf-8")))
    else:
        assert err.startswith("m.json: ") and "\n" not in err, err


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=JSON)
def test_any_json_value_at_any_key(path: tuple[Any, ...], value: Any) -> None:
    _outcome(_set(real_manifest(), path, value))


@settings(max_examples=200, deadline=None)
@given(paths=st.lists(st.sampled_from(PATHS), min_size=1, max_size=3))
def test_deleting_keys(paths: list[tuple[Any, ...]]) -> None:
    m = real_manifest()
    for p in paths:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # a parent already deleted
            m = _delete(m, p)
    _outcome(m)


@settings(max_examples=200, deadline=None)
@given(value=JSON)
def test_any_json_document(value: Any) -> None:
    _outcome(value)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_corrupted_manifest_text(data: st.DataObject) -> None:
    text = bytearray(json.dumps(real_manifest(), indent=1).encode("utf-8"))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text) - 1))
        text[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(text)))
    try:
        m = parse_manifest(bytes(text[:cut]), "m.json")
        validate_manifest(m, "m.json")
    except BundleError as e:
        assert str(e).startswith("m.json: ") and "\n" not in str(e)
    else:
        _usable(m)


STEP = st.builds(
    lambda op, params: {"op": op, **params},
    st.sampled_from(sorted(OPS)),
    st.dictionaries(
        st.sampled_from(sorted({p for o in OPS.values() for p in o.params} | {"x"})), JSON, max_size=3
    ),
)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(STEP | JSON, max_size=4))
def test_any_preprocessing_spec(steps: list[Any]) -> None:
    _outcome(_set(real_manifest(), ("preprocess",), steps))
