"""The emulator's stable path (``--symlink``): a link to its pty that it alone places and removes.

The emulator replaces only what cannot be anyone's data: a missing path, a dangling symlink
(the link of an emulator that was killed, whose pty is gone), or the link it placed itself
(known by the pty path it points to). A regular file, a folder or a live symlink of someone else
is refused with one line. A new link is created with ``symlink()``, which never replaces
anything; a link is swapped with ``rename()`` of a fresh link, after a last check.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Collection
from pathlib import Path

from edgekit.errors import UsageError

__all__ = ["check_link_path", "place_link", "remove_link"]

_ACCEPTED = "accepted: a new path, a dangling symlink, or the emulator's own link"


def check_link_path(path: Path, ours: Collection[str] = ()) -> None:
    """Refuse ``path`` unless it is missing, a dangling symlink, or a link to one of ``ours``."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise UsageError(f"symlink path {path}: cannot be examined ({e.strerror})") from e
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        if target in ours or not os.path.exists(path):
            return
        raise UsageError(f"symlink path {path}: is a live symlink to {target} that the emulator "
                         f"did not make; {_ACCEPTED}")
    what = "a folder" if stat.S_ISDIR(st.st_mode) else "a file"
    raise UsageError(f"symlink path {path}: is {what}, which the emulator would replace; {_ACCEPTED}")


def place_link(path: Path, target: str, ours: Collection[str] = ()) -> None:
    """Point ``path`` at ``target`` if :func:`check_link_path` allows it; never over anything else."""
    check_link_path(path, ours)
    try:
        os.symlink(target, path)  # fails if anything is there: nothing is replaced
        return
    except FileExistsError:
        pass  # a dangling link or our own: swap it below
    except OSError as e:
        raise UsageError(f"symlink path {path}: cannot be created ({e.strerror})") from e
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(3)}.new")
    try:
        os.symlink(target, tmp)
    except OSError as e:
        raise UsageError(f"symlink path {path}: cannot be replaced ({e.strerror})") from e
    try:
        check_link_path(path, ours)  # last look right before the swap
        os.replace(tmp, path)
    except OSError as e:
        raise UsageError(f"symlink path {path}: cannot be replaced ({e.strerror})") from e
    finally:
        remove_link(tmp, target)  # ours, and still there unless the swap happened


def remove_link(path: Path, target: str) -> bool:
    """Remove ``path`` if it is still a symlink to ``target``; True if it was removed."""
    if not target:
        return False
    with contextlib.suppress(OSError):
        if os.readlink(path) == target:
            os.unlink(path)
            return True
    return False
