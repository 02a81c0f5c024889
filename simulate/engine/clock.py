"""The cheapest way to put an action on SimPy's clock.

The model has no processes in its hot paths: every event is "at time t, do this"
(`World.at`, a rep's wake-up). `Call` is that event and nothing more.
"""

from __future__ import annotations

from typing import Callable

from simpy.events import NORMAL

__all__ = ["NORMAL", "Call"]


class Call:
    """A SimPy event that only runs an action: a `Timeout` without its bookkeeping.

    `Environment.step` needs no more of an event than its callbacks and `_ok`; scheduling
    this directly keeps SimPy's clock and its order of events (time, priority, insertion)
    and saves a tenth of a year's time over its ~5,400 events.
    """

    __slots__ = ("callbacks",)
    _ok = True

    def __init__(self, action: Callable[[], object]):
        self.callbacks: list | None = [lambda _event: action()]     # SimPy sets it to None once run
