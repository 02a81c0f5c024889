"""Leads flow through the funnel: lead -> intent -> negotiation -> signed, or lost.

Each marketing channel turns its weekly spend into a Poisson number of leads, along the
channel's curve of diminishing returns. Three streams per channel keep variants paired:
- the week's count inverts the week's one uniform of `lead-counts/` (a Poisson quantile),
  so a variant with more expected leads in a week has at least as many, and no later week
  depends on it (the comonotone coupling of the two counts, week by week);
- the week's arrival times are its first n uniforms of `arrival-times/`, addressed by week:
  a variant with more leads in a week gets the same arrival times plus more;
- a lead's fate is drawn when it is born (one uniform per stage, its stage times, its order
  size and product) from `fates/`, in order of arrival: lead k of a channel is the same
  customer in every variant, and a lever that changes a win rate moves the same uniform
  against a new threshold.
So a variant that expects at least as many leads in every week sees the same leads plus
extra ones, its lead k arriving no later. That is what makes comparisons paired. A volatile
channel's monthly levels (`lead-level/`) multiply every variant's expectation alike.
A stage's rep effort, when it is a distribution, is drawn with the fate from a stream of
its own (per channel and stage): it moves none of the fate's draws, so a variant that
changes one stage's effort keeps every other draw, and a fixed effort draws nothing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..plan.distributions import poisson_quantile
from ..plan.plan import STAGES, Channel, Segment
from .ledger import K
from .season import season
from .streams import Uniforms, Weekly, stream
from .team import holder
from .world import MONTH_DAYS

if TYPE_CHECKING:
    from .team import RepState
    from .world import World

BURN_IN_WEEKS = 52  # leads before the horizon that may still be open on day 0
FATE_BLOCK = 64     # leads drawn at a time: fixed, so lead k has the same fate in every variant
_ADVANCED = (K["advanced_lead"], K["advanced_intent"], K["advanced_negotiation"])
_EXITED = (K["exited_lead"], K["exited_intent"], K["exited_negotiation"])


def month_levels(rng: np.random.Generator, volatility: float, horizon: float) -> list[float]:
    """A channel's lead-rate level in each month of the horizon (365/12 days from day 0): a
    gamma with mean 1 and sd `volatility`, all drawn at once from a stream of their own, so
    every variant sees the same months and no other draw moves."""
    shape = 1.0 / volatility ** 2
    return rng.gamma(shape, 1.0 / shape, size=math.ceil(horizon / MONTH_DAYS)).tolist()


class Deal:
    """One lead on its way through the funnel."""

    __slots__ = (
        "delivery",
        "effort",
        "flow",
        "product",
        "rep",
        "stage",
        "times",
        "trace",
        "u",
        "units",
    )

    def __init__(self, flow: ChannelFlow, u: list[float], times: list[float], effort: list[float],
                 units: float, product: int):
        self.flow, self.stage = flow, 0
        self.rep: RepState | None = None
        self.u, self.times, self.effort, self.units, self.product = u, times, effort, units, product
        self.delivery = 0.0
        self.trace: dict | None = None


class Carried(NamedTuple):
    """A deal open on day 0, from before the horizon: its stage, when it next answers, its fate."""

    stage: int
    answers_on: float
    entered: list[float | None]     # the day it entered each stage (None: not reached)
    u: list[float]
    times: list[float]
    effort: list[float]
    units: float
    pick: int


class ChannelFlow:
    """The leads of one channel into one segment, and every deal they become."""

    def __init__(self, world: World, channel: Channel, index: int):
        self.world, self.channel, self.index = world, channel, index
        self.segment: Segment = world.plan.segment(channel.segment)
        self.segment_index = world.segment_index[self.segment.name]
        self.priority = 0 if self.segment.kind == "key_accounts" else 1
        self.funnel = self.segment.funnel
        assert self.funnel is not None  # guaranteed by the plan's validation
        self.stages = self.funnel.stages()
        # Rep effort per stage: a constant shared by every deal, or drawn per deal from the
        # stage's own stream (see the module's docstring).
        self._effort = [st.effort.mean for st in self.stages]
        self._effort_draws = [stream(world.root, f"effort/{channel.name}/{name}")
                              if st.effort.variance > 0 else None
                              for name, st in zip(STAGES, self.stages)]
        self._varied_effort = any(rng is not None for rng in self._effort_draws)
        reps = [r for r in world.plan.team.reps if not r.segments or self.segment.name in r.segments]
        pace = sum(r.visits_per_week for r in reps) / len(reps) if reps else 0.0   # a typical rep's
        self._days_per_visit = 7.0 / pace if pace > 0 else 0.0
        self._visits_column = K["visits_ka"] if self.priority == 0 else K["visits_new_logo"]
        # Lead and intent answers, (P(advance), P(lost)): fixed by the plan, as no lever acts
        # before negotiation; the channel's quality scales the lead's chance to advance.
        first = min(1.0, self.stages[0].advance * channel.quality)
        self._answers = [(first, min(self.stages[0].lost_probability, 1.0 - first)),
                         (self.stages[1].advance, self.stages[1].lost_probability)]
        self._counts = Uniforms(stream(world.root, f"lead-counts/{channel.name}"))
        self._arrival_times = Weekly(stream(world.root, f"arrival-times/{channel.name}"))
        self._fates = stream(world.root, f"fates/{channel.name}")
        self._misc = Uniforms(stream(world.root, f"stalls/{channel.name}"))
        # a re-forecast's open deals draw from their own stream (see reopen)
        self._reopen_draws = stream(world.root, f"reopen/{channel.name}") if world.plan.opening else None
        self._block: list[tuple] = []
        self.leads_seen = 0         # observed this year, for "the channel that converts best"
        self.signed_seen = 0
        mix = world.product_mix(self.segment)
        planned = world.plan.marketing.budget * channel.budget_share
        # leads_per_year is the yield at `at_spend` (default: at the planned spend)
        self._spend_vs_reference = planned / channel.at_spend if channel.at_spend else 1.0
        self._mix = mix
        self._mix_total = sum(w for _, w in mix)
        self._mix_products = [p for p, _ in mix]
        self._mix_cdf = np.cumsum([w for _, w in mix]).tolist()
        self._season = season(tuple(channel.seasonality), world.plan.horizon.start, world.horizon)
        self._levels = month_levels(stream(world.root, f"lead-level/{channel.name}"), channel.volatility,
                                    world.horizon) if channel.volatility > 0 else None

    # -- arrivals ---------------------------------------------------------------------
    def expected_leads(self, start: float, length: float) -> float:
        """Leads expected over `length` days from horizon day `start`: the planned volume in
        the season's share of those days (each day at its calendar month's rate), bent by
        spend (diminishing returns) and demand as the levers stand now."""
        c = self.channel
        lev = self.world.levers
        spend = lev.spend(c.name) * lev.spend_scale * self._spend_vs_reference
        leads = c.leads_per_year * (spend ** c.spend_elasticity if spend > 0 else 0.0)
        leads *= lev.lead_boost.get(self.segment.name, 1.0)
        leads *= self.world.industry_factor(self.segment)
        if lev.product_demand:
            leads *= sum(w * lev.product_demand.get(self.world.product_names[p], 1.0)
                         for p, w in self._mix) / self._mix_total
        return leads * self._season.share(start, start + length)

    def schedule_week(self, start: float, length: float) -> None:
        """Draw this week's leads now: the count from the week's one uniform, each lead at
        its own uniform time in the week (see the module's note on pairing)."""
        expected = self.expected_leads(start, length)
        if self._levels is not None:
            expected *= self._levels[min(int(start // MONTH_DAYS), len(self._levels) - 1)]
        n = poisson_quantile(self._counts(), expected)
        if n == 0:
            return
        offsets = sorted(self._arrival_times.draw(int(start // 7.0), n).tolist())
        at, now = self.world.at, self.world.env.now
        for off in offsets:
            at(start + off * length - now, self._arrive)

    def _fates_of(self, rng: np.random.Generator, n: int) -> tuple[list, list, list, list]:
        """The fates of `n` leads: one uniform per stage, stage times, units, product pick."""
        u = rng.random((n, 3)).tolist()
        times = [list(t) for t in zip(*[s.time.sample(rng, n).tolist() for s in self.stages])]
        units = self.funnel.units.sample(rng, n).tolist()
        picks = np.searchsorted(self._mix_cdf, rng.random(n) * self._mix_cdf[-1], side="right").tolist()
        return u, times, units, picks

    def _next_fate(self) -> tuple:
        if not self._block:
            u, times, units, picks = self._fates_of(self._fates, FATE_BLOCK)
            self._block = list(zip(u, times, self._efforts(FATE_BLOCK), units, picks))
            self._block.reverse()
        return self._block.pop()

    def _efforts(self, n: int) -> list[list[float]]:
        """The rep's effort at each stage for the next `n` leads, in visits."""
        if not self._varied_effort:
            return [self._effort] * n       # never written to: one list serves every deal
        columns = [st.effort.sample(rng, n) if rng is not None else np.full(n, fixed)
                   for st, rng, fixed in zip(self.stages, self._effort_draws, self._effort)]
        return np.column_stack(columns).tolist()

    def _arrive(self) -> None:
        u, times, effort, units, pick = self._next_fate()
        product = self._mix_products[min(pick, len(self._mix_products) - 1)]
        if self.world.levers.product_demand:    # marketing moved between products: re-pick
            product = self._pick_by_demand()
        deal = Deal(self, u, times, effort, max(units, 0.0), product)
        self.leads_seen += 1
        ledger = self.world.ledger
        if ledger.trace is not None:
            deal.trace = self._trace_row(product, None, [self.world.env.now, None, None])
        ledger.counts["leads"] += 1
        ledger.week[K["leads_week"]] += 1
        ledger.open[0] += 1
        self._work_on(deal)

    def reopen(self, stage: int, product: int, amount: float | None, rep: RepState | None,
               age: float, loss: float) -> None:
        """Re-forecast: a deal open for `age` days in `stage` carries on from there.

        Its draws come from a stream of its own (the year's new leads keep their fates); its
        order size is the export's amount when there is one. Time in a stage is the rep's work
        first, then the customer's: `age` pays the work first (at a typical rep's pace; none
        is done again), and the customer's answer comes after (T - a | T > a) for the rest a.
        It is lost at once with probability `loss` (a stale deal's, or one lost unrecorded).
        """
        rng = self._reopen_draws
        assert rng is not None          # the plan has an opening
        u = rng.random(3).tolist()
        efforts = [float(st.effort.sample(rng, 1)[0]) for st in self.stages]
        units = float(self.funnel.units.sample(rng, 1)[0])
        times = [float(st.time.sample(rng, 1)[0]) for st in self.stages]
        price = self.world.plan.products[product].price
        if amount is not None and price > 0:
            units = amount / price
        deal = Deal(self, u, times, efforts, max(units, 0.0), product)
        deal.stage = stage
        if rep is not None and rep.active:
            deal.rep = rep
            rep.book += 1
        ledger = self.world.ledger
        ledger.open[stage] += 1
        ledger.counts["open_start"] += 1
        if loss > 0 and rng.random() < loss:
            self._lose(deal)
            return
        days_per_visit = self._days_per_visit
        work_left = max(0.0, efforts[stage] - age / days_per_visit) if days_per_visit > 0 else 0.0
        waited = max(0.0, age - efforts[stage] * days_per_visit)
        answer_in = self.stages[stage].time.remaining(rng, waited)
        scale = self.world.levers.stage_time.get((self.segment.name, stage), 1.0)
        if work_left <= 0:
            self.world.at(answer_in * scale, lambda: self._decide(deal))
            return
        self.world.team.submit(self.priority, work_left, self.segment.name, deal.rep,
                               lambda who, finish: self._resumed(deal, who, finish, work_left, answer_in * scale))

    def _resumed(self, deal: Deal, rep: RepState, finish: float, visits: float, answer_in: float) -> None:
        """A reopened deal's remaining work is done: its customer answers `answer_in` later."""
        if deal.rep is None:
            deal.rep = rep
            rep.book += 1
        self.world.ledger.week[self._visits_column] += visits
        self.world.at(finish - self.world.env.now + answer_in, lambda: self._decide(deal))

    # -- the pipeline on the first day ---------------------------------------------------
    def pipeline_at_start(self) -> list[Carried]:
        """The deals this channel's own flow holds on day 0: a year of leads before the horizon,
        each walked through its stages at the plan's rates, as if reps had time for all of them.

        It is the year's burn-in without its bookings (deals settled before day 0 count for
        nothing) and without a clock: with no capacity limit each stage is an infinite-server
        queue, so a stage holds Poisson(arrival rate x mean time in stage) deals, Little's law.
        Its draws come from a stream of their own: the year's own leads keep their fates.
        """
        rng = stream(self.world.root, f"pipeline-at-start/{self.channel.name}")
        answers = [*self._answers, (min(1.0, self.stages[2].advance), self.stages[2].lost_probability)]
        days_per_visit = self._days_per_visit
        carried: list[Carried] = []
        for week in range(BURN_IN_WEEKS, 0, -1):
            start = -7.0 * week
            n = int(rng.poisson(self.expected_leads(start, 7.0)))
            if n == 0:
                continue
            born = (start + rng.random(n) * 7.0).tolist()
            u, times, units, picks = self._fates_of(rng, n)
            if self._varied_effort:
                efforts = np.column_stack([st.effort.sample(rng, n) if st.effort.variance > 0 else np.full(n, mean)
                                           for st, mean in zip(self.stages, self._effort)]).tolist()
            else:
                efforts = [self._effort] * n        # never written to (see _efforts)
            for i in range(n):
                work_days = [e * days_per_visit for e in efforts[i]]
                fate_u, day, k = u[i], born[i] + work_days[0] + times[i][0], 0
                entered = [born[i], None, None]
                while day <= 0.0:
                    advance, lost = answers[k]
                    if fate_u[k] < advance:
                        if k == 2:
                            break               # signed before the horizon: not this year's
                        k += 1
                        entered[k] = day
                        day += work_days[k] + times[i][k]
                    elif fate_u[k] < advance + lost:
                        break
                    else:                       # stalls for another stage time
                        fate_u[k] = float(rng.random())
                        day += times[i][k]
                else:
                    carried.append(Carried(k, day, entered, fate_u, times[i], efforts[i], units[i], picks[i]))
        return carried

    def _trace_row(self, product: int, rep: RepState | None, entered: list[float | None]) -> dict:
        """A deal's row in a traced year (a CRM export's deal): one shape for every deal."""
        ledger = self.world.ledger
        assert ledger.trace is not None
        row = {"deal": len(ledger.trace.deals) + 1, "channel": self.channel.name,
               "segment": self.segment.name, "product": self.world.product_names[product],
               "rep": rep.name if rep is not None else None, "lead_day": entered[0], "contact_day": None,
               "intent_day": entered[1], "negotiation_day": entered[2], "closed_day": None,
               "outcome": "open", "amount": None}
        ledger.trace.deals.append(row)
        return row

    def carry_in(self, carried: list[Carried]) -> None:
        """Day 0: the carried deals take their stages, each with a rep of the segment, and
        answer when their stage time is up."""
        world = self.world
        seasoned = world.team.holders(self.segment.name, active_only=True)
        ledger = world.ledger
        for i, c in enumerate(carried):
            product = self._mix_products[min(c.pick, len(self._mix_products) - 1)]
            deal = Deal(self, c.u, c.times, c.effort, max(c.units, 0.0), product)
            deal.stage = c.stage
            if seasoned:
                deal.rep = seasoned[i % len(seasoned)]
                deal.rep.book += 1
            if ledger.trace is not None:
                deal.trace = self._trace_row(product, deal.rep, c.entered)
            ledger.open[c.stage] += 1
            ledger.counts["open_start"] += 1
            world.at_day(c.answers_on, lambda deal=deal: self._decide(deal))

    # -- stages -----------------------------------------------------------------------
    def _work_on(self, deal: Deal) -> None:
        self.world.team.submit(self.priority, deal.effort[deal.stage], self.segment.name, deal.rep,
                               lambda rep, finish: self._worked(deal, rep, finish))

    def _worked(self, deal: Deal, rep: RepState, finish: float) -> None:
        if deal.rep is None:
            deal.rep = rep
            rep.book += 1
            if deal.trace is not None:     # the rep takes the lead up now: it waited since lead_day
                deal.trace.update(rep=rep.name, contact_day=self.world.env.now)
        world, k = self.world, deal.stage
        world.ledger.week[self._visits_column] += deal.effort[k]
        now = world.env.now
        delay = finish - now + self._stage_days(deal, k)
        if k < 2:
            # A lead or intent answer depends only on the deal's own draw and the plan, and
            # only the weekly review sees stage counts: a certain loss is settled at the
            # week's close, with no event.
            advance, lost = self._answers[k]
            if advance <= deal.u[k] < advance + lost:
                world.ledger.defer_loss(now + delay, deal)
                return
        world.at(delay, lambda: self._decide(deal))

    def _stage_days(self, deal: Deal, k: int) -> float:
        """The customer's time at stage k, as levers (faster cycles after training) scale it."""
        stage_time = self.world.levers.stage_time
        return deal.times[k] * stage_time.get((self.segment.name, k), 1.0) if stage_time else deal.times[k]

    def _pick_by_demand(self) -> int:
        demand, names = self.world.levers.product_demand, self.world.product_names
        weights = [w * demand.get(names[p], 1.0) for p, w in self._mix]
        u = self._misc() * sum(weights)
        for (p, _), w in zip(self._mix, weights):
            u -= w
            if u < 0:
                return p
        return self._mix[-1][0]

    def _decide(self, deal: Deal) -> None:
        """The customer answers: advance, lose, or stall for another stage time.

        In negotiation, levers (a competitor's price cut, training...) scale the win rate;
        of the wins a lever takes away, the `stall` share stalls instead of being lost.
        """
        world, k = self.world, deal.stage
        owner = holder(deal.rep)
        if owner is not None and not owner.active:
            # Its rep has left and the hand-over has not happened: the deal loses momentum
            # and waits (re-checked weekly) for its new owner.
            world.at(7.0, lambda: self._decide(deal))
            return
        if k < 2:
            p_advance, p_lost = self._answers[k]
        else:
            stage = self.stages[k]
            skill = owner.skill * world.levers.skill.get(owner.level, 1.0) if owner is not None else 1.0
            base = min(1.0, stage.advance * skill)
            product = world.product_names[deal.product]
            p_advance = min(1.0, base * world.levers.win_multiplier(self.segment.name, product))
            forgone = max(0.0, base - p_advance)
            stall = world.levers.stall(self.segment.name, product)
            p_lost = min(1.0 - p_advance, stage.lost_probability - (base - stage.advance) + forgone * (1.0 - stall))
            p_lost = max(0.0, p_lost)
        u = deal.u[k]
        ledger = world.ledger
        if u < p_advance:
            if k == 2 and self._lost_to_late_delivery(deal):
                self._lose(deal)
                return
            ledger.week[_ADVANCED[k]] += 1
            ledger.week[_EXITED[k]] += 1
            ledger.open[k] -= 1
            if k == 2:
                self._sign(deal)
                return
            deal.stage += 1
            ledger.open[k + 1] += 1
            if deal.trace is not None:
                deal.trace[("intent_day", "negotiation_day")[k]] = world.env.now
            self._work_on(deal)
        elif u < p_advance + p_lost:
            self._lose(deal)
        else:
            deal.u[k] = self._misc()
            world.at(self._stage_days(deal, k), lambda: self._decide(deal))

    def _lose(self, deal: Deal, day: float | None = None) -> None:
        ledger = self.world.ledger
        ledger.week[_EXITED[deal.stage]] += 1
        ledger.open[deal.stage] -= 1
        ledger.counts["lost"] += 1
        if deal.trace is not None:
            deal.trace.update(closed_day=self.world.env.now if day is None else day, outcome="lost")
        self._release(deal)

    def _lost_to_late_delivery(self, deal: Deal) -> bool:
        """The customer walks away when delivery would exceed their tolerance (some do)."""
        world = self.world
        deal.delivery = world.delivery_days(deal.product)
        tolerance = world.levers.delivery_tolerance.get(self.segment.name)
        if tolerance is None or deal.delivery <= tolerance:
            return False
        if self._misc() < world.levers.late_lost_share.get(self.segment.name, 0.0):
            world.ledger.counts["lost_late_delivery"] += 1
            return True
        return False

    def _sign(self, deal: Deal) -> None:
        world = self.world
        product = world.plan.products[deal.product]
        list_value = deal.units * product.price
        value = (list_value * world.levers.price_factor(self.segment.name, product.name)
                 * (1.0 + world.levers.bundle_uplift.get(self.segment.name, 0.0)))
        world.ledger.counts["signed"] += 1
        self.signed_seen += 1
        world.ledger.week[K["signed_week"]] += 1
        if deal.trace is not None:
            deal.trace.update(closed_day=world.env.now, outcome="won", amount=value)
        cost = list_value * (1.0 - product.margin) + value * world.levers.margin_premium.get(product.name, 0.0)
        world.record_booking(value, cost, self.segment_index,
                             deal.product, holder(deal.rep), self.index, deal.delivery)
        self._release(deal)

    def _release(self, deal: Deal) -> None:
        rep = holder(deal.rep)
        if rep is not None and rep.book > 0:
            rep.book -= 1

