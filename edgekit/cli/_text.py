"""User-controlled text made safe for rich output.

rich reads ``[...]`` as markup: a model input shaped ``[batch, 6, 1024]`` printed as-is vanishes,
and ``[/x]`` in a path or label raises ``MarkupError`` after the work is done. Every string that
comes from a user (paths, names, labels, shapes, reasons) goes through :func:`esc` before it
reaches ``Console.print`` or a ``Table`` cell; control characters are shown escaped and
undecodable file-name bytes as ``\\udcXX`` so they cannot break the terminal or the encoder.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

__all__ = ["esc", "printable"]


def printable(value: Any) -> str:
    """``str(value)`` with control characters and lone surrogates written as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))


def esc(value: Any) -> str:
    """``value`` as text rich prints literally (markup escaped, control characters visible)."""
    return escape(printable(value))
