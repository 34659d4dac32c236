"""The kernel's lifetime timers: a heap of (when, kind, id) the clock fires in order."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator


class Timers:
    """Due times of SA ("sa", SA id) and policy ("sp", policy index) lifetimes; stale entries are harmless
    (the owner re-checks the record when one fires)."""

    def __init__(self) -> None:
        self.heap: list[tuple[int, int, str, int]] = []
        self._order = itertools.count()

    def push(self, when: int, kind: str, ident: int) -> None:
        """Fire ``(kind, ident)`` at ``when`` (seconds since the epoch)."""
        heapq.heappush(self.heap, (when, next(self._order), kind, ident))

    def next(self) -> int | None:
        """When the next timer is due, or None."""
        return self.heap[0][0] if self.heap else None

    def due(self, now: int) -> Iterator[tuple[str, int]]:
        """Pop every timer due at ``now`` (timers pushed while iterating fire too if due)."""
        while self.heap and self.heap[0][0] <= now:
            _when, _n, kind, ident = heapq.heappop(self.heap)
            yield kind, ident
