"""One simulated sales year: the plan, the random streams, and the SimPy clock.

`simulate_year(plan, seed, replication)` is a pure function: it reads no file, prints
nothing and touches no global random state. It builds the team, the key-account book, the
win-back campaign and one lead flow per channel, runs the clock to the horizon, and returns
the ledger's flat record and weekly KPIs. Shocks move the model's levers on the clock; hooks
(`on_week`, `on_event`) let the playbook observe and act without the model knowing rules.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import math
from collections.abc import Iterator

from ..plan.opening import Opening
from ..plan.plan import Plan, Rep, without_rules
from ..plan.rules import STAGE_INDEX
from .accounts import KeyAccountBook, WinBackCampaign
from .branch import FORK_FROM, Branches
from .funnel import ChannelFlow
from .ledger import Booking, ReplicationResult
from .levers import Levers
from .playbook import PlaybookRun
from .shocks import ShockRun
from .streams import Uniforms, stream
from .team import RepState
from .world import MONTH_DAYS, World


class SalesYear:
    """Assembles the flows of one replication and runs them to the horizon."""

    def __init__(self, world: World, branches: Branches | None = None):
        self.world = world
        self.branches = branches or Branches()
        plan = world.plan
        self.team_spec = plan.team
        self._people = Uniforms(stream(world.root, "team"))
        self.rep_names = [r.name for r in plan.team.reps] + ["new hires", "unassigned"]
        self.flows = [ChannelFlow(world, c, i) for i, c in enumerate(plan.channels)]
        self.books = [KeyAccountBook(world, s) for s in plan.segments if s.kind == "key_accounts"]
        self.campaigns = [WinBackCampaign(world, s) for s in plan.segments if s.kind == "winback"]
        self.shocks = [ShockRun(self, s, i) for i, s in enumerate(plan.shocks)]
        self.playbook = PlaybookRun(self, list(plan.rules), self.branches) if plan.rules else None
        self.vacancies = 0
        self.positions_opened = 0
        self.handover_days = plan.team.handover_days
        self.mentees_per_mentor = plan.team.mentees_per_mentor
        self._week = int(world.env.now // 7)
        self.week_index = self._week - 1    # the last week closed, for reviews

    def run(self) -> ReplicationResult:
        world = self.world
        for spec in self.team_spec.reps:
            self._enlist(spec.name, spec.level, spec, self._start_day(spec))
        for book in self.books:
            book.start(world.team.holders(book.segment.name))
        for campaign in self.campaigns:
            campaign.start()
        for shock in self.shocks:
            shock.schedule()
        if world.plan.opening is not None:
            self._open(world.plan.opening)     # the export's pipeline, not the plan's
        elif world.plan.horizon.warm_start:
            for flow in self.flows:
                carried = flow.pipeline_at_start()
                world.at(0.0, lambda flow=flow, carried=carried: flow.carry_in(carried))
        world.at(0.0, self._tick)      # after today's shocks and arrivals, so they count
        if world.env.now < world.horizon:      # a re-forecast on the last day has nothing left
            world.env.run(until=world.horizon)
        if self._week < world.ledger.weeks:   # the tick due at the horizon never runs
            self._close_week()                # (SimPy stops first): close the last week here
        return world.ledger.result(self.rep_names, world.events + world.team.events)

    # -- the weekly clock --------------------------------------------------------------
    def _tick(self) -> None:
        world = self.world
        now = world.env.now
        if now > 0 and now % 7.0 == 0.0:
            self._close_week()
            for hook in world.on_week:
                hook(self._week)
            self._week += 1
        length = min(7.0 - now % 7.0, world.horizon - now)
        if length <= 0:
            return
        for flow in self.flows:
            flow.schedule_week(now, length)
        for book in self.books:
            book.plan_week(now, length)
        world.spend_marketing(length)
        world.at(length, self._tick)

    def _close_week(self) -> None:
        """Write this week's KPI row: the flows so far, the stage counts and headcount now."""
        world = self.world
        world.ledger.settle_losses(world.env.now)
        world.ledger.close_week(self._week, world.team.headcount(), world.team.ramping(), self.vacancies,
                                world.env.now)

    # -- people -------------------------------------------------------------------------
    def _open(self, opening: Opening) -> None:
        """Re-forecast: book what was booked, and put the open deals back in their stages."""
        world = self.world
        start = world.plan.horizon.start
        reps = {r.name: r for r in world.team.reps}
        for b in opening.bookings:
            product = world.product_names.index(b.product)
            p = world.plan.products[product]
            day = float((b.date - start).days)
            delivered = day + p.delivery_days.mean
            rep = reps.get(b.rep) if b.rep else None
            region = world.region_index.get(rep.region, -1) if rep is not None and rep.region else -1
            world.ledger.book(Booking(day, b.amount, b.amount * p.margin, world.segment_index[b.segment], product,
                                      rep.index if rep is not None else -1, -1, region, delivered,
                                      delivered + world.plan.collections.delay.mean))
        flows = {f.channel.name: f for f in self.flows}
        stale_loss = opening.stale.loss if opening.stale is not None else 0.0
        for d in opening.open_deals:
            flow = flows[d.channel]
            rep = reps.get(d.rep) if d.rep else None
            age = world.env.now - float((d.entered - start).days) if d.entered is not None else 0.0
            world.at(0.0, lambda flow=flow, d=d, rep=rep, age=age: flow.reopen(
                STAGE_INDEX[d.stage], world.product_names.index(d.product),
                d.amount, rep, age, d.lost_already if d.lost_already is not None else stale_loss if d.stale else 0.0))

    def _start_day(self, spec: Rep) -> float:
        if spec.start is None:
            return -365.0 if spec.level != "new_hire" else 0.0
        return (spec.start - self.world.plan.horizon.start).days

    def _enlist(self, name: str, level: str, spec: Rep, start_day: float, skill: float | None = None) -> RepState:
        """Add a rep who starts on `start_day` (negative: already on the team)."""
        team = self.world.team
        segments = tuple(s.name for s in self.world.plan.segments if s.name in spec.segments)
        rep = RepState(len(team.reps), name, level, segments, spec.region,
                       spec.skill if skill is None else skill, spec.visits_per_week)
        team.add(rep)
        self.world.at_day(start_day, lambda: self._arrive(rep, start_day))
        return rep

    def _arrive(self, rep: RepState, start_day: float) -> None:
        world, t = self.world, self.team_spec
        tenure = world.env.now - start_day
        train, mentored = t.training_months * MONTH_DAYS, t.mentored_months * MONTH_DAYS
        if rep.level == "new_hire" and tenure < train + mentored:
            rep.capacity_factor = 0.0 if tenure < train else t.mentored_capacity
            self.assign_mentor(rep)
            if tenure < train:
                world.at(train - tenure, lambda: self._ramp(rep, t.mentored_capacity))
            world.at(train + mentored - tenure, lambda: self._ramp(rep, 1.0))
        world.team.join(rep)
        if world.ledger.trace is not None:
            world.ledger.trace.reps.append({"rep": rep.name, "level": rep.level, "segments": sorted(rep.segments),
                                            "region": rep.region, "start_day": start_day, "left_day": None})
        if t.attrition_per_year > 0:
            stay = -math.log1p(-self._people()) / t.attrition_per_year * 365.0
            if world.env.now + stay < world.horizon:
                world.at(stay, lambda: self.leave(rep))

    def _ramp(self, rep: RepState, factor: float) -> None:
        if not rep.active:
            return
        rep.capacity_factor = factor
        if factor >= 1.0 and rep.mentor is not None:
            self._release_mentor(rep)
        self.world.team.capacity_changed(rep)

    def assign_mentor(self, rep: RepState) -> None:
        t = self.team_spec
        mentors = [r for r in self.world.team.reps if r.active and r.level == "core"
                   and r.mentees < self.mentees_per_mentor]
        if not mentors or t.mentoring_visits_per_week <= 0:
            return
        mentor = min(mentors, key=lambda r: (r.mentees, r.index))
        mentor.mentees += 1
        mentor.mentor_load += t.mentoring_visits_per_week
        self.world.team.capacity_changed(mentor)
        rep.mentor = mentor

    def _release_mentor(self, rep: RepState) -> None:
        mentor, rep.mentor = rep.mentor, None
        if mentor is not None:
            mentor.mentees -= 1
            mentor.mentor_load = max(0.0, mentor.mentor_load - self.team_spec.mentoring_visits_per_week)
            self.world.team.capacity_changed(mentor)

    def book_value(self, rep: RepState) -> float:
        """A rep's book: the contract value of the key accounts they hold."""
        return sum(acc.value for book in self.books for acc in book.held.get(rep.index, []))

    def leave(self, rep: RepState) -> None:
        """A rep resigns: their book waits for a hand-over, and a vacancy opens."""
        world = self.world
        if not rep.active:
            return
        if rep.mentor is not None:
            self._release_mentor(rep)
        world.team.leave(rep)
        world.ledger.counts["reps_left"] += 1
        if world.ledger.trace is not None:
            for row in world.ledger.trace.reps:
                if row["rep"] == rep.name and row["left_day"] is None:
                    row["left_day"] = world.env.now
        for book in self.books:
            book.rep_left(rep)
        for hook in world.on_event:
            hook("rep_left", {"rep": rep.name})
        self.vacancies += 1
        world.at(self.handover_days, lambda: self._hand_over(rep))
        world.at(self.team_spec.hiring_delay, lambda: self._replace(rep))

    def _hand_over(self, rep: RepState) -> None:
        successor = self.world.team.successor_for(rep)
        if successor is None:   # nobody left to take it: try again next week
            self.world.at(7.0, lambda: self._hand_over(rep))
            return
        self.world.team.hand_over(rep, successor)
        for book in self.books:
            book.handed_over(rep, successor)

    def hire(self, count: int, segments: list[str], level: str, delay: float | None) -> None:
        """Open `count` positions now; each rep starts after the hiring delay and ramps up."""
        wait = self.team_spec.hiring_delay if delay is None else delay
        template = next((r for r in self.team_spec.reps if not segments or set(segments) <= set(r.segments)),
                        self.team_spec.reps[0])
        for _ in range(count):
            self.vacancies += 1
            self.positions_opened += 1      # names stay unique while earlier positions are open
            spec = Rep(name=f"hire {self.positions_opened}", level=level, segments=list(segments or template.segments),  # type: ignore[arg-type]
                       visits_per_week=template.visits_per_week, region=template.region)
            self.world.at(wait, lambda spec=spec: self._fill(spec))

    def _fill(self, spec: Rep) -> None:
        self.vacancies -= 1
        self.world.ledger.counts["hires"] += 1
        self._enlist(spec.name, spec.level, spec, self.world.env.now)

    def _replace(self, rep: RepState) -> None:
        self.vacancies -= 1
        self.world.ledger.counts["hires"] += 1
        spec = Rep(name=f"{rep.name} (replacement)", level="new_hire", segments=list(rep.segments),
                   visits_per_week=rep.base_visits, region=rep.region)
        self._enlist(spec.name, "new_hire", spec, self.world.env.now, skill=rep.skill)


def simulate_year(plan: Plan, seed: int, replication: int, levers: Levers | None = None,
                  trace: bool = False, value_rules: tuple[str, ...] = ()) -> ReplicationResult:
    """Play one year of `plan` with replication `replication`'s random streams.

    With `trace=True` the result also carries the year's deals, renewals and reps as rows
    (a synthetic CRM export); the outcome is identical either way. For each rule named in
    `value_rules` that fires, `without[rule]` holds the record of the same year without it,
    played from the rule's first firing on in a forked process, or from day 0 when it fired
    early (see `branch`).
    """
    start_levers = copy.deepcopy(levers) if value_rules else None    # rules move the levers in play
    with collector_paused():
        result, replays = _play(plan, seed, replication, levers, trace, value_rules)
    for rule in replays:
        alone = without_rules(plan, [rule])
        result.without[rule] = simulate_year(alone, seed, replication, copy.deepcopy(start_levers)).record
    return result


def _play(plan: Plan, seed: int, replication: int, levers: Levers | None, trace: bool,
          value_rules: tuple[str, ...]) -> tuple[ReplicationResult, list[str]]:
    """The year itself, and the rules to value by playing it again whole. Its world is
    garbage on return, before the collector runs again: the collection that follows frees
    it at once instead of keeping it, reachable from this frame, for older generations to
    scan again."""
    world = World(plan, seed, replication, levers, trace)
    start = world.env.now
    year = SalesYear(world, Branches(value_rules, start + FORK_FROM * (world.horizon - start)))
    branches = year.branches
    try:
        result = year.run()
        if branches.is_child:
            branches.exit_child(result.record)      # never returns
        result.without = branches.collect()
    except BaseException as exc:    # a failure, or Ctrl-C while playing or waiting for the children
        if branches.is_child:
            branches.exit_child(exc)
        branches.abandon()
        raise
    return result, list(branches.replays)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for one year.

    A year allocates ~100k short-lived objects (deals, heap entries, callbacks) and frees
    almost all of them by reference counting; the collector's repeated scans of the live
    heap cost 14 % of a year at the reference plan and 27 % at ten times its size. The
    year's few cycles (world <-> team) are collected after it, as usual. Outcomes do not
    depend on the collector.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

