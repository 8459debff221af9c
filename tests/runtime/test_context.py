"""Results with context on the device: lookup, the engine's hook, the journal, and end to end
(the real daemon and emulator on a pseudo-terminal, RESULT's 1.2 context field included)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.bundle.context_section import check_context
from edgekit.data.synth import CLASSES, generate
from edgekit.errors import BundleError
from edgekit.runtime.context import ContextTable
from edgekit.runtime.engine import Engine, Outcome
from edgekit.runtime.journal import APPLICATION_ID, Journal, ResultRow, read_journal
from edgekit.runtime.settings import JournalSettings
from edgekit.signals.snr import estimate_snr_db
from tests.runtime.bundles import write_bundle
from tests.runtime.conftest import Emulator, RunningDaemon, metric_sum

EDGES = [-10.0, 0.0, 10.0, 20.0]


def _cells(label_index: int) -> list[dict[str, Any]]:
    """A hand-written table: label i, bin j has n = 100 i + 10 j + 5 (so a cell is identified by
    its count), all with 3/4 right except one empty bin per label."""
    bins = [(None, -10.0, "< -10"), (-10.0, 0.0, "[-10, 0)"), (0.0, 10.0, "[0, 10)"),
            (10.0, 20.0, "[10, 20)"), (20.0, None, ">= 20")]  # fmt: skip
    label = CLASSES[label_index]
    out = [{"label": label, "condition": "", "bin": "all", "low": None, "high": None, "n": 999,
            "correct": 500, "precision": 500 / 999, "ci_low": 0.47, "ci_high": 0.53}]  # fmt: skip
    for j, (lo, hi, name) in enumerate(bins):
        n = 0 if j == 4 else 100 * label_index + 10 * j + 5
        k = (3 * n) // 4
        out.append({"label": label, "condition": "snr_db", "bin": name, "low": lo, "high": hi,
                    "n": n, "correct": k, "precision": k / n if n else None,
                    "ci_low": 0.0 if not n else 0.6, "ci_high": 1.0 if not n else 0.85})  # fmt: skip
    return out


def _section(variant: str = "onnx-fp32") -> dict[str, Any]:
    return {
        "method": "wilson",
        "confidence": 0.95,
        "source": "test",
        "conditions": {"snr_db": {"edges": EDGES, "describe": "blind SNR"}},
        "variants": {variant: [c for i in range(len(CLASSES)) for c in _cells(i)]},
    }


def test_lookup_picks_the_bin_of_the_observed_condition() -> None:
    table = ContextTable.from_manifest({"context": _section()})
    assert table is not None
    got = table.lookup("onnx-fp32", "bpsk", {"snr_db": 5.0})  # bpsk is label 4, bin [0, 10) is 2
    assert got is not None and got["n"] == 425 and got["bin"] == "[0, 10)" and got["value"] == 5.0
    assert got["correct"] == 318 and not got["fallback_to_all"]
    assert table.lookup("onnx-fp32", "bpsk", {"snr_db": -10.0})["n"] == 415  # left-closed
    assert table.lookup("onnx-fp32", "bpsk", {"snr_db": -10.01})["n"] == 405
    # a bin the build never saw this label in: the label's figure over all conditions
    empty = table.lookup("onnx-fp32", "bpsk", {"snr_db": 25.0})
    assert empty is not None and empty["fallback_to_all"] and empty["n"] == 999
    assert table.lookup("other-variant", "bpsk", {"snr_db": 5.0}) is None
    assert ContextTable.from_manifest({"name": "x"}) is None


def test_attach_only_to_model_answers() -> None:
    table = ContextTable.from_manifest({"context": _section()})
    assert table is not None
    x = generate(1, seed=3, classes=["bpsk"], snr_range_db=(5.0, 5.0)).x
    ok = Outcome("ok", "bpsk", 4, 0.9, "model", "onnx-fp32")
    with_ctx = table.attach(x, ok)
    snr = float(estimate_snr_db(x)[0])  # the same function the build used
    assert with_ctx.context is not None and with_ctx.context["value"] == round(snr, 2)
    assert with_ctx.context["bin"] == ("[0, 10)" if 0 <= snr < 10 else with_ctx.context["bin"])
    for other in (
        Outcome("unknown", None, None, 0.2, "model", "onnx-fp32", predicted="bpsk"),
        Outcome("fallback", "bpsk", 4, 0.7, "baseline", "trees"),
    ):
        assert table.attach(x, other).context is None


class _Runner:
    name = "onnx-fp32"
    labels: tuple[str, ...] = CLASSES

    def predict(self, x: np.ndarray) -> Any:
        from edgekit.runtime.model import Prediction

        return Prediction(4, 0.9, 0.9, False, x, 0.0, 0.0)

    def close(self) -> None:
        pass


def test_engine_hook_adds_context_and_never_costs_the_answer() -> None:
    table = ContextTable.from_manifest({"context": _section()})
    assert table is not None
    x = generate(1, seed=4, classes=["bpsk"], snr_range_db=(15.0, 15.0)).x
    engine = Engine(list(CLASSES), _Runner(), None, budget_s=None, annotate=table.attach)  # type: ignore[arg-type]
    out = engine.decide(x)
    assert out.status == "ok" and out.context is not None and out.context["condition"] == "snr_db"

    def broken(x: np.ndarray, o: Outcome) -> Outcome:
        raise RuntimeError("boom")

    engine2 = Engine(list(CLASSES), _Runner(), None, budget_s=None, annotate=broken)  # type: ignore[arg-type]
    assert engine2.decide(x).status == "ok"


def test_journal_stores_context_and_upgrades_an_older_journal(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)  # a journal as written before results carried context
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    db.execute(
        "CREATE TABLE results (id INTEGER PRIMARY KEY, at REAL NOT NULL, session TEXT NOT NULL, "
        "capture_id INTEGER NOT NULL, device_timestamp_us INTEGER, status TEXT NOT NULL, "
        "label TEXT NOT NULL, label_index INTEGER, confidence REAL NOT NULL, score REAL, "
        "source TEXT NOT NULL, model TEXT, reason TEXT, detail TEXT, overrun INTEGER NOT NULL, "
        "predicted TEXT, latency_ms REAL, preprocess_ms REAL, inference_ms REAL)"
    )
    db.commit()
    db.close()
    j = Journal(path, JournalSettings(path=str(path)))
    ctx = {"condition": "snr_db", "bin": "[0, 10)", "n": 273, "correct": 167, "precision": 0.6117}
    base = dict(at=1.0, capture_id=1, device_timestamp_us=None, status="ok", label="bpsk",
                label_index=4, confidence=0.9, score=0.9, source="model", model="onnx-fp32",
                reason=None, detail=None, overrun=False, predicted="bpsk", latency_ms=1.0,
                preprocess_ms=0.1, inference_ms=0.5)  # fmt: skip
    j.add_result(ResultRow(**base, context=ctx))
    j.add_result(ResultRow(**{**base, "capture_id": 2}))
    j.commit()
    j.close()
    rows = read_journal(path)["results"]
    assert rows[0]["context"] == ctx and rows[1]["context"] is None


def test_manifest_section_is_validated() -> None:
    check_context(_section(), "context")
    bad = _section()
    bad["variants"]["onnx-fp32"][1]["correct"] = 10_000
    with pytest.raises(BundleError, match=r"context\.variants\.onnx-fp32\[1\]\.correct"):
        check_context(bad, "context")
    bad = _section()
    bad["variants"]["onnx-fp32"][1]["condition"] = "rssi"
    with pytest.raises(BundleError, match=r"not in context\.conditions"):
        check_context(bad, "context")


def test_end_to_end_results_carry_context(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle", threshold=0.0, extra={"context": _section()})
    emu = Emulator(tmp_path, "--rate", "40", "--count", "60", "--seed", "5", "--linger", "3")
    daemon = RunningDaemon(tmp_path, bundle, emu.link)
    try:
        emu.wait(60)
        daemon.wait_for(lambda: len(daemon.results()) >= emu.stats()["scanner"]["results_received"] > 0)
        metrics = daemon.get("/metrics")
    finally:
        emu.stop()
        assert daemon.stop() == 0
    results = daemon.results()
    model_ok = [r for r in results if r["status"] == "ok"]
    assert model_ok, "no model answers"
    assert all(r["context"] is not None for r in model_ok)
    assert all(r["context"] is None for r in results if r["status"] != "ok")
    for r in model_ok:  # the figures are the bundle's cell for this label and this bin
        c = r["context"]
        cells = [x for x in _cells(CLASSES.index(r["label"])) if x["bin"] == c["bin"]]
        assert len(cells) == 1 and cells[0]["n"] == c["n"]
    # every delivered model answer carried the 1.2 field (the emulator is a 1.2 device)
    assert emu.stats()["scanner"]["results_with_context"] == len(model_ok)
    assert metric_sum(metrics, "edgekit_results_by_condition_total") == len(model_ok)
