"""Option parsing shared by several commands."""

from __future__ import annotations

from edgekit.data.synth import ALL_CLASSES
from edgekit.errors import UsageError

__all__ = ["parse_classes"]


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
