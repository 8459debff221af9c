"""The report sections on "I don't know" and calibrated confidences: every OOD score of every
variant with its AUROC, the share called unknown on the data it was chosen on and on held-out
data, its cost, the input guard; and temperature scaling with ECE before and after.
Renderer-neutral, like ``_view``'s sections."""

from __future__ import annotations

from edgekit.report._view import Block, Bullets, Cell, Para, Section, Table, b, fmt_num, fmt_pct, rich
from edgekit.results import BuildResult, OodReport, VariantResult

__all__ = ["calibration_section", "ood_scores_section", "ood_sections"]


def _opt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _rows(v: VariantResult, rep: OodReport) -> list[list[Cell]]:
    out = []
    for r in rep.rows:
        held = ", ".join(f"{k} {fmt_pct(x)}" for k, x in r.heldout_unknown.items()) or "—"
        out.append([
            Cell(rich(v.name)),
            Cell(rich(b(r.score) if r.chosen else r.score)),
            Cell(rich(_opt(r.auroc))),
            Cell(rich(fmt_pct(r.unknown_rate) if r.unknown_rate is not None else "—")),
            Cell(rich(fmt_pct(r.heldout_accept_rate) if r.heldout_accept_rate is not None else "—")),
            Cell(rich(held if r.available else r.note)),
            Cell(rich("—" if r.latency_us is None else f"{r.latency_us:.0f}")),
            Cell(rich(f"{r.memory_bytes / 1024:.0f}")),
        ])
    return out


def ood_scores_section(r: BuildResult) -> Section | None:
    """None when no variant went through the ood stage."""
    measured = [v for v in r.variants if v.ood_report is not None]
    if not measured:
        return None
    first = measured[0].ood_report
    if first is None:  # filtered above; narrows the type
        return None
    fams = ", ".join(first.heldout_families) or "none"
    rows = [row for v in measured if v.ood_report for row in _rows(v, v.ood_report)]
    blocks: list[Block] = [
        Para(rich(
            "Each score's threshold accepts the target share of in-distribution captures on the ",
            b("choice half"), f" of the evaluation data (even rows, {first.n_choice_in_distribution}"
            f" in-distribution); AUROC and \"unknown\" are measured there on {first.choice_family}. ",
            b("Held out"), f": the odd rows ({first.n_heldout_in_distribution} in-distribution), "
            f"never used for a threshold or the choice, for every OOD family ({fams}). Feature "
            f"statistics and temperature are fitted on {first.n_fit} in-distribution calibration "
            "captures. Latency: numpy scoring of one capture on this host (shared), median of 50; "
            "memory: the statistics the score keeps.")),
        Table(["Variant", "Score", "AUROC", f"{first.choice_family} unknown (choice)",
               "In-dist. accepted (held out)", "Unknown (held out)", "Score µs", "Memory KiB"],
              rows, [False, False, True, True, True, False, True, True]),
        Para(rich(b("Rule: "), first.rule, ". Chosen per variant, in bold; ",
                  "penultimate features: ", first.features or "none", ".")),
    ]
    blocks.extend(_band_blocks(measured))
    if first.guard:
        caught = [rich(f"{k}: {fmt_pct(x)} refused") for k, x in first.guard.items()]
        caught.append(rich("in-distribution evaluation captures refused: "
                           + fmt_pct(first.guard_false_reject_rate)))
        blocks.append(Para(rich(b("Input guard"), " (in front of every score; bounds from the "
                                "calibration captures' RMS, in the manifest's ood.input_guard):")))
        blocks.append(Bullets(caught))
    return Section("ood-scores", "OOD scores, chosen by measurement", blocks)


def _band_blocks(measured: list[VariantResult]) -> list[Block]:
    """The chosen score per band of the blind SNR estimate (``ood.low_snr_db``), when split."""
    rows: list[list[Cell]] = []
    notes: list[str] = []
    for v in measured:
        chosen = next((r for r in (v.ood_report.rows if v.ood_report else []) if r.chosen), None)
        if chosen is None:
            continue
        if chosen.band_rule and not chosen.bands:
            notes.append(f"{v.name}: {chosen.band_rule}")
        for band in chosen.bands:
            fams = ", ".join(f"{k} {fmt_pct(x)}" for k, x in band.heldout_unknown.items()) or "—"
            worst = (f"{band.heldout_worst_class} {fmt_pct(band.heldout_worst_class_accept)}"
                     if band.heldout_worst_class else "—")
            rows.append([Cell(rich(v.name)), Cell(rich(band.band)),
                         Cell(rich(fmt_num(band.threshold))),
                         Cell(rich(fmt_pct(band.choice_accept_rate))),
                         Cell(rich(fmt_pct(band.heldout_accept_rate))),
                         Cell(rich(str(band.n_heldout_in_distribution))), Cell(rich(worst)),
                         Cell(rich(fams))])
    if not rows:
        return [Para(rich(b("Per SNR band: "), "; ".join(notes), "."))] if notes else []
    first = next(r for v in measured for r in (v.ood_report.rows if v.ood_report else [])
                 if r.chosen and r.bands)
    single = ", ".join(f"{k} {fmt_pct(x)}" for k, x in first.single_heldout_unknown.items())
    return [
        Para(rich(b("Thresholds per SNR band"), " (the capture's blind SNR estimate; manifest "
                  "ood.band_thresholds): ", first.band_rule, ". With one threshold the held-out "
                  f"half would read: in-distribution accepted "
                  f"{fmt_pct(first.single_heldout_accept_rate)}, unknown {single or '—'}; the "
                  "table above gives the split's.")),
        Table(["Variant", "SNR band", "Threshold", "In-dist. accepted (choice)",
               "In-dist. accepted (held out)", "n (held out)", "Worst class accepted (held out)",
               "Unknown (held out)"], rows, [False, False, True, True, True, True, False, False]),
        *([Para(rich("; ".join(notes)))] if notes else []),
    ]


def calibration_section(r: BuildResult) -> Section | None:
    """Temperature and ECE per variant; None without temperature scaling."""
    cal = [v for v in r.variants if v.calibration is not None]
    if not cal:
        return None
    rows = []
    for v in cal:
        c = v.calibration
        if c is None:  # filtered above; narrows the type
            continue
        rows.append([Cell(rich(v.name)), Cell(rich(fmt_num(c.temperature))),
                     Cell(rich(_opt(c.ece_before, 4))), Cell(rich(_opt(c.ece_after, 4))),
                     Cell(rich(str(c.n_fit))), Cell(rich(str(c.n_eval)))])
    return Section("calibration", "Calibrated confidences (temperature scaling)", [
        Para(rich("Temperature T fitted on the in-distribution calibration captures (negative "
                  "log-likelihood); expected calibration error (15 equal-width bins) on the "
                  "in-distribution evaluation captures, before and after dividing the logits by "
                  "T. The daemon applies the shipped variant's T to every confidence.")),
        Table(["Variant", "T", "ECE before", "ECE after", "n fit", "n evaluated"], rows,
              [False, True, True, True, True, True]),
    ])


def ood_sections(r: BuildResult) -> list[Section]:
    return [s for s in (ood_scores_section(r), calibration_section(r)) if s is not None]
