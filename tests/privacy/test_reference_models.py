"""Reference models trained like the model on other data enable the calibrated attacks in the
build's audit (plain and gzip-compressed ONNX files), and a missing one is one line, exit 2."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.builder.pipeline import run_build
from edgekit.builder.stages.context import BuildOptions
from edgekit.cli import main
from edgekit.config import load_config

from .test_overfit_build import FEATURES, _data, _export, _train_logreg


def _setup(tmp: Path, refs: int) -> Path:
    rng = np.random.default_rng(11)
    w_true = rng.standard_normal(FEATURES) / np.sqrt(FEATURES) * 4
    xm, ym = _data(rng, 60, w_true)
    xn, yn = _data(rng, 1000, w_true)
    _export(_train_logreg(xm, ym, 0.0, 3000), tmp / "model.onnx")
    names = []
    for i in range(refs):  # the same recipe on data of other seeds, never the members
        xr, yr = _data(np.random.default_rng(100 + i), 60, w_true)
        path = tmp / f"ref{i}.onnx"
        _export(_train_logreg(xr, yr, 0.0, 3000), path)
        if i % 2:
            (tmp / f"ref{i}.onnx.gz").write_bytes(gzip.compress(path.read_bytes()))
            path.unlink()
            path = tmp / f"ref{i}.onnx.gz"
        names.append(path.name)
    labels = np.array(["neg", "pos"])
    np.savez(tmp / "members.npz", x=xm, y=ym, labels=labels)
    np.savez(tmp / "non_members.npz", x=xn, y=yn, labels=labels)
    (tmp / "edgekit.toml").write_text(
        'schema = 1\nvariants = ["onnx-fp32"]\n'
        '[model]\npath = "model.onnx"\nname = "logreg"\n'
        '[data]\ncalibration = "members.npz"\nevaluation = "non_members.npz"\n'
        "calibration_size = 32\n[profile]\nruns = 5\nwarmup = 1\n"
        '[privacy]\nmembers = "members.npz"\nnon_members = "non_members.npz"\nbootstrap = 50\n'
        f"reference_models = {json.dumps(names)}\n"
        "[budgets]\nmax_membership_advantage = 0.3\n"
    )
    return tmp / "edgekit.toml"


def test_reference_models_enable_the_calibrated_attacks(tmp_path: Path) -> None:
    cfg = load_config(_setup(tmp_path, 4))
    result = run_build(cfg, BuildOptions(out_dir=tmp_path / "out", log=lambda _m: None))
    (v,) = result.variants
    assert v.privacy is not None
    attacks = {a.attack: a for a in v.privacy.attacks}
    assert set(attacks) == {"loss", "confidence", "reference_loss", "lira_offline"}
    # memorised 60 captures: every attack sees it; the budget fails
    assert attacks["lira_offline"].advantage > 0.3 and attacks["lira_offline"].auc > 0.7
    assert "4 reference model(s): ref0.onnx, ref1.onnx.gz, ref2.onnx, ref3.onnx.gz" in v.privacy.provenance
    assert result.verdict == "rejected"
    md = (tmp_path / "out" / "report.md").read_text().replace("\\", "")
    assert "lira_offline" in md and "Carlini et al. 2022" in md


def test_a_missing_reference_model_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _setup(tmp_path, 2)
    (tmp_path / "ref0.onnx").unlink()
    assert main(["build", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "ref0.onnx (privacy.reference_models[0]): not found" in err and "\n" not in err


def test_audit_command_takes_reference_models(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(_setup(tmp_path, 2))
    run_build(cfg, BuildOptions(out_dir=tmp_path / "out", log=lambda _m: None))
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    args = ["audit", "out/bundle", "--members", "members.npz", "--non-members", "non_members.npz",
            "--bootstrap", "10", "--reference", "ref0.onnx", "--reference", "ref1.onnx.gz"]
    assert main(args) == 0
    audit = json.loads(capsys.readouterr().out)["variants"]["onnx-fp32"]
    assert {a["attack"] for a in audit["attacks"]} == {"loss", "confidence", "reference_loss", "lira_offline"}
    assert audit["hygiene"] == []  # the logistic regression holds no member row
    assert main([*args[:-1], "missing.onnx"]) == 2


def test_with_both_keys_each_missing_reference_is_named_by_its_own_key(tmp_path: Path) -> None:
    from edgekit.builder.stages.audit import reference_files
    from edgekit.config import PrivacyConfig
    from edgekit.errors import DataError

    p = PrivacyConfig(reference_model="solo.onnx", reference_models=["one.onnx", "two.onnx"])
    assert p.reference_keys == [
        "privacy.reference_model",
        "privacy.reference_models[0]",
        "privacy.reference_models[1]",
    ]
    (tmp_path / "solo.onnx").write_bytes(b"x")
    (tmp_path / "one.onnx").write_bytes(b"x")
    with pytest.raises(DataError, match=r"two\.onnx \(privacy\.reference_models\[1\]\): not found"):
        reference_files(p.references, tmp_path, tmp_path, p.reference_keys)
    (tmp_path / "solo.onnx").unlink()
    with pytest.raises(DataError, match=r"solo\.onnx \(privacy\.reference_model\): not found"):
        reference_files(p.references, tmp_path, tmp_path, p.reference_keys)
    # edgekit audit's option keeps its own indexing
    with pytest.raises(DataError, match=r"solo\.onnx \(--reference\[0\]\): not found"):
        reference_files(["solo.onnx"], tmp_path, tmp_path, "--reference")
