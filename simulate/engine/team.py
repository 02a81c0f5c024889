"""Reps are the scarce resource: every visit, demo and negotiation takes their time.

A rep's capacity is counted in visits per week and changes during the year: new hires
train with no deals of their own, then work at reduced pace while mentored, and mentors
give up hours to coach them; reps leave and are replaced after a hiring delay. A
fixed-capacity `simpy.Resource` cannot express that, so the team is its own pool: each rep
serves one task at a time, key-account work goes first, a new lead goes to the first free
rep of its segment, and a deal's later steps wait for the rep who owns it.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Callable

import simpy

from .clock import NORMAL, Call

# on_start(rep, finish_time): the task's owner learns who does it and when the work ends.
OnStart = Callable[["RepState", float], None]
Task = tuple  # (priority, seq, effort, on_start): tuples keep the heap cheap


class RepState:
    """One rep during one simulated year."""

    __slots__ = ("index", "name", "level", "segments", "region", "skill", "base_visits",
                 "capacity_factor", "mentor_load", "pace", "busy_until", "queue", "wake_pending",
                 "active", "joined", "left_at", "successor", "mentor", "mentees",
                 "busy_days", "visits", "book", "version")

    def __init__(self, index: int, name: str, level: str, segments: tuple[str, ...],
                 region: str | None, skill: float, visits_per_week: float):
        self.index, self.name, self.level = index, name, level
        # In the plan's order, not a set's: the order in which a rep wakes colleagues for shared
        # work decides which same-time event runs first, and a set's order moves with PYTHONHASHSEED.
        self.segments, self.region, self.skill = segments, region, skill
        self.base_visits = visits_per_week
        self.capacity_factor = 1.0      # ramp-up: 0 while training, reduced while mentored
        self.mentor_load = 0.0          # visits per week given to mentees
        self.pace = visits_per_week     # visits per week now: kept by Team.capacity_changed
        self.busy_until = 0.0
        self.queue: list[Task] = []
        self.wake_pending = False
        self.active = False             # on the team and able to hold deals
        self.joined = 0.0
        self.left_at: float | None = None
        self.successor: RepState | None = None
        self.mentor: RepState | None = None
        self.mentees = 0
        self.busy_days = 0.0            # time spent working, for utilisation
        self.visits = 0.0               # effort delivered, in visits
        self.book = 0                   # open deals and accounts owned
        self.version = 0                # bumped when the rep's entries in the pools go stale

    def __repr__(self) -> str:
        return f"Rep({self.name})"


class Team:
    """The pool of reps with their queues: who does which task, and when."""

    def __init__(self, env: simpy.Environment, segments: list[str], visits_scale: Callable[[], float]):
        self.env = env
        self.reps: list[RepState] = []
        self.shared: dict[str, list[Task]] = {s: [] for s in segments}
        # Per segment, the reps who can take its shared work, by when they are next free:
        # a heap with lazy deletion, so finding a free rep costs log(team), not the team.
        self.pools: dict[str, list[tuple]] = {s: [] for s in segments}
        self.orphans: dict[int, list[Task]] = {}
        self._seq = itertools.count()
        self._visits_scale = visits_scale
        self.events = 0

    def holders(self, segment: str, active_only: bool = False) -> list[RepState]:
        """Who holds a segment's accounts and deals: its seasoned reps (its new hires if it has
        none); before the year starts nobody has arrived, and their work waits for them."""
        reps = [r for r in self.reps if (r.active or not active_only) and (not r.segments or segment in r.segments)]
        return [r for r in reps if r.level != "new_hire"] or reps

    # -- capacity ---------------------------------------------------------------------
    def visits_per_week(self, rep: RepState) -> float:
        """A rep's pace from their ramp-up, mentoring load and the team-wide lever."""
        v = rep.base_visits * rep.capacity_factor * self._visits_scale() - rep.mentor_load
        return v if v > 0 else 0.0

    def can_work(self, rep: RepState) -> bool:
        return rep.active and rep.pace > 0

    def headcount(self) -> int:
        return sum(1 for r in self.reps if r.active)

    def ramping(self) -> int:
        """Reps on the team still training or mentored, below full pace."""
        return sum(1 for r in self.reps if r.active and r.capacity_factor < 1)

    def add(self, rep: RepState) -> None:
        """Put a rep on the roster; they hold no work until they `join`."""
        rep.pace = self.visits_per_week(rep)
        self.reps.append(rep)

    def join(self, rep: RepState) -> None:
        """The rep starts: work filed for them before their first day is theirs now."""
        rep.active = True
        rep.joined = self.env.now
        rep.busy_until = max(rep.busy_until, self.env.now)
        for task in self.orphans.pop(rep.index, []):
            heapq.heappush(rep.queue, task)
        self.capacity_changed(rep)

    def capacity_changed(self, rep: RepState) -> None:
        """Call after a rep's ramp-up, mentoring load or pace lever changes."""
        rep.pace = self.visits_per_week(rep)
        self._index(rep)
        if self.can_work(rep) and self._has_work(rep):
            self._wake(rep)

    # -- tasks ------------------------------------------------------------------------
    def submit(self, priority: int, effort: float, segment: str, owner: RepState | None,
               on_start: OnStart) -> None:
        """Ask for `effort` visits of rep time; `on_start` is told who and when it ends."""
        task = (priority, next(self._seq), effort, on_start)
        if owner is not None:
            owner = holder(owner)    # whoever holds the owner's book now
            if not owner.active:
                self.orphans.setdefault(owner.index, []).append(task)
            elif owner.busy_until <= self.env.now and not owner.queue and self.can_work(owner):
                self._start(owner, task)
            else:
                heapq.heappush(owner.queue, task)
                self._wake(owner)
            return
        idle = self._first_free(segment, idle_only=True)
        if idle is not None:
            self._start(idle, task)
            return
        heapq.heappush(self.shared[segment], task)
        self._wake_first(segment)

    def _start(self, rep: RepState, task: Task) -> None:
        effort = task[2]
        duration = effort * 7.0 / rep.pace if effort else 0.0
        now = self.env.now
        rep.busy_until = now + duration
        self._index(rep)
        rep.busy_days += duration
        rep.visits += effort
        task[3](rep, now + duration)

    def _has_work(self, rep: RepState) -> bool:
        if rep.queue:
            return True
        return any(self.shared[s] for s in (rep.segments or self.shared))

    def _wake_first(self, segment: str) -> None:
        """Shared work waits: make sure the rep of that segment who frees first will look.

        Waking only that rep (not every busy one) keeps one event per queued task; when it
        wakes and takes other work, it passes the duty on to the next rep to free up.
        """
        first = self._first_free(segment, idle_only=False)
        if first is not None:
            self._wake(first)

    def _index(self, rep: RepState) -> None:
        """(Re)file a rep in its segments' pools at their current `busy_until`."""
        rep.version += 1
        if rep.active and rep.pace > 0:
            entry = (rep.busy_until, rep.index, rep.version, rep)
            for s in (rep.segments or self.pools):
                heapq.heappush(self.pools[s], entry)

    def _first_free(self, segment: str, idle_only: bool) -> RepState | None:
        """The rep of `segment` who is free first (ties: the earliest on the roster);
        with `idle_only`, only one who is free now and has no work of their own waiting."""
        pool, now = self.pools[segment], self.env.now
        held: list[tuple] = []
        found = None
        while pool:
            busy, _, version, rep = pool[0]
            if version != rep.version:
                heapq.heappop(pool)         # stale: the rep has moved on
                continue
            if idle_only and busy > now:
                break
            if idle_only and rep.queue:
                held.append(heapq.heappop(pool))
                continue
            found = rep
            break
        for entry in held:
            heapq.heappush(pool, entry)
        return found

    def _wake(self, rep: RepState) -> None:
        if rep.wake_pending or not self.can_work(rep):
            return
        rep.wake_pending = True
        self.events += 1
        self.env.schedule(Call(lambda: self._on_wake(rep)), NORMAL, max(0.0, rep.busy_until - self.env.now))

    def _on_wake(self, rep: RepState) -> None:
        rep.wake_pending = False
        if not self.can_work(rep):
            return
        if rep.busy_until > self.env.now:
            self._wake(rep)
            return
        best, source = (rep.queue[0], rep.queue) if rep.queue else (None, None)
        for s in (rep.segments or self.shared):
            q = self.shared[s]
            if q and (best is None or q[0] < best):      # (priority, unique seq) decide
                best, source = q[0], q
        if best is None:
            return
        heapq.heappop(source)
        self._start(rep, best)
        if rep.queue:
            self._wake(rep)
        for s in (rep.segments or self.shared):
            if self.shared[s]:
                self._wake_first(s)

    # -- leaving and hand-over ----------------------------------------------------------
    def leave(self, rep: RepState) -> None:
        """The rep is gone: their queued work waits for the hand-over."""
        rep.active = False
        rep.version += 1                # out of the pools
        rep.left_at = self.env.now
        self.orphans.setdefault(rep.index, []).extend(rep.queue)
        rep.queue = []

    def successor_for(self, rep: RepState) -> RepState | None:
        """The active rep of the same segments with the smallest book takes over."""
        candidates = [r for r in self.reps if r.active and r is not rep
                      and (not rep.segments or not r.segments or any(s in r.segments for s in rep.segments))]
        if not candidates:
            return None
        return min(candidates, key=lambda r: (r.level == "new_hire", r.book, r.index))

    def hand_over(self, rep: RepState, successor: RepState) -> None:
        """Give a leaver's book to a successor; their waiting work moves with it."""
        rep.successor = successor
        successor.book += rep.book
        rep.book = 0
        for task in self.orphans.pop(rep.index, []):
            heapq.heappush(successor.queue, task)
        if successor.queue:
            self._wake(successor)


def holder(rep: RepState | None) -> RepState | None:
    """Who holds a deal or account now: the rep, or whoever took over their book."""
    while rep is not None and rep.successor is not None:
        rep = rep.successor
    return rep
