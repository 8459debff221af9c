from __future__ import annotations

import re
from pathlib import Path

from edgekit.report import render_markdown, write_markdown
from edgekit.results import BuildResult


def _unescape(md: str) -> str:
    """Markdown text as a reader sees it (backslash escapes and entities resolved)."""
    return re.sub(r"\\(.)", r"\1", md).replace("&lt;", "<").replace("&amp;", "&")


def _section(md: str, title: str) -> str:
    start = md.index(f"### {title}")
    end = md.find("\n### ", start + 1)
    return md[start:] if end < 0 else md[start:end]


def _tables(section: str) -> list[list[list[str]]]:
    """Every table in a section: lists of rows (header and separator dropped), cells stripped."""
    tables: list[list[list[str]]] = []
    current: list[str] = []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append([[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in current[2:]])
            current = []
    return tables


def _table_rows(section: str) -> list[list[str]]:
    return _tables(section)[0]


def test_passed_verdict_is_the_first_heading(passed_result: BuildResult) -> None:
    md = render_markdown(passed_result)
    first_heading = next(line for line in md.splitlines() if line.startswith("#"))
    assert md.splitlines()[0] == first_heading
    assert first_heading == "## Build PASSED — ships onnx-int8-static"


def test_rejected_verdict_names_budget_variant_slice_and_excess(
    rejected_result: BuildResult,
) -> None:
    md = render_markdown(rejected_result)
    assert md.splitlines()[0].startswith("## Build REJECTED — ")
    verdict = _unescape(md[: md.index("### Variants")])  # everything above the first table
    line = next(ln for ln in verdict.splitlines() if "max_slice_accuracy_drop" in ln)
    assert "tflite-int8" in line
    assert "limit 5.00 pp" in line and "12.00 pp" in line  # 0.05 and 0.12 as drops
    assert "over by 7.00 pp" in line and "+140%" in line
    assert "snr_db=-10..-5" in line
    latency = next(ln for ln in verdict.splitlines() if "onnx-int8-static" in ln)
    assert "max_latency_p99_ms" in latency and "172 ms" in latency and "over by 22.0 ms" in latency
    # A passing check must not be listed as a failure.
    assert "max_accuracy_drop" not in verdict.replace("max_accuracy_drop_", "")


def test_not_evaluated_is_never_rendered_as_pass(rejected_result: BuildResult) -> None:
    md = render_markdown(rejected_result)
    matrix, problems = _tables(_section(md, "Budget checks"))
    # The second table lists exactly the checks that did not pass, each with its status.
    not_passed = [c for v in rejected_result.variants for c in v.checks if c.status != "pass"]
    assert len(problems) == len(not_passed)
    assert not any("pass" in r[5] for r in problems)
    energy = [r for r in problems if r[1] == "`max_energy_per_inference_mj`"]
    assert len(energy) == 1 and "not evaluated" in energy[0][5]
    # In the matrix the same check reads "not evaluated", never a bare value.
    n_ne = sum(c.status == "not_evaluated" for c in not_passed)
    assert sum(cell.strip("*") == "not evaluated" for row in matrix for cell in row) == n_ne
    # In the variants table the fp16 row says n.e., not a clean pass.
    fp16 = next(r for r in _table_rows(_section(md, "Variants")) if r[0].startswith("onnx-fp16"))
    assert "n.e." in fp16[-1]
    # And the verdict names it as blocking.
    assert "not evaluated" in _unescape(md[: md.index("### Variants")])


def test_skipped_variant_reason_is_shown(passed_result: BuildResult) -> None:
    section = _unescape(_section(render_markdown(passed_result), "Skipped and failed variants"))
    assert "tflite-fp16" in section
    assert "TFLite converter not installed (pip install 'edgekit[tflite]')" in section


def _plant_slices(result: BuildResult) -> None:
    """On the shipped variant: QPSK improves by 5.13 pp, FM drops 30 pp on too few captures."""
    acc = result.variant("onnx-int8-static").accuracy
    assert acc is not None
    acc.min_slice_size = 100
    for s in acc.slices:
        if s.value == "QPSK":
            s.drop, s.accuracy = -0.0513, s.reference_accuracy + 0.0513
        if s.value == "FM":
            s.n, s.drop, s.accuracy = 50, 0.30, s.reference_accuracy - 0.30


def test_slice_lists_each_sorted_by_its_own_key(passed_result: BuildResult) -> None:
    _plant_slices(passed_result)
    section = _unescape(_section(render_markdown(passed_result, worst_n=10), "Slices"))
    assert "onnx-int8-static" in section.splitlines()[0]
    drops, lowest = _tables(section)
    # Positive drops of slices with >= 100 captures: -10..-5 3.1 pp, then eight at 0.4 pp minus
    # QPSK (an improvement) and FM (50 captures), ties by label.
    assert [r[0] for r in drops] == [
        "snr_db=-10..-5", "signal_type=16QAM", "signal_type=AM", "signal_type=BPSK",
        "snr_db=-5..0", "snr_db=0..5", "snr_db=10..20", "snr_db=5..10"]
    assert drops[0][1:] == ["180", "58.9%", "62.0%", "3.10 pp"]
    assert all(not r[4].startswith("-") for r in drops)
    # Accuracy = reference - drop: 0.589, 0.806, 0.856 (16QAM), 0.926 (BPSK), 0.936, 0.9513 (QPSK)
    assert [r[0] for r in lowest[:6]] == [
        "snr_db=-10..-5", "snr_db=-5..0", "signal_type=16QAM", "signal_type=BPSK",
        "snr_db=0..5", "signal_type=QPSK"]
    assert lowest[5][4] == "-5.13 pp"
    assert "signal_type=FM" not in section


def test_slice_lists_respect_worst_n(passed_result: BuildResult) -> None:
    drops, lowest = _tables(_section(render_markdown(passed_result, worst_n=3), "Slices"))
    assert len(drops) == 3 and len(lowest) == 3


def test_energy_quant_ood_provenance_and_warnings(passed_result: BuildResult) -> None:
    passed_result.warnings.append("label <script>alert(1)</script> | pipe")
    md = render_markdown(passed_result)
    variants = _table_rows(_section(md, "Variants"))
    assert variants[1][10] == "1.60 ± 0.128 (estimated)"
    quant = _unescape(_section(md, "Accuracy-aware quantisation"))
    assert "kept 2 node(s) in float (conv_0, fc_logits)" in quant
    assert "+0.400 ms" in quant
    ood = _table_rows(_section(md, 'Out of distribution ("unknown")'))
    assert ood[0][3:5] == ["95.0%", "71.0%"]
    assert "Host: ci-runner-3" in _unescape(md)
    assert "`edgekit bench`" in md
    assert "<script>" not in md and "&lt;script>" in md and "\\| pipe" in md


def test_write_markdown(passed_result: BuildResult, tmp_path: Path) -> None:
    path = write_markdown(passed_result, tmp_path / "report.md")
    assert path.read_text("utf-8") == render_markdown(passed_result)
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_one_unit_per_quantity_and_every_latency_labelled(passed_result: BuildResult) -> None:
    md = _unescape(render_markdown(passed_result))
    assert " abs" not in md  # accuracy drops are pp everywhere, budgets included
    headers = [ln for ln in md.splitlines() if ln.startswith("| ") and "p50 ms" in ln]
    assert len(headers) == 2  # the variants table and the quantisation steps
    assert all("p50 ms (" in h for h in headers)
    assert "p50 ms (preprocessing + inference)" in headers[0]
    assert "p50 ms (model only)" in headers[1]
    assert "Peak MB" not in md and "Peak MiB" in md
    budgets = _table_rows(_section(md, "Budget checks"))
    # tflite-int8's slice drop 0.12 (conftest) is 12.00 pp, as in the slice tables
    row = next(r for r in budgets if r[0] == "tflite-int8")
    assert "**12.00 pp**" in row  # bold: it fails


def test_legend_names_only_marks_that_are_used(passed_result: BuildResult) -> None:
    passed_result.reference = "the input fp32 model under onnxruntime"
    legend = _unescape(_section(render_markdown(passed_result), "Variants")).split("<sub>")[1]
    assert "(ref)" not in legend
    assert "measured against the input fp32 model under onnxruntime" in legend
    assert "★ selected" in legend


def test_provenance_once_per_variant_and_named(passed_result: BuildResult) -> None:
    for v in passed_result.variants:
        if v.energy:
            v.energy.provenance = "estimated; run `edgekit bench` on the board"
    md = render_markdown(passed_result)
    prov = _section(md, "Host and provenance")
    built = [v.name for v in passed_result.variants if v.latency]
    bullets = [ln for ln in prov.splitlines() if ln.startswith("- **")]
    assert [re.match(r"- \*\*(.+?)\*\*", ln)[1] for ln in bullets] == built  # type: ignore[index]
    assert "\\`" not in md  # no literal (escaped) backticks anywhere
    assert "run `edgekit bench` on the board" in prov


def test_noisy_p99_warns_and_a_budget_within_the_noise_is_marginal(
        passed_result: BuildResult) -> None:
    v = passed_result.variant("onnx-int8-static")
    assert v.latency is not None
    v.latency.p50_ms, v.latency.p99_ms = 0.2, 9.0  # p99 = 45 x p50: a loaded host
    check = next(c for c in v.checks if c.budget == "max_latency_p99_ms")
    check.limit, check.value, check.status = 10.0, 9.0, "pass"  # 1 ms room, 8.8 ms of noise
    md = _unescape(render_markdown(passed_result))
    variants = _section(md, "Variants")
    assert "Host interference" in variants and "onnx-int8-static 0.200 → 9.00 ms" in variants
    row = next(r for r in _table_rows(_section(md, "Budget checks")) if r[0] == "onnx-int8-static")
    assert "**9.00 ms (pass, marginal)**" in row
    verdict = md[: md.index("### Variants")]
    assert "max_latency_p99_ms" in verdict and "marginal" in verdict and "8.80 ms" in verdict


def test_quiet_p99_is_neither_noisy_nor_marginal(passed_result: BuildResult) -> None:
    md = _unescape(render_markdown(passed_result))  # conftest p99 <= 2 x p50, limits far away
    assert "Host interference" not in md and "marginal" not in md


def test_interference_seen_by_the_profiler_warns_even_with_a_short_tail(
        passed_result: BuildResult) -> None:
    """p99 below 3 x p50 but the profiler found descheduled runs: the recorded sign counts."""
    v = passed_result.variant("onnx-int8-static")
    assert v.latency is not None
    v.latency.p50_ms, v.latency.p99_ms = 0.2, 0.5
    v.latency.interference = ["runs descheduled (wall time well above CPU time) in more than 1% "
                              "of runs (onnx-int8-static 4%)"]
    v.latency.attempt = 2
    variants = _section(_unescape(render_markdown(passed_result)), "Variants")
    assert "Host interference:" in variants and "**Host interference: **" not in variants
    assert "onnx-int8-static 0.200 → 0.500 ms" in variants
    assert "still after timing 2 times" in variants


def test_the_logs_are_named_under_provenance(passed_result: BuildResult) -> None:
    passed_result.logs = ["logs/runtime.log", "variants/tflite-fp32.convert.log"]
    prov = _section(_unescape(render_markdown(passed_result)), "Host and provenance")
    assert "`logs/runtime.log`" in prov and "`variants/tflite-fp32.convert.log`" in prov
    assert "--verbose" in prov
    passed_result.logs = []
    assert "Logs" not in _section(_unescape(render_markdown(passed_result)), "Host and provenance")


def test_ampersands_stay_readable_unless_they_would_start_an_entity() -> None:
    from edgekit.report.markdown import _plain

    # a data source as users write it: the raw file reads as typed
    assert _plain("synthetic:rf?n=300&seed=202") == "synthetic:rf?n=300&seed=202"
    # text that would render as '<' or a numeric reference is escaped so it shows as typed
    assert _plain("a &lt; b &#60; c & d") == "a &amp;lt; b &amp;\\#60; c & d"
    assert _plain("<script>") == "&lt;script>"
