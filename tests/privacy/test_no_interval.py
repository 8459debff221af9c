"""``--bootstrap 0``: the AUC is shown with "no interval", never as a zero-width interval."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from edgekit.privacy.metrics import attack_figures
from edgekit.report.privacy_section import _ci


def test_bootstrap_0_gives_null_bounds_and_a_reason_in_json() -> None:
    rng = np.random.default_rng(3)
    f = attack_figures("loss", "", rng.normal(1, 1, 200), rng.normal(0, 1, 200), bootstrap=0)
    data = json.loads(json.dumps(dataclasses.asdict(f)))
    assert data["auc_ci"] == [None, None]
    assert data["auc_ci_note"] == "no interval (--bootstrap 0)"
    assert data["bootstrap"] == 0


def test_the_report_cell_says_no_interval_instead_of_a_point_range() -> None:
    assert _ci(0.6123, (None, None), note="no interval (--bootstrap 0)") == (
        "0.612 no interval (--bootstrap 0)"
    )
    assert _ci(0.6123, (0.5, 0.7)) == "0.612 [0.500, 0.700]"


def test_bootstrap_resamples_still_give_an_interval() -> None:
    rng = np.random.default_rng(3)
    f = attack_figures("loss", "", rng.normal(1, 1, 200), rng.normal(0, 1, 200), bootstrap=50)
    low, high = f.auc_ci
    assert low is not None and high is not None and low < f.auc < high
    assert f.auc_ci_note == ""
