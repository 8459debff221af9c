"""The per-SNR-band thresholds of the chosen OOD score in the reports: one row per band with its
acceptance and unknown shares, the single-threshold figures beside them, and a note instead of
the table when the build kept one threshold."""

from __future__ import annotations

import json

from edgekit.report import render_markdown
from edgekit.report.json_report import render_json
from edgekit.results import BuildResult, OodBandRow, OodReport, OodScoreRow

from .conftest import make_build_result


def _with_bands(bands: bool) -> BuildResult:
    r = make_build_result("pass")
    v = r.variant(r.selected or "onnx-fp32")
    row = OodScoreRow("spectral", True, auroc=0.93, unknown_rate=0.83, threshold=-1.97,
                      heldout_accept_rate=0.951, heldout_unknown={"ofdm": 0.819}, chosen=True)
    if bands:
        row.bands = [
            OodBandRow("< -7.5 dB", -1.44, 0.894, 289, 0.886, {"ofdm": 0.385}, "gfsk", 0.615),
            OodBandRow(">= -7.5 dB", -1.97, 0.964, 1203, 0.967, {"ofdm": 0.973}, "chirp", 0.922),
        ]
        row.band_rule = "below -7.5 dB a threshold of its own"
        row.single_heldout_accept_rate, row.single_heldout_unknown = 0.958, {"ofdm": 0.799}
    else:
        row.band_rule = "one threshold: too few captures below -7.5 dB"
    v.ood_report = OodReport("ofdm", ["ofdm"], "rule", "spectral", [row], 1500, 1492, 3000, None)
    return r


def test_markdown_shows_one_row_per_band_and_the_single_threshold_figures() -> None:
    md = render_markdown(_with_bands(True))
    assert "Thresholds per SNR band" in md and "below -7.5 dB a threshold of its own" in md
    assert "| &lt; -7.5 dB | -1.44 | 89.4% | 88.6% | 289 | gfsk 61.5% | ofdm 38.5% |" in md
    assert "unknown ofdm 79.9%" in md and "accepted 95.8%" in md


def test_a_kept_single_threshold_says_why_and_json_carries_the_bands() -> None:
    md = render_markdown(_with_bands(False))
    assert "Thresholds per SNR band" not in md and "one threshold: too few captures" in md
    data = json.loads(render_json(_with_bands(True)))
    v = next(x for x in data["variants"] if x["ood_report"])
    assert [b["band"] for b in v["ood_report"]["rows"][0]["bands"]] == ["< -7.5 dB", ">= -7.5 dB"]
