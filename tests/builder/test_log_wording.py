"""The build log's wording: counts in English, band thresholds as a short table, not a dict."""

from __future__ import annotations

import importlib
import inspect

from edgekit.builder.stages.context import count, fmt_bands
from edgekit.signals.bands import BandThresholds


def test_counts_are_singular_for_one() -> None:
    assert count(1, "variant") == "1 variant"
    assert count(0, "variant") == "0 variants"
    assert count(3, "reference model") == "3 reference models"


def test_band_thresholds_read_as_a_short_table() -> None:
    b = BandThresholds(edges_db=(5.0,), thresholds=(0.51234567891234567, 0.40123456789012345))
    assert fmt_bands(b.edges_db, b.thresholds) == "SNR < 5 dB: 0.5123; >= 5 dB: 0.4012"
    three = fmt_bands((-3.5, 8.0), (0.9, 0.8, 0.7))
    assert three == "SNR < -3.5 dB: 0.9; -3.5 to 8 dB: 0.8; >= 8 dB: 0.7"
    assert "{" not in three and "snr_edges_db" not in three


def test_the_stage_lines_name_what_each_calibration_count_is() -> None:
    load = importlib.import_module("edgekit.builder.stages.load")  # the module, not the stage
    ood = importlib.import_module("edgekit.builder.stages.ood")
    # the [load] count is the int8 set, the [ood] one the captures of model.labels it fits on
    assert "int8 calibration: " in inspect.getsource(load)
    assert "captures of model.labels in data.calibration" in inspect.getsource(ood)
    assert "thresholds per SNR band {bands.to_manifest()}" not in inspect.getsource(ood)
