"""The simulated clock (D12): whole seconds from 0 and a priority queue of
internal steps.

Processing up to time t applies every step due at or before t, earliest
first; at equal times instance steps come before run steps, instances by id,
and steps of one actor in the order they were scheduled. With section 9's
switch (TD6) two kinds come between them: a version becoming eligible
(ascending version), then the end of the first-rollout delay. Nothing sleeps.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

INSTANCE_STEP = 0  # D12: instance steps first ...
ELIGIBILITY_STEP = 1  # TD6: then versions becoming eligible (ascending version) ...
ROLLOUT_STEP = 2  # TD6: then the end of the first-rollout delay ...
RUN_STEP = 3  # ... then run steps


class Clock:
    """D12: a heap of (time, class, actor id, sequence, step, argument): the
    earliest first, instance steps before run steps, by id, then FIFO."""

    __slots__ = ("now", "_heap", "_seq")

    def __init__(self) -> None:
        self.now = 0
        self._heap: list[tuple[int, int, int, int, Callable[..., Any], Any]] = []
        self._seq = 0

    def schedule(
        self, at: int, klass: int, actor: int, action: Callable[..., Any], arg: Any
    ) -> None:
        """Queue ``action(arg)`` to run at time ``at`` (never in the past)."""
        self._seq += 1
        heapq.heappush(self._heap, (max(at, self.now), klass, actor, self._seq, action, arg))

    def next_time(self) -> int | None:
        """The time of the earliest queued step, if any."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, until: int) -> tuple[Callable[..., Any], Any] | None:
        """Take the next step due at or before ``until`` and move the clock to it."""
        heap = self._heap
        if not heap or heap[0][0] > until:
            return None
        at, _, _, _, action, arg = heapq.heappop(heap)
        self.now = at
        return action, arg

    def __len__(self) -> int:
        return len(self._heap)

    def snapshot_form(self, enc: Any) -> tuple[Any, ...]:
        """E3 (model/snapshot.py): the queue in D12's order, each step's time
        relative to now, its sequence number replaced by its place."""
        now = enc.now
        return tuple(
            (at - now, klass, actor, action.name, enc.value(arg))
            for at, klass, actor, _, action, arg in sorted(self._heap, key=_order)
        )


def _order(entry: tuple[Any, ...]) -> tuple[int, int, int, int]:
    return entry[0], entry[1], entry[2], entry[3]
