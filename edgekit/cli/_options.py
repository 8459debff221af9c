"""Option parsing shared by several commands."""

from __future__ import annotations

import math

from edgekit.data.synth import ALL_CLASSES
from edgekit.errors import UsageError

__all__ = ["check_number", "parse_classes"]


def check_number(
    option: str,
    value: float | None,
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
    what: str = "",
) -> None:
    """Refuse ``value`` of ``option`` unless finite and in range; ``None`` (not given) passes.

    click accepts ``nan``, ``inf`` and any sign for a float option, and a zero or negative count
    for an int one; values where a rate, a duration or a count means nothing are a usage error
    here, before any work, rather than a run that ends "not measured"."""
    if value is None:
        return
    ok = math.isfinite(value)
    ok = ok and (above is None or value > above) and (at_least is None or value >= at_least)
    ok = ok and (at_most is None or value <= at_most)
    if not ok:
        need = [f"> {above:g}" if above is not None else "", f">= {at_least:g}" if at_least is not None
                else "", f"<= {at_most:g}" if at_most is not None else ""]  # fmt: skip
        rule = " and ".join(n for n in need if n)
        raise UsageError(
            f"{option}: must be a finite number {rule}{' (' + what + ')' if what else ''}, got {value:g}"
        )


def parse_classes(text: str) -> tuple[str, ...]:
    """A comma-separated ``--classes`` list: known signal classes, each once."""
    names = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in names if c not in ALL_CLASSES]
    if unknown or not names:
        raise UsageError(
            f"--classes: unknown class(es) {', '.join(unknown) or '(none given)'}; "
            f"accepted: {', '.join(ALL_CLASSES)}"
        )
    if len(set(names)) != len(names):
        raise UsageError(f"--classes: {text!r} repeats a class")
    return names
