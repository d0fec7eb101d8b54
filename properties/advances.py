"""The property machine's time advances (properties/actions.py): time that
lands where bugs hide, at an internal step or a second before it, inside a
batch or the pause after it, on a health deadline, a credential's expiry or
the edge of R16's sixty days."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from properties.invariants import batch_bound

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True

if TYPE_CHECKING:
    from properties.machine import UpgradeMachine

SIXTY_DAYS = 60 * 86400  # R16's window


def advance(m: UpgradeMachine, n: int) -> None:
    """Up to a minute passes."""
    m.ss.advance(m.now + n % 61)


def advance_days(m: UpgradeMachine, n: int) -> None:
    """One to seventy days pass; or, half the time when a run has started, time
    lands on a run's start plus exactly 60 days, or a second later (R16: the
    history's window, at its edge)."""
    runs = [r for r in m.ss.runs if r.start + SIXTY_DAYS >= m.now]
    if n % 2 and runs:
        n //= 2
        run = runs[n % len(runs)]
        m.ss.advance(run.start + SIXTY_DAYS + n // len(runs) % 2)
        return
    m.ss.advance(m.now + (1 + n // 2 % 70) * 86400)


def advance_to_next_step(m: UpgradeMachine, n: int) -> None:
    """D12: land on the next internal step (an event then comes after it), or
    one second before it; with none queued, up to a minute passes."""
    when = m.ss.clock.next_time()
    if when is None:
        advance(m, n // 2)
        return
    m.ss.advance(max(m.now, when - n % 2))


def advance_into_batch(m: UpgradeMachine, n: int) -> None:
    """R8: land in the middle of the batch in flight: before its OS disk and
    extensions are done, or anywhere within its bound."""
    run = m.ss.active_run
    batch = run.batch_in_flight if run is not None else None
    if batch is None:
        advance_to_next_step(m, n)
        return
    t = m.ss.timings
    span = t.os_disk_seconds + t.extension_seconds if n % 2 == 0 else batch_bound(m.checker.world)
    m.ss.advance(max(m.now, batch.start + n // 2 % (span + 1)))


def _steps_until(m: UpgradeMachine, reached: Callable[[Any], bool]) -> bool:
    """Time runs through the active run's internal steps until ``reached(run)``
    holds; False when the run ends first or nothing is queued."""
    ss = m.ss
    run = ss.active_run
    for _ in range(10_000):  # a run's steps to its next batch or pause are few; the bound guards
        if run is not ss.active_run or run is None:
            return False
        if reached(run):
            return True
        when = ss.clock.next_time()
        if when is None:
            return False
        ss.advance(when)
    return False


def advance_to_batch(m: UpgradeMachine) -> None:
    """Time runs through the run's internal steps until a batch is in flight
    (or the run ends, or nothing is queued)."""
    _steps_until(m, lambda run: run.batch_in_flight is not None)


def advance_into_pause(m: UpgradeMachine, n: int) -> None:
    """R8, section 4: land inside the pause after the batch in flight, before
    the next pre-batch check (a pause of 0 or 1 s has no inside: time stops at
    its start)."""
    ss = m.ss
    if _steps_until(m, lambda run: run.state == "pause"):
        pause = ss.pause_seconds
        if pause > 1:
            ss.advance(m.now + 1 + n % (pause - 1))


def advance_to_health_deadline(m: UpgradeMachine, n: int) -> None:
    """R6: land on an awaited instance's health deadline (or a second either side)."""
    ss = m.ss
    waiting = sorted(i for i, inst in ss.instances.items() if inst.state == "awaiting_health")
    if not waiting:
        advance_to_next_step(m, n)
        return
    inst = ss.instances[waiting[n % len(waiting)]]
    offset = (0, -1, 1)[n // len(waiting) % 3]
    deadline = inst.last_provisioned_at + ss.timings.health_wait_seconds
    ss.advance(max(m.now, deadline + offset))


def credential_expiries(m: UpgradeMachine) -> list[int]:
    """The expiries still ahead of the tokens the model references."""
    ss = m.ss
    return sorted(t for t in map(ss.token_expiry, ss.tokens) if t > ss.now)


def advance_to_expiry(m: UpgradeMachine, n: int) -> None:
    """R14: land on a credential's expiry (provisioning then fails) or just before."""
    expiries = credential_expiries(m)
    if not expiries:
        advance_to_next_step(m, n)
        return
    m.ss.advance(max(m.now, expiries[0] - n % 2))
