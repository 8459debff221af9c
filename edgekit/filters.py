"""Row filters on metadata, as a stakeholder writes them: ``snr_db < 0 and class = "bpsk"``.

Used by ``[[scenarios]]``. The grammar is deliberately tiny, clauses joined by ``and``:

    clause := COLUMN OP VALUE | COLUMN in [VALUE, ...]
    OP     := < | <= | > | >= | = | == | !=
    VALUE  := a number | "text" | 'text' | true | false

:func:`parse_filter` checks the syntax when the config is read (before any work);
:meth:`Filter.check` checks columns and types against the data when it is loaded; both raise
:class:`FilterError` with one line naming the problem. No ``eval``: the text is never code.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Clause", "Filter", "FilterError", "parse_filter"]

Value = float | str | bool

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<str>"[^"]*"|'[^']*')
      | (?P<op><=|>=|==|!=|<|>|=)
      | (?P<punct>[\[\],])
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_OPS: dict[str, Callable[[np.ndarray, Value], np.ndarray]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
}
_ORDERING = ("<", "<=", ">", ">=")


class FilterError(ValueError):
    """A filter that cannot be parsed or does not fit the data (one line)."""


@dataclass(frozen=True)
class Clause:
    """``column op value``; ``op == "in"`` takes a tuple of values."""

    column: str
    op: str
    values: tuple[Value, ...]

    def __str__(self) -> str:
        shown = [repr(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else f"{v:g}"
                 for v in self.values]  # fmt: skip
        rhs = f"[{', '.join(shown)}]" if self.op == "in" else shown[0]
        return f"{self.column} {self.op} {rhs}"

    def mask(self, column: np.ndarray) -> np.ndarray:
        col = np.asarray(column)
        if self.op == "in":
            return np.isin(col, np.asarray(self.values, dtype=col.dtype))
        value = self.values[0]
        out = _OPS[self.op](col.astype(np.float64) if col.dtype.kind in "iuf" else col, value)
        return np.asarray(out, dtype=bool)


@dataclass(frozen=True)
class Filter:
    """Clauses joined by ``and``."""

    text: str
    clauses: tuple[Clause, ...]

    def check(self, meta: Mapping[str, np.ndarray]) -> None:
        """Every column exists, and every value has the column's type."""
        for c in self.clauses:
            if c.column not in meta:
                have = ", ".join(sorted(meta)) or "none"
                raise FilterError(f"{c.column!r} is not a metadata column (the data has: {have})")
            kind = np.asarray(meta[c.column]).dtype.kind
            for v in c.values:
                if kind == "b" and not isinstance(v, bool):
                    raise FilterError(f"{c.column!r} is true/false; compare it with true or false, not {v!r}")
                if kind in "iuf" and (isinstance(v, str | bool)):
                    raise FilterError(f"{c.column!r} is numeric; compare it with a number, not {v!r}")
                if kind in "US" and not isinstance(v, str):
                    raise FilterError(f"{c.column!r} holds text; compare it with a quoted string, not {v!r}")
            if kind not in "iuf" and c.op in _ORDERING:
                raise FilterError(f"{c.column!r} is not numeric; {c.op!r} needs a numeric column (use =, in)")

    def mask(
        self, meta: Mapping[str, np.ndarray], keep: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[str, int]]]:
        """The rows of ``keep`` every clause selects, and how many of ``keep`` each clause alone
        selects (to say why a filter selects nothing)."""
        out = np.asarray(keep, dtype=bool).copy()
        counts = []
        for c in self.clauses:
            m = c.mask(meta[c.column])
            counts.append((str(c), int((m & keep).sum())))
            out &= m
        return out, counts


def _value(kind: str, text: str) -> Value:
    if kind == "num":
        return float(text)
    if kind == "str":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    raise FilterError(f"expected a number, a quoted string, true or false, got {text!r}")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterError(f"cannot read {text[pos:].strip()[:20]!r} at character {pos + 1}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_filter(text: str) -> Filter:
    """Parse ``text`` (see the module docstring); raises :class:`FilterError`."""
    toks = _tokens(text)
    if not toks:
        raise FilterError('empty filter; write clauses such as snr_db < 0 and class = "bpsk"')
    clauses: list[Clause] = []
    i = 0

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(toks):
            raise FilterError(f"filter ends early after {' '.join(t for _, t in toks)!r}")
        i += 1
        return toks[i - 1]

    while True:
        kind, col = take()
        if kind != "name" or col in ("and", "in", "true", "false"):
            raise FilterError(f"expected a column name, got {col!r}")
        kind, op = take()
        if kind == "op":
            vkind, vtext = take()
            values: tuple[Value, ...] = (_value(vkind, vtext),)
        elif kind == "name" and op == "in":
            if take() != ("punct", "["):
                raise FilterError(f"expected '[' after {col} in")
            items: list[Value] = []
            while True:
                vkind, vtext = take()
                items.append(_value(vkind, vtext))
                sep = take()
                if sep == ("punct", "]"):
                    break
                if sep != ("punct", ","):
                    raise FilterError(f"expected ',' or ']' in the list of {col}, got {sep[1]!r}")
            values, op = tuple(items), "in"
        else:
            raise FilterError(f"expected an operator (< <= > >= = != in) after {col!r}, got {op!r}")
        clauses.append(Clause(col, op, values))
        if i == len(toks):
            return Filter(text, tuple(clauses))
        kind, word = take()
        if (kind, word) != ("name", "and"):
            raise FilterError(f"expected 'and' between clauses, got {word!r} (only 'and' joins clauses)")
