"""Existing customers: key-account renewals, and win-back calls to churned accounts.

Key accounts bring most of the revenue. Each renews on its own date; the rep who holds it
visits on a cadence and opens renewal talks months before expiry. The renewal probability
rises with visit coverage (80 % untended, 92 % fully covered in the reference plan) and
drops when the account's rep has left. Win-back works down a ranked list of churned
accounts with a come-back offer, a few calls a month.
"""

from __future__ import annotations

import datetime as dt
import heapq
from typing import TYPE_CHECKING

import numpy as np

from ..plan.plan import Segment
from .ledger import K
from .streams import Uniforms, stream
from .team import holder

if TYPE_CHECKING:
    from .team import RepState
    from .world import World

QUARTER_DAYS = 365.0 / 4


class Account:
    """One key account and its renewal."""

    __slots__ = ("index", "value", "product", "renewal_day", "owner", "visit_days",
                 "talks_done", "u_renew", "lost_rep", "industry", "next_visit", "holder_name")

    def __init__(self, index: int, value: float, product: int, renewal_day: float, u_renew: float):
        self.index, self.value, self.product = index, value, product
        self.renewal_day, self.u_renew = renewal_day, u_renew
        self.owner: RepState | None = None
        self.visit_days: list[float] = []
        self.talks_done = False
        self.lost_rep = False   # its rep left during the year
        self.industry: str | None = None
        self.next_visit = float("inf")
        self.holder_name: str | None = None   # the rep the plan names as its holder


def renewal_day(renewal: dt.date, start: dt.date) -> float:
    """Days from the horizon's start to the contract's next anniversary (renewals are yearly)."""
    for year in (start.year, start.year + 1):
        try:
            due = renewal.replace(year=year)
        except ValueError:          # 29 February in a common year: the day before
            due = dt.date(year, 2, 28)
        if due >= start:
            return float((due - start).days)
    raise AssertionError("unreachable: next year's anniversary is after the start")


def product_picks(world: "World", segment: Segment, rng: np.random.Generator, n: int) -> list[int]:
    """`n` products drawn by the segment's mix (indices into the plan's products)."""
    mix = world.product_mix(segment)
    cdf = np.cumsum([w for _, w in mix])
    picks = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").clip(0, len(mix) - 1)
    return [mix[i][0] for i in picks.tolist()]


class KeyAccountBook:
    """The KA segment: visits on cadence, renewal talks, renewal decisions."""

    def __init__(self, world: "World", segment: Segment):
        self.world, self.segment = world, segment
        self.spec = segment.accounts
        assert self.spec is not None  # guaranteed by the plan's validation
        self.segment_index = world.segment_index[segment.name]
        n = self.spec.size
        if self.spec.contracts:
            self.accounts = self._held_contracts(world)
        else:
            self.accounts = self._drawn_book(world, n)
        # Visit rounds start at a random point of the cadence, and renewals are chance:
        # both are drawn afresh in every simulated year.
        self.phase = stream(world.root, f"visit-phase/{segment.name}").random(n)
        u_renew = stream(world.root, f"renewals/{segment.name}").random(n).tolist()
        for acc, u in zip(self.accounts, u_renew):
            acc.u_renew = u

    def _held_contracts(self, world: "World") -> list[Account]:
        """The book the manager holds: the plan's contracts, exactly as listed."""
        start = world.plan.horizon.start
        accounts = []
        for i, c in enumerate(self.spec.contracts):
            acc = Account(i, c.contract_value, world.product_names.index(c.product),
                          renewal_day(c.renewal_date, start), 0.0)
            acc.industry = c.industry
            acc.holder_name = c.rep
            accounts.append(acc)
        return accounts

    def _drawn_book(self, world: "World", n: int) -> list[Account]:
        """A book nobody holds yet (a new region): its contract values, products, renewal
        dates and industries are unknown, so they are drawn in every simulated year and
        their uncertainty belongs to P(hit)."""
        assert self.spec.contract_value is not None  # guaranteed by the plan's validation
        segment = self.segment
        rng = stream(world.root, f"book/{segment.name}")
        values = self.spec.contract_value.sample(rng, n)
        products = product_picks(world, segment, rng, n)
        # Renewal dates spread evenly over the year, each at a random point of its slot.
        days = (np.arange(n) + rng.random(n)) / n * 365.0
        accounts = [Account(i, float(values[i]), products[i], float(days[i]), 0.0) for i in range(n)]
        if segment.industries:
            names = list(segment.industries)
            cdf = np.cumsum(list(segment.industries.values()))
            for acc, u in zip(accounts, rng.random(n).tolist()):
                i = int(np.searchsorted(cdf, u, side="right"))
                acc.industry = names[i] if i < len(names) else None
        return accounts

    def start(self, owners: list["RepState"]) -> None:
        """Hand the book out round-robin and put visits and renewals in the calendar."""
        world, spec = self.world, self.spec
        self.held: dict[int, list[Account]] = {}    # rep index -> the accounts they hold
        named = {r.name: r for r in self.world.team.reps}
        for acc in self.accounts:
            acc.owner = named[acc.holder_name] if acc.holder_name else owners[acc.index % len(owners)]
            acc.owner.book += 1
            self.held.setdefault(acc.owner.index, []).append(acc)
        self.interval = QUARTER_DAYS / spec.visits_per_quarter if spec.visits_per_quarter > 0 else None
        now = world.env.now
        self.opened_at = now        # the clock's first day: 0, or a re-forecast's as-of day
        self.calendar: list[tuple[float, int]] = []      # (next visit day, account)
        for acc, phase in zip(self.accounts, self.phase.tolist()):
            if self.interval is not None:
                acc.next_visit = now + phase * self.interval
                self.calendar.append((acc.next_visit, acc.index))
            for year in range(int(np.ceil(world.horizon / 365.0))):
                due = acc.renewal_day + 365.0 * year
                if due >= world.horizon:
                    break
                if due < world.env.now:     # re-forecast: already renewed or lost, in the export
                    continue
                world.at_day(due - spec.talks_open, lambda acc=acc: self._open_talks(acc))
                world.at_day(due, lambda acc=acc: self._renew(acc))
        heapq.heapify(self.calendar)

    def plan_week(self, start: float, length: float) -> None:
        """At the week's start each rep plans the visits due on their accounts this week
        as one block of work (one task per rep-week, not one event per visit)."""
        if self.interval is None:
            return
        due: dict[int, tuple["RepState", list[Account]]] = {}
        end = start + length
        calendar = self.calendar
        while calendar and calendar[0][0] < end:
            acc = self.accounts[heapq.heappop(calendar)[1]]
            acc.next_visit += self.interval
            heapq.heappush(calendar, (acc.next_visit, acc.index))
            owner = holder(acc.owner)
            if owner is not None:
                due.setdefault(owner.index, (owner, []))[1].append(acc)
        effort = self.spec.visit_effort
        for owner, accounts in due.values():
            self.world.team.submit(0, effort * len(accounts), self.segment.name, owner,
                                   lambda rep, finish, accounts=accounts: self._visited(accounts, finish))

    def _visited(self, accounts: list[Account], finish: float) -> None:
        for acc in accounts:
            acc.visit_days.append(finish)
        self.world.ledger.week[K["visits_ka"]] += self.spec.visit_effort * len(accounts)

    def _open_talks(self, acc: Account) -> None:
        acc.talks_done = False

        def talked(rep: "RepState", finish: float) -> None:
            acc.talks_done = True
            self.world.ledger.week[K["visits_ka"]] += self.spec.renewal_effort
        self.world.team.submit(0, self.spec.renewal_effort, self.segment.name, acc.owner, talked)

    def coverage(self, acc: Account, now: float) -> float:
        """Visits done in the talks window against plan; time before the clock started (before
        the horizon, or before a re-forecast's as-of day) counts as on plan."""
        spec = self.spec
        window = spec.talks_open
        planned = spec.visits_per_quarter * window / QUARTER_DAYS
        if planned <= 0:
            return 1.0
        done: float = sum(1 for d in acc.visit_days if now - window <= d <= now)
        done += planned * max(0.0, window - (now - self.opened_at)) / window
        cover = min(1.0, done / planned)
        return cover if acc.talks_done else cover * 0.5

    def renewal_probability(self, acc: Account, now: float) -> float:
        spec, lev = self.spec, self.world.levers
        p = spec.renewal_without_visits + (spec.renewal_with_full_visits - spec.renewal_without_visits) \
            * self.coverage(acc, now)
        if acc.lost_rep:
            after = spec.renewal_after_rep_left
            if lev.renewal_floor_after_rep_left is not None:
                after = max(after, lev.renewal_floor_after_rep_left)
            p = min(p, after)
        p *= lev.renewal_factor(self.segment.name, self.world.product_names[acc.product])
        if acc.industry is not None:
            p *= lev.industry_demand.get(acc.industry, 1.0)
        return min(1.0, p)

    def _renew(self, acc: Account) -> None:
        world = self.world
        world.ledger.counts["ka_due"] += 1
        renewed = acc.u_renew < self.renewal_probability(acc, world.env.now)
        if world.ledger.trace is not None:
            owner = holder(acc.owner)
            world.ledger.trace.renewals.append({
                "account": f"{self.segment.name}-{acc.index + 1}", "segment": self.segment.name,
                "product": world.product_names[acc.product], "contract_value": acc.value,
                "renewal_day": world.env.now, "renewed": renewed, "rep": owner.name if owner else None})
        if renewed:
            world.ledger.counts["ka_renewed"] += 1
            product = world.plan.products[acc.product]
            list_value = acc.value * (1.0 + self.spec.renewal_uplift)
            value = list_value * world.levers.price_factor(self.segment.name, product.name)
            world.record_booking(value, list_value * (1.0 - product.margin), self.segment_index,
                                 acc.product, holder(acc.owner), -1, 0.0)

    def rep_left(self, rep: "RepState") -> None:
        for acc in self.held.get(rep.index, []):
            acc.lost_rep = True

    def handed_over(self, rep: "RepState", successor: "RepState") -> None:
        self.held.setdefault(successor.index, []).extend(self.held.pop(rep.index, []))


class WinBackCampaign:
    """Churned accounts, ranked by former value, called a few times a month."""

    def __init__(self, world: "World", segment: Segment):
        self.world, self.segment = world, segment
        self.spec = segment.winback
        assert self.spec is not None  # guaranteed by the plan's validation
        self.segment_index = world.segment_index[segment.name]
        rng = stream(world.root, f"winback/{segment.name}")
        n = self.spec.pool
        products = product_picks(world, segment, rng, n)
        units = np.maximum(self.spec.units.sample(rng, n), 0.0)
        order = np.argsort(-units, kind="stable")     # ranked by priority: biggest first
        self.pool = [(float(units[i]), products[i]) for i in order]
        self.u = Uniforms(rng)
        self.called = 0

    def start(self) -> None:
        if self.spec.calls_per_month > 0 and self.pool:
            self.interval = 365.0 / 12 / self.spec.calls_per_month
            self.called = int(self.world.env.now // self.interval)   # re-forecast: calls made
            self.world.at(self.u() * self.interval, self._call)

    def _call(self) -> None:
        if self.called >= len(self.pool):
            return
        units, product = self.pool[self.called]
        self.called += 1
        u = self.u()
        self.world.team.submit(1, self.spec.call_effort, self.segment.name, None,
                               lambda rep, finish: self._called(rep, finish, units, product, u))
        self.world.at(self.interval, self._call)

    def _called(self, rep: "RepState", finish: float, units: float, product: int, u: float) -> None:
        world, spec = self.world, self.spec
        world.ledger.week[K["visits_winback"]] += spec.call_effort
        world.ledger.counts["winback_calls"] += 1
        if u < spec.win_probability:
            world.ledger.counts["winback_won"] += 1
            p = world.plan.products[product]
            list_value = units * p.price
            value = list_value * (1.0 - spec.offer_discount) * world.levers.price_factor(self.segment.name, p.name)
            world.at(finish - world.env.now,
                     lambda: world.record_booking(value, list_value * (1.0 - p.margin), self.segment_index,
                                                  product, rep, -1, world.delivery_days(product)))

