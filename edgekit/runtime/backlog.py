"""Per-capture figures appended by the daemon's loop and applied later, in one place.

At 2 Hz the loop's Python runs with cold caches: a prometheus-client call or a counter update
per result costs several times an append (bench/README.md, bench_daemon). The metrics and the
status board therefore queue what each announced result changes and apply it when somebody
reads them (a scrape, ``/status``) or every ``FOLD_EVERY`` items, so the queue stays bounded
when nobody reads.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["FOLD_EVERY", "Backlog"]

FOLD_EVERY = 256  # a backlog is applied at the latest after this many items

T = TypeVar("T")


class Backlog(Generic[T]):
    """Items added by one thread (the loop), applied in order by ``fold`` from any thread.

    Deque appends and pops are atomic; the lock only keeps two readers from folding at once."""

    def __init__(self, apply: Callable[[T], None], every: int = FOLD_EVERY) -> None:
        self._items: deque[T] = deque()
        self._apply = apply
        self._every = every
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> None:
        self._items.append(item)
        if len(self._items) >= self._every:  # nobody reads: keep the backlog bounded
            self.fold()

    def fold(self) -> None:
        """Apply every queued item, oldest first."""
        with self._lock:
            items, apply = self._items, self._apply
            while items:
                apply(items.popleft())
