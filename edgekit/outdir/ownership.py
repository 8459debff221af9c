"""Which folders a run of edgekit may replace: the ownership rule and its markers.

A run may write a new path, an empty folder, or a folder that holds ``.edgekit-output`` (a JSON
marker naming the command that wrote it and every entry it wrote) and nothing else. Everything
here only reads: a refusal changes nothing.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError

__all__ = [
    "ACCEPTED",
    "MARKER",
    "STORE_MARKER",
    "Protected",
    "check_name",
    "check_output",
    "check_store",
    "entries",
    "foreign_entries",
    "inspect_output",
    "read_marker",
    "refuse",
    "store_path",
]

MARKER = ".edgekit-output"
"""The file inside an output folder that proves edgekit wrote it and lists what it wrote."""
STORE_MARKER = ".edgekit-store"
"""The file inside ``.NAME.edgekit/`` (lock and work space) that proves edgekit made it."""
ACCEPTED = "accepted: a new path, an empty folder, or a folder edgekit wrote (it holds .edgekit-output)"

Protected = Iterable[tuple[str, str | os.PathLike[str]]]
"""Inputs of a run, each with a label (``("model", path)``): no output folder may hold one."""


def check_name(value: str, what: str) -> str:
    """``value`` if it can be one path component (a folder or file name), else a ``UsageError``.

    Names such as ``model.name`` become ``out/NAME`` and ``NAME.bundle.tar.gz``: a separator,
    ``..`` or NUL there would write outside the output folder or wipe its parent.
    """
    if not value.strip() or value.strip() in (".", "..") or any(c in value for c in "/\\\0"):
        raise UsageError(
            f"{what}: {value!r} cannot name a folder; accepted: a plain name without '/', '\\' "
            "or NUL, not '.', '..' or blank"
        )
    return value


def store_path(target: Path) -> Path:
    """The hidden sibling that holds the lock and the runs of ``target``."""
    return target.parent / f".{target.name}.edgekit"


def _target(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with its parent's symlinks resolved (the last part is judged as is)."""
    p = Path(path)
    # "." and ".." name the folder itself; otherwise the last part may be a symlink to judge
    p = p.resolve() if p.name in ("", ".", "..") else p.parent.resolve() / p.name
    if p.name == "":
        raise UsageError(f"output folder {path}: the root folder cannot be an output; {ACCEPTED}")
    return p


def refuse(shown: str, why: str, *, owned_rule: bool = True) -> UsageError:
    """One line naming the folder and why; the ownership rule is recalled where it applies."""
    return UsageError(f"output folder {shown}: {why}" + (f"; {ACCEPTED}" if owned_rule else ""))


def entries(folder: Path) -> list[str]:
    """Every entry under ``folder`` relative to it, folders with a trailing '/', sorted."""
    out: list[str] = []

    def walk(d: Path, prefix: str) -> None:
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    out.append(prefix + e.name + "/")
                    walk(Path(e.path), prefix + e.name + "/")
                else:
                    out.append(prefix + e.name)

    walk(folder, "")
    return sorted(x for x in out if x != MARKER)


def read_marker(path: Path) -> dict[str, Any] | None:
    """The output marker at ``path`` if it is one edgekit wrote, else None."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > (16 << 20):
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("edgekit_output") != 1:
        return None
    if not isinstance(data.get("entries"), list) or not isinstance(data.get("kind"), str):
        return None
    return data


def foreign_entries(folder: Path, marker: dict[str, Any]) -> list[str]:
    """Entries of ``folder`` its marker does not list (what edgekit did not write)."""
    listed = set(marker["entries"])
    return [e for e in entries(folder) if e not in listed]


def inspect_output(target: Path, kind: str, shown: str) -> str:
    """``"absent"``, ``"empty"`` or ``"owned"`` (an output of ``kind`` edgekit wrote); else refuse."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return "absent"
    except OSError as e:
        raise refuse(shown, f"cannot be examined ({e.strerror})") from e
    if stat.S_ISLNK(st.st_mode):
        raise refuse(shown, "is a symlink (edgekit replaces only folders it wrote)")
    if not stat.S_ISDIR(st.st_mode):
        raise refuse(shown, "is a file, not a folder")
    try:
        names = sorted(os.listdir(target))
    except OSError as e:
        raise refuse(shown, f"cannot be listed ({e.strerror})") from e
    if not names:
        return "empty"
    marker = read_marker(target / MARKER)
    if marker is None:
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        raise refuse(shown, f"holds {', '.join(names[:3])}{more} and no {MARKER}: edgekit did not write it")
    if marker["kind"] != kind:
        raise refuse(shown, f"was written by `edgekit {marker['kind']}`, not `edgekit {kind}`")
    try:
        foreign = foreign_entries(target, marker)
    except OSError as e:
        raise refuse(shown, f"cannot be listed ({e.strerror})") from e
    if foreign:
        raise refuse(shown, f"holds {foreign[0]}, which edgekit did not write")
    return "owned"


def _check_protected(target: Path, shown: str, protect: Protected) -> None:
    store = store_path(target)
    for what, p in protect:
        real = Path(p).resolve()
        for folder in (target, store):
            if real == folder or folder in real.parents:
                how = "is" if real == target else "contains"  # `--out edgekit.toml` is no folder
                raise refuse(shown, f"{how} the {what} {p}, which a new output would delete")


def check_store(store: Path, shown: str) -> None:
    """Refuse a store path that exists and is not edgekit's (its marker, or an empty folder)."""
    try:
        st = os.lstat(store)
    except FileNotFoundError:
        return
    except OSError as e:
        raise refuse(shown, f"its store {store} cannot be examined ({e.strerror})") from e
    if not stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
        raise refuse(shown, f"{store} exists and is not edgekit's store folder")
    if not (store / STORE_MARKER).is_file() and os.listdir(store):
        raise refuse(shown, f"{store} exists without {STORE_MARKER}: it is not edgekit's")


def check_output(
    path: str | os.PathLike[str], *, kind: str, protect: Protected = ()
) -> Path:
    """Refuse ``path`` as an output folder of ``kind`` unless a run may write it; changes nothing.

    Returns the absolute target. ``protect`` pairs a label with each input of the run (config,
    model, data, bundle): a folder that is or contains one is refused.
    """
    shown = str(path)
    target = _target(path)
    protect = list(protect)
    _check_protected(target, shown, protect)
    inspect_output(target, kind, shown)
    check_store(store_path(target), shown)
    return target


