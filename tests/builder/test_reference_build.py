"""The README's main job: `edgekit build models/rfclass-cnn/edgekit.toml`, every variant for real
(TFLite through the onnx2tf environment), on a smaller evaluation set to keep CI short."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgekit.bundle import load_bundle, verify_bundle
from edgekit.cli import main
from edgekit.errors import BundleError

from .conftest import reference_config


def _config(tmp: Path) -> Path:
    # 1,000 calibration captures keep the ood stage's fit short (the reference config has 12,000)
    return reference_config(tmp, eval_n=1200, runs=50, cal_n=1000, audit=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, dict]:
    tmp = tmp_path_factory.mktemp("refbuild")
    out = tmp / "out"
    code = main(["build", str(_config(tmp)), "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    return code, out, report


@pytest.mark.converter
def test_reference_build_passes_with_every_variant(built: tuple[int, Path, dict]) -> None:
    code, out, report = built
    assert code == 0 and report["verdict"] == "pass"
    status = {v["name"]: v["status"] for v in report["variants"]}
    assert status == {
        n: "built"
        for n in (
            "onnx-fp32",
            "onnx-fp16",
            "onnx-int8-dynamic",
            "onnx-int8-static",
            "tflite-fp32",
            "tflite-fp16",
            "tflite-int8",
        )
    }
    for name in ("report.json", "report.md", "report.html", "bundle/manifest.json"):
        assert (out / name).is_file()
    assert report["selected"] in status
    assert report["pareto"]


@pytest.mark.converter
def test_variants_agree_with_fp32_within_tolerance(built: tuple[int, Path, dict]) -> None:
    """Stated tolerances: float variants match fp32 to rounding; fp16 and int8 keep the decisions."""
    _, _, report = built
    acc = {v["name"]: v["accuracy"] for v in report["variants"]}
    assert acc["onnx-fp32"]["max_abs_diff_vs_reference"] < 1e-4
    assert acc["tflite-fp32"]["max_abs_diff_vs_reference"] < 1e-3
    for name in ("onnx-fp16", "tflite-fp16"):
        assert acc[name]["agreement_with_reference"] >= 0.98, name
    for name in ("onnx-int8-dynamic", "onnx-int8-static", "tflite-int8"):
        assert acc[name]["agreement_with_reference"] >= 0.90, name
    ref = acc["onnx-fp32"]["accuracy"]
    assert ref - acc["onnx-int8-static"]["accuracy"] <= 0.02  # the budget, after the loop if needed


@pytest.mark.converter
def test_every_figure_has_provenance(built: tuple[int, Path, dict]) -> None:
    _, _, report = built
    for v in report["variants"]:
        assert "host, measured" in v["latency"]["provenance"]
        assert v["energy"]["kind"] == "estimated" and "estimated" in v["energy"]["provenance"]
        assert v["accuracy"]["ood"]["ood_unknown_rate"] is not None


@pytest.mark.converter
def test_the_chosen_ood_score_is_timed_with_the_model_and_judged(built: tuple[int, Path, dict]) -> None:
    """The daemon scores every capture: the score's cost comes from the same runs as the
    model's latency, and the latency budget judges the total (model + score)."""
    _, out, report = built
    manifest = load_bundle(out / "bundle").manifest
    shipped = {m["name"]: m for m in manifest["variants"]}
    for v in report["variants"]:
        sc = v["score_cost"]
        assert sc["score"] == v["ood_report"]["chosen"]
        assert sc["runs"] == v["latency"]["runs"] == 50
        assert sc["total_p99_ms"] >= max(v["latency"]["p99_ms"], sc["p99_ms"])
        (lat,) = [c for c in v["checks"] if c["budget"] == "max_latency_p99_ms"]
        assert lat["value"] == sc["total_p99_ms"]
        assert v["energy"]["ood_score_mj"] is not None
        if v["name"] in shipped:
            assert shipped[v["name"]]["score_cost"] == sc
    md = (out / "report.md").read_text()
    assert "Cost of the OOD score" in md and "Total p99 ms" in md


@pytest.mark.converter
def test_bundle_verifies_and_tampering_is_refused(
    built: tuple[int, Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, report = built
    assert verify_bundle(out / "bundle") == []
    assert verify_bundle(out / "rfclass-cnn.bundle.tar.gz") == []
    b = load_bundle(out / "bundle")
    assert b.manifest["selected"] == report["selected"]
    assert b.manifest["preprocess"][0]["op"] == "rms_normalize"
    assert b.manifest["ood"]["threshold"] is not None
    assert set(b.manifest["files"]) >= {v["file"] for v in b.manifest["variants"]}
    # the reference config's [baseline]: the reference trees, shipped and hashed
    assert b.manifest["baseline"]["kind"] == "model"
    assert b.manifest["baseline"]["file"] in b.manifest["files"]
    assert report["baseline"]["accuracy"] == b.manifest["baseline"]["accuracy"]

    copy = tmp_path / "bundle"
    shutil.copytree(out / "bundle", copy)
    victim = copy / b.manifest["variants"][0]["file"]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert any("SHA-256 does not match" in p for p in verify_bundle(copy))
    with pytest.raises(BundleError, match="refusing"):
        load_bundle(copy)
    assert main(["verify", str(copy)]) == 1
    assert "does not match" in capsys.readouterr().err
    assert main(["verify", str(out / "bundle")]) == 0


def test_tightened_budget_rejects_with_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the latency budget's refusal: small data and no membership audit (neither is judged here)
    cfg = reference_config(
        tmp_path, eval_n=300, runs=50, cal_n=300, audit=False,
        **{"max_latency_p99_ms = 150.0": "max_latency_p99_ms = 0.001"},
    )  # fmt: skip
    code = main(["build", str(cfg), "--out", str(tmp_path / "out"), "--variants", "onnx-fp32"])
    assert code == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and "max_latency_p99_ms" in out and "limit 0.001" in out
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.startswith("## Build REJECTED") and "max\\_latency\\_p99\\_ms" in md


@pytest.mark.converter
def test_reference_build_audits_membership_per_variant(built: tuple[int, Path, dict]) -> None:
    """[privacy] of the reference config: every built variant carries the audit, and the report
    has the auditor's section with its figures; the two committed reference CNNs
    (privacy_refs/) enable the calibrated attacks."""
    _, out, report = built
    for v in report["variants"]:
        attacks = {a["attack"]: a for a in v["privacy"]["attacks"]}
        assert set(attacks) >= {"loss", "confidence", "reference_loss", "lira_offline"}
        loss = attacks["loss"]
        assert loss["n_members"] == loss["n_non_members"] == 1000
        assert loss["auc_ci"][0] <= loss["auc"] <= loss["auc_ci"][1]
    md = (out / "report.md").read_text()
    assert "Privacy: membership inference" in md and "not a proof of privacy" in md


@pytest.mark.converter
def test_reference_build_carries_context_discoveries_and_scenarios(built: tuple[int, Path, dict]) -> None:
    """Issue 13: the bundle's context table, discovered weak slices and the scenario budget."""
    _, out, report = built
    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    selected = report["selected"]
    cells = manifest["context"]["variants"][selected]
    labels = manifest["labels"]
    assert {c["label"] for c in cells} == set(labels)
    for c in cells:
        assert 0 <= c["correct"] <= c["n"] and c["ci_low"] <= c["ci_high"]
        if c["n"]:
            assert c["ci_low"] <= c["precision"] <= c["ci_high"]
    v = next(v for v in report["variants"] if v["name"] == selected)
    # each label's overall cell counts the answers spread over its condition bins
    for label in labels:
        overall = next(c for c in cells if c["label"] == label and c["condition"] == "")
        assert overall["n"] == sum(c["n"] for c in cells if c["label"] == label and c["condition"])
    assert v["discovered_slices"], "the reference CNN is weak at low SNR; discovery found nothing"
    assert any("snr" in d["description"] for d in v["discovered_slices"])
    check = next(c for c in v["checks"] if c["budget"] == "scenario:low-SNR BPSK")
    assert check["status"] == "pass" and check["value"] >= 0.6
    md = (out / "report.md").read_text()
    for title in ("### Scenarios", "### Discovered weak slices", "### Results with context"):
        assert title in md


@pytest.mark.converter
def test_every_variant_carries_the_features_and_the_daemon_applies_the_rule(
    built: tuple[int, Path, dict], tmp_path: Path
) -> None:
    """The penultimate output survives quantisation and onnx2tf: every variant, TFLite included,
    measures the feature scores, with figures close to fp32's; the shipped rule loads as written."""
    from edgekit.data.synth import generate
    from edgekit.runtime.model import load_runner

    _, out, report = built
    rows = {
        v["name"]: {r["score"]: r for r in v["ood_report"]["rows"]} for v in report["variants"]
    }
    assert set(rows) == {v["name"] for v in report["variants"]} and len(rows) == 7
    for name, by_score in rows.items():
        for score in ("mahalanobis", "knn"):
            assert by_score[score]["available"], (name, score)
            # same captures, same statistics recipe: int8 features move AUROC by a little only
            assert abs(by_score[score]["auroc"] - rows["onnx-fp32"][score]["auroc"]) < 0.05, name
        # the spectral score reads the raw capture: the same figures for every variant
        assert by_score["spectral"]["heldout_unknown"] == rows["onnx-fp32"]["spectral"]["heldout_unknown"]
        assert by_score["spectral"]["threshold"] == rows["onnx-fp32"]["spectral"]["threshold"]
    b = load_bundle(out / "bundle")
    rule = b.manifest["ood"]
    assert rule["temperature"] > 0 and rule["input_guard"]["rms_low"] > 0
    runner = load_runner(b, None, threads=1)
    try:
        assert runner.ood_score == rule["score"] and runner.temperature == rule["temperature"]
        x = generate(1, seed=5).x
        p = runner.predict(x)
        assert 0 < p.confidence <= 1 and p.guard is None
        assert runner.predict(x * 0.0).guard == "silent"
    finally:
        runner.close()
