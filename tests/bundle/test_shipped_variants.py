"""What a build ships: passing variants only (every built one when none passes), and the OOD
threshold of the variant that was selected, not of another one (issue 17)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from edgekit.backends.testing import make_cnn1d
from edgekit.bundle import verify_bundle, write_bundle
from edgekit.config import parse_config
from edgekit.errors import BundleError
from edgekit.model_info import inspect_model
from edgekit.results import (
    AccuracyResult,
    BudgetCheck,
    BuildResult,
    EnergyFigure,
    LatencyResult,
    OodResult,
    VariantResult,
)

from .conftest import sha256

LABELS = ["noise", "tone", "am", "fm"]


def _variant(
    build: Path, name: str, *, status: str = "built", check: str = "pass", threshold: float, seed: int
) -> VariantResult:
    rel = f"variants/{name}.onnx"
    make_cnn1d(build / rel, channels=4, classes=4, length=64, seed=seed)
    v = VariantResult(name, "onnxruntime", "fp32", status, path=rel, size_bytes=(build / rel).stat().st_size)  # type: ignore[arg-type]
    v.checks = [BudgetCheck("max_latency_p99_ms", check, 150.0, 1.0, "ms")]  # type: ignore[arg-type]
    ood = OodResult("max_softmax", threshold, 0.95, 0.5, 100, 10, ["ofdm"])
    v.accuracy = AccuracyResult(100, 0.5 + seed / 100, 0.5, {}, 1.0, 0.0, ood=ood)
    v.latency = LatencyResult(1, 1, 1, 1, 1, 0, 10, 1, 1, 50.0, "ort", "host")
    v.energy = EnergyFigure(1.0, 0.5, 0.01, "measured", "ina260", 1000.0, 100, 5)
    return v


def _write(build: Path, variants: list[VariantResult], selected: str | None) -> dict:
    cfg = parse_config(
        {"model": {"path": "m.onnx", "labels": LABELS}, "budgets": {"max_latency_p99_ms": 150.0}}
    )
    result = BuildResult(
        model_name="tiny",
        config_path="c.toml",
        model_path="m.onnx",
        verdict="pass" if selected else "rejected",
        selected=selected,
        selection_reason="why",
        variants=variants,
        pareto=[],
        stages=[],
        reference="fp32",
        host={},
        versions={},
        started_at="2026-11-29T00:00:00Z",
        duration_s=0.0,
        budgets={},
    )
    info = inspect_model(build / variants[0].path)
    folder, archive = write_bundle(
        result,
        cfg,
        build,
        labels=LABELS,
        input_name="x",
        out_index=0,
        info=info,
        backend_options={},
        reference_stats={},
    )
    assert folder == build / "bundle" and archive == build / "tiny.bundle.tar.gz"
    assert verify_bundle(folder) == [] and verify_bundle(archive) == []
    manifest = json.loads((folder / "manifest.json").read_text())
    # the files listed are exactly the shipped models, with hashlib's digests
    assert manifest["files"] == {
        f"variants/{v['name']}.onnx": sha256(folder / f"variants/{v['name']}.onnx")
        for v in manifest["variants"]
    }
    assert sorted(p.name for p in (folder / "variants").iterdir()) == sorted(
        f"{v['name']}.onnx" for v in manifest["variants"]
    )
    with tarfile.open(archive) as tar:
        assert sorted(n for n in tar.getnames() if n.endswith(".onnx")) == sorted(
            f"tiny.bundle/variants/{v['name']}.onnx" for v in manifest["variants"]
        )
    return manifest


def test_failing_variants_are_not_shipped_beside_passing_ones(tmp_path: Path) -> None:
    vs = [
        _variant(tmp_path, "fails", check="fail", threshold=0.1, seed=1),
        _variant(tmp_path, "chosen", threshold=0.6, seed=2),
        _variant(tmp_path, "unevaluated", check="not_evaluated", threshold=0.2, seed=3),
        _variant(tmp_path, "also-passes", threshold=0.3, seed=4),
        _variant(tmp_path, "skipped", status="skipped", threshold=0.4, seed=5),
    ]
    m = _write(tmp_path, vs, "chosen")
    assert [v["name"] for v in m["variants"]] == ["chosen", "also-passes"]
    assert [v["passed"] for v in m["variants"]] == [True, True]
    # the OOD threshold is the selected variant's, not the first or another passing one's
    assert m["ood"]["threshold"] == 0.6 and m["ood"]["score"] == "max_softmax"
    assert [v["ood_threshold"] for v in m["variants"]] == [0.6, 0.3]
    assert [v["accuracy"] for v in m["variants"]] == [0.52, 0.54]
    assert m["selected"] == "chosen" and m["verdict"] == "pass" and m["selection_reason"] == "why"
    assert m["variants"][0]["checks"] == [
        {
            "budget": "max_latency_p99_ms",
            "status": "pass",
            "limit": 150.0,
            "value": 1.0,
            "unit": "ms",
            "detail": "",
        }
    ]
    assert m["variants"][0]["energy"]["energy_per_inference_mj"] == 1.0
    assert m["variants"][0]["latency"]["p99_ms"] == 1
    assert m["variants"][0]["size_bytes"] == vs[1].size_bytes
    assert m["labels"] == LABELS and m["name"] == "tiny"
    assert m["budgets"]["max_latency_p99_ms"] == 150.0
    assert m["input"]["name"] == "x" and m["output"]["index"] == 0 and m["output"]["name"] == "logits"


def test_a_rejected_build_ships_every_built_variant_for_inspection(tmp_path: Path) -> None:
    vs = [
        _variant(tmp_path, "fails", check="fail", threshold=0.1, seed=1),
        _variant(tmp_path, "unevaluated", check="not_evaluated", threshold=0.2, seed=2),
        _variant(tmp_path, "broken", status="failed", threshold=0.3, seed=3),
    ]
    m = _write(tmp_path, vs, None)
    assert [v["name"] for v in m["variants"]] == ["fails", "unevaluated"]
    assert [v["passed"] for v in m["variants"]] == [False, False]
    assert m["selected"] is None and m["ood"]["threshold"] is None and m["verdict"] == "rejected"


def test_a_selected_variant_without_ood_gives_no_threshold(tmp_path: Path) -> None:
    vs = [_variant(tmp_path, "a", threshold=0.7, seed=1), _variant(tmp_path, "b", threshold=0.8, seed=2)]
    assert vs[0].accuracy is not None
    vs[0].accuracy.ood = None
    m = _write(tmp_path, vs, "a")
    assert m["ood"]["threshold"] is None
    assert [v["ood_threshold"] for v in m["variants"]] == [None, 0.8]


def test_nothing_built_is_no_bundle(tmp_path: Path) -> None:
    v = _variant(tmp_path, "broken", status="failed", threshold=0.1, seed=1)
    with pytest.raises(BundleError, match="no variant was built, so there is no bundle to write"):
        _write(tmp_path, [v], None)
    assert not (tmp_path / "bundle").exists()


def test_every_manifest_field_comes_from_the_build(tmp_path: Path) -> None:
    v = _variant(tmp_path, "chosen", threshold=0.6, seed=2)
    v.meta = {"extra_files": ["chosen.layout.json"], "converter": "x"}
    (tmp_path / "variants" / "chosen.layout.json").write_text("{}")
    cfg = parse_config(
        {
            "model": {"path": "m.onnx", "labels": LABELS, "description": "a tiny CNN"},
            "preprocess": [{"op": "rms_normalize"}],
            "battery": {"capacity_wh": 10.0, "duty_hz": 2.0},
            "budgets": {"max_latency_p99_ms": 150.0},
        }
    )
    result = BuildResult(
        model_name="tiny",
        config_path="c.toml",
        model_path="m.onnx",
        verdict="pass",
        selected="chosen",
        selection_reason="why",
        variants=[v],
        pareto=[],
        stages=[],
        reference="fp32",
        host={"machine": "x86_64"},
        versions={"onnx": "1.17"},
        started_at="2026-11-29T00:00:00Z",
        duration_s=0.0,
        budgets={},
    )
    info = inspect_model(tmp_path / v.path)
    folder, _ = write_bundle(
        result,
        cfg,
        tmp_path,
        labels=LABELS,
        input_name="x",
        out_index=0,
        info=info,
        input_shape=[1, 2, 64],
        fixed_batch=None,
        backend_options={"chosen": {"optimization": "basic"}},
        reference_stats={"n": 3},
    )
    m = json.loads((folder / "manifest.json").read_text())
    from edgekit import __version__

    assert (m["schema_version"], m["name"], m["description"]) == (1, "tiny", "a tiny CNN")
    assert m["created_by"] == f"edgekit {__version__}" and m["created_at"] == "2026-11-29T00:00:00Z"
    assert m["input"] == {
        "name": "x",
        "shape": ["N", 2, 64],
        "dtype": "float32",
        "concrete_shape": [1, 2, 64],
        "fixed_batch": None,
    }
    assert m["output"] == {"index": 0, "kind": "logits", "name": "logits", "shape": ["N", 4]}
    assert m["preprocess"] == [{"op": "rms_normalize"}]
    assert m["ood"] == {"score": "max_softmax", "threshold": 0.6, "target_in_distribution_accept": 0.95}
    assert m["reference_statistics"] == {"n": 3}
    assert m["battery"]["capacity_wh"] == 10.0 and m["battery"]["duty_hz"] == 2.0
    assert m["capture"] == json.loads(json.dumps(__import__("dataclasses").asdict(cfg.capture)))
    assert m["versions"] == {"onnx": "1.17"} and m["host"] == {"machine": "x86_64"}
    (var,) = m["variants"]
    assert var["file"] == "variants/chosen.onnx" and var["extra_files"] == ["variants/chosen.layout.json"]
    assert (var["runtime"], var["precision"], var["backend_options"]) == (
        "onnxruntime",
        "fp32",
        {"optimization": "basic"},
    )
    assert var["meta"] == {"extra_files": ["chosen.layout.json"], "converter": "x"}
    assert sorted(m["files"]) == ["variants/chosen.layout.json", "variants/chosen.onnx"]
    assert m["files"]["variants/chosen.layout.json"] == sha256(folder / "variants" / "chosen.layout.json")


def test_the_ood_rule_and_missing_figures_are_written_per_variant(tmp_path: Path) -> None:
    """The selected variant's OOD rule (``meta["ood"]``) goes to its entry and overrides the top
    "ood" keys; it is not repeated under "meta"; a variant without accuracy, latency or energy
    figures, or without backend options, says so with null/{} rather than borrowing a default."""
    rule = {"score": "energy", "temperature": 1.5, "threshold": 0.25}
    chosen = _variant(tmp_path, "chosen", threshold=0.6, seed=2)
    chosen.meta = {"ood": rule, "converter": "x"}
    bare = _variant(tmp_path, "bare", threshold=0.3, seed=3)
    bare.accuracy, bare.latency, bare.energy = None, None, None
    m = _write(tmp_path, [chosen, bare], "chosen")
    by = {v["name"]: v for v in m["variants"]}
    assert by["chosen"]["ood"] == rule and by["chosen"]["meta"] == {"converter": "x"}
    assert by["bare"]["ood"] is None and by["bare"]["meta"] == {}
    assert m["ood"] == {"score": "energy", "threshold": 0.25, "target_in_distribution_accept": 0.95,
                        "temperature": 1.5}
    assert (by["bare"]["accuracy"], by["bare"]["latency"], by["bare"]["energy"]) == (None, None, None)
    assert by["chosen"]["backend_options"] == {} and by["bare"]["backend_options"] == {}
