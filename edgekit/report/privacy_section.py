"""The report section for an auditor: the membership-inference audit of every variant.

What was tested, by which attack, on how many members and non-members, the figures with their
intervals, whether quantisation changed them, and what they mean and do not mean.
Renderer-neutral, like ``_view``'s sections.
"""

from __future__ import annotations

from edgekit.report._view import Bullets, Cell, Para, Section, Table, code, fmt_pct, rich
from edgekit.results import BuildResult, MembershipAttack, VariantResult

__all__ = ["privacy_section"]


def _ci(point: float, ci: tuple[float | None, float | None], pct: bool = False, note: str = "") -> str:
    if ci[0] is None or ci[1] is None:  # no resamples drawn: never a zero-width interval
        return f"{point * 100:.1f} % {note}" if pct else f"{point:.3f} {note or 'no interval'}"
    if pct:
        return f"{point * 100:.1f} % [{ci[0] * 100:.1f}, {ci[1] * 100:.1f}]"
    return f"{point:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _change(a: MembershipAttack, ref: VariantResult | None, v: VariantResult) -> str:
    """Whether the variant's advantage differs from the fp32 reference beyond both intervals."""
    if ref is None or ref is v or ref.privacy is None:
        return "—"
    match = [r for r in ref.privacy.attacks if r.attack == a.attack]
    if not match:
        return "—"
    r = match[0]
    delta = a.advantage - r.advantage
    overlap = a.advantage_ci[0] <= r.advantage_ci[1] and r.advantage_ci[0] <= a.advantage_ci[1]
    return f"{delta:+.3f}" + (" (within the intervals)" if overlap else " (intervals disjoint)")


def _hygiene(audited: list[VariantResult]) -> list[Para | Bullets]:
    """What was stripped from each variant file before hashing, and what was found and kept."""
    removed = [
        rich(f"{v.name} ({v.path}): removed {line}")
        for v in audited if v.privacy for line in v.privacy.removed
    ]
    kept = [
        rich(f"{v.name} ({v.path}): {line}") for v in audited if v.privacy for line in v.privacy.hygiene
    ]
    blocks: list[Para | Bullets] = [
        Para(rich(
            "Artifact hygiene, before the bundle is hashed and signed: doc strings, metadata "
            "properties and producer text from the training environment are stripped from every "
            "ONNX file (unless [privacy] keep_metadata), and initializers holding member rows "
            "(memorised inputs) are stripped when the graph does not read them; compiled-tree "
            "libraries lose their compiler identification, static symbols and unloaded sections "
            "naming the build environment (they hold thresholds, not rows: not scanned for member "
            "rows); a file is rewritten only when its outputs on validation rows stay "
            "bit-identical."
        ))
    ]
    if removed:
        blocks.append(Bullets(removed))
    else:
        blocks.append(Para(rich("Nothing was removed: no file carried such text or tensors.")))
    if kept:
        blocks.append(Para(rich("Found and kept (the file needs it, or it was not scanned):")))
        blocks.append(Bullets(kept, "ne"))
    return blocks


def privacy_section(r: BuildResult) -> Section | None:
    """None when no variant was audited (no ``[privacy]`` data)."""
    audited = [v for v in r.variants if v.privacy is not None]
    if not audited:
        return None
    ref = next((v for v in audited if v.name == "onnx-fp32"), None)
    first = audited[0].privacy
    if first is None:
        return None
    if not first.attacks:  # hygiene only: no member data to attack with
        return Section(
            "privacy",
            "Privacy: artifact hygiene",
            [Para(rich("No [privacy] members: the membership-inference audit did not run and the "
                       "membership budgets are not evaluated.")), *_hygiene(audited)],
        )
    methods = {a.attack: a.method for v in audited for a in (v.privacy.attacks if v.privacy else [])}
    rows = []
    for v in audited:
        for a in v.privacy.attacks if v.privacy else []:
            rows.append(
                [
                    Cell(rich(v.name)),
                    Cell(rich(a.attack)),
                    Cell(rich(f"{a.n_members} / {a.n_non_members}")),
                    Cell(rich(_ci(a.auc, a.auc_ci, note=a.auc_ci_note))),
                    Cell(rich(_ci(a.advantage, a.advantage_ci))),
                    Cell(rich(_ci(a.tpr_at_1pct_fpr, a.tpr_at_1pct_fpr_ci, pct=True))),
                    Cell(rich(_ci(a.tpr_at_01pct_fpr, a.tpr_at_01pct_fpr_ci, pct=True))),
                    Cell(rich(_change(a, ref, v))),
                ]
            )
    tested = rich(
        "Could someone holding the model file tell whether a given capture was in its training "
        "set? Members: ",
        code(first.members),
        "; non-members (same distribution, never trained on): ",
        code(first.non_members),
        f". {first.provenance}. Each attack scores every capture from the model's outputs only "
        "and is judged over all its thresholds.",
    )
    meaning = [
        rich("AUC 0.5 and advantage 0 are what guessing achieves; advantage is the largest "
             "TPR - FPR over thresholds (an attacker's edge over a coin)."),
        rich(f"TPR at 1 % / 0.1 % FPR: the share of members recognised while wrongly flagging at "
             f"most 1 % / 0.1 % of non-members. With {first.attacks[0].n_non_members} non-members, "
             f"0.1 % FPR rests on {first.attacks[0].n_non_members // 1000} false positive(s): "
             "read it as an order of magnitude."),
        rich("Change vs onnx-fp32: the variant's advantage minus the fp32 model's, same attack; "
             "within the intervals means quantisation made no difference this test can see."),
        rich("This is an empirical test of these attacks on this data, an upper-bounded view of "
             "what they achieve, not a proof of privacy: a stronger attack (more reference "
             "models, white-box access, other data) may do better. A low figure here does not "
             "show that no training capture can be recovered."),
    ]
    return Section(
        "privacy",
        "Privacy: membership inference",
        [
            Para(tested),
            Bullets([rich(f"{k}: {m}") for k, m in methods.items()]),
            Table(
                ["Variant", "Attack", "Members / non", "ROC AUC [95 %]", "Advantage [95 %]",
                 "TPR @ 1 % FPR", "TPR @ 0.1 % FPR", "Change vs onnx-fp32"],
                rows,
                [False, False, True, True, True, True, True, False],
            ),
            Bullets(meaning),
            *_hygiene(audited),
            Para(rich(f"Intervals ({fmt_pct(first.attacks[0].confidence, 0)}): AUC by "
                      f"{first.attacks[0].bootstrap} bootstrap resamples (percentile); advantage "
                      "by the DKW band of both score distributions (distribution-free, "
                      "conservative); TPR at low FPR by order statistics and Clopper-Pearson "
                      "bounds (exact, wide when few non-members are flagged at that rate)."),
                 note=True),
        ],
    )
