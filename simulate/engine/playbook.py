"""The playbook inside a simulated year: reviews on the PDCA cadence, rules that fire.

At the end of every week the manager holds the weekly review; at the first weekly review
of a new month, also the monthly pipeline check; at the first of a new quarter, the
quarterly review. Events (a rep left, a shock started) trigger their rules at once. Due
rules are considered by priority (high first), then name; a rule fires when its condition
holds, it is not spent (`once`), out of its cooldown, no other rule of its `group` is in
force, and the budget can pay for it. Its actions bite after `delay` and are taken back
after `duration`. Every firing is written to the ledger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..plan.rules import Rule
from .actions import APPLY
from .branch import Branches
from .levers import LeverEdits
from .metrics import observe, target_terms

if TYPE_CHECKING:
    from .funnel import ChannelFlow
    from .team import RepState
    from .world import World


class ManagedYear(Protocol):
    """What the playbook needs of the year: its world and flows, and its people to hire,
    mentor and hand over."""

    world: "World"
    week_index: int
    flows: list["ChannelFlow"]
    handover_days: float
    mentees_per_mentor: int

    def hire(self, count: int, segments: list[str], level: str, delay: float | None) -> None: ...

    def assign_mentor(self, rep: "RepState") -> None: ...


class PlaybookRun:
    """The rules of one plan, acting in one replication."""

    def __init__(self, year: "ManagedYear", rules: list[Rule], branches: Branches | None = None):
        self.year, self.world = year, year.world
        self.branches = branches or Branches()
        self.levers = self.world.levers
        self.segment_names = [s.name for s in self.world.plan.segments]
        self.rules = sorted(rules, key=lambda r: (-r.priority, r.name))
        self.last_fired: dict[str, float] = {}
        self.active_until: dict[str, float] = {}     # group -> day its rule stops being in force
        for rule in self.rules:
            self.world.ledger.counts[f"fired:{rule.name}"] = 0
        self.world.ledger.counts["rules_unaffordable"] = 0
        self.world.on_week.append(self.review)
        self.world.on_event.append(self.event)

    # -- when rules are considered ------------------------------------------------------
    def review(self, week: int) -> None:
        self.year.week_index = week     # the week just closed: what weekly metrics read
        now = self.world.env.now
        due = {"weekly"}
        before = max(0.0, now - 7.0)
        if self.world.month_of(before) != self.world.month_of(now - 1e-9) or week == 0:
            due.add("monthly")
        if int(before // 91.25) != int((now - 1e-9) // 91.25) or week == 0:
            due.add("quarterly")
        self._consider([r for r in self.rules if r.check in due])

    def event(self, name: str, payload: dict) -> None:
        self._consider([r for r in self.rules if r.check == name])

    def _consider(self, rules: list[Rule]) -> None:
        if not rules:
            return
        now = self.world.env.now
        names = frozenset().union(*(r.when.metrics for r in rules))
        values = observe(self.year, names)
        terms = target_terms(self.year, values)
        for rule in rules:
            if rule.once and rule.name in self.last_fired:
                continue
            last = self.last_fired.get(rule.name)
            if last is not None and now - last < rule.cooldown:
                continue
            if rule.group is not None and self.active_until.get(rule.group, -1.0) > now:
                continue
            if rule.when.reads_target:
                holds, low, high = rule.when.holds_over(values, terms)
                self.world.ledger.same_under_target(rule.name, low, high)
            else:
                holds = rule.when.holds(values)
            if not holds:
                continue
            if self.branches.wants(rule.name) and self.branches.split(rule.name, now):
                self._drop(rule)    # this process is now the year without the rule
                continue
            if not self._pay(rule):
                continue
            self._fire(rule)

    def _drop(self, rule: Rule) -> None:
        """Play on as if the plan never had `rule`: the record loses its columns too."""
        self.rules.remove(rule)
        del self.world.ledger.counts[f"fired:{rule.name}"]
        self.world.ledger.target_scales.pop(rule.name, None)

    # -- firing ---------------------------------------------------------------------------
    def _pay(self, rule: Rule) -> bool:
        """Charge the cost; budget costs shrink the channels' remaining spend to fit."""
        if rule.cost <= 0:
            return True
        money = self.world.ledger.money
        if rule.charge == "margin":
            money["rule_costs_margin"] += rule.cost
            return True
        remaining = self.world.remaining_spend()
        if rule.cost > remaining and not rule.allow_overrun:
            self.world.ledger.counts["rules_unaffordable"] += 1
            return False
        if remaining > 0:
            self.levers.spend_scale *= max(0.0, (remaining - rule.cost) / remaining)
        money["budget_overrun"] += max(0.0, rule.cost - remaining)
        money["rule_costs_budget"] += rule.cost
        return True

    def _fire(self, rule: Rule) -> None:
        world = self.world
        now = world.env.now
        self.last_fired[rule.name] = now
        end = now + rule.delay + (rule.duration if rule.duration is not None else world.horizon * 10)
        if rule.group is not None:
            self.active_until[rule.group] = end
        for i, action in enumerate(rule.then):
            world.ledger.firings.append((now, rule.name, action.action, action.params(),
                                         rule.cost if i == 0 else 0.0))
        edits = LeverEdits(world.levers)

        def bite() -> None:
            for action in rule.then:
                APPLY[action.action](action, self, edits)
        if rule.delay > 0:
            world.at(rule.delay, bite)
        else:   # at once: in force for the week this review opens (its leads and spend)
            bite()
        if rule.duration is not None:
            world.at(rule.delay + rule.duration, edits.undo)
        world.ledger.counts[f"fired:{rule.name}"] += 1

    # -- services the actions use ---------------------------------------------------------
    def targets(self, segments: list[str], products: list[str]) -> list[tuple[str, str]]:
        """The (segment, product) lever keys an action names; none named: every segment.
        (Levers look up (segment, product), (segment, *) and (*, product), never (*, *).)"""
        if not products:
            return [(s, "*") for s in (segments or self.segment_names)]
        if not segments:
            return [("*", p) for p in products]
        return [(s, p) for s in segments for p in products]

    def capacity_changed(self) -> None:
        for rep in self.world.team.reps:
            self.world.team.capacity_changed(rep)

    def shift_spend(self, source: str, to: str, share: float, edits: LeverEdits) -> None:
        """Move a share of one channel's current spend to another, at equal money."""
        plan, lev = self.world.plan, self.levers
        src = next(c for c in plan.channels if c.name == source)
        dst = next(c for c in plan.channels if c.name == to)
        moved = src.budget_share * lev.spend(source) * share
        if moved <= 0 or dst.budget_share <= 0 or source == to:
            return
        edits.scale(lev.channel_spend, source, 1.0 - share)
        current = dst.budget_share * lev.spend(to)
        if current > 0:
            edits.scale(lev.channel_spend, to, 1.0 + moved / current)
        else:                       # the channel had been cut to nothing: restart it
            edits.set(lev.channel_spend, to, moved / dst.budget_share)

    def best_channel(self) -> str | None:
        flows = [f for f in self.year.flows if f.leads_seen > 0]
        if not flows:
            return None
        return max(flows, key=lambda f: (f.signed_seen / f.leads_seen, -f.index)).channel.name

    def channel_segment(self, channel: str) -> str:
        return next(c.segment for c in self.world.plan.channels if c.name == channel)

    def redirect_product_budget(self, product: str, reinvest_in: list[str], edits: LeverEdits) -> None:
        """A stopped product's marketing money is saved, or spread over other products."""
        shares = self.world.plan.marketing.by_product
        freed = shares.get(product, 0.0)
        receivers = [p for p in reinvest_in if shares.get(p, 0.0) > 0]
        if not receivers:
            edits.set_attr(self.levers, "spend_saved", 1.0 - (1.0 - self.levers.spend_saved) * (1.0 - freed))
            return
        total = sum(shares[p] for p in receivers)
        for p in receivers:
            extra = freed * shares[p] / total
            edits.scale(self.levers.product_demand, p, (1.0 + extra / shares[p]) ** 0.7)

    def hire(self, count: int, segments: list[str], level: str, delay: float | None) -> None:
        self.year.hire(count, segments, level, delay)

    def speed_up_handover(self, days: float) -> None:
        self.year.handover_days = min(self.year.handover_days, days)

    def reassign_mentors(self, mentees_per_mentor: int) -> None:
        self.year.mentees_per_mentor = mentees_per_mentor
        for rep in self.world.team.reps:
            if rep.active and rep.level == "new_hire" and rep.capacity_factor < 1 and rep.mentor is None:
                self.year.assign_mentor(rep)
