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
extra ones, its lead k arriving no later. That is what makes comparisons paired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .distributions import poisson_quantile
from .ledger import K
from .plan import Channel, Segment
from .season import season
from .streams import Uniforms, Weekly, stream
from .team import holder

if TYPE_CHECKING:
    from .model import World
    from .team import RepState

FATE_BLOCK = 64     # leads drawn at a time: fixed, so lead k has the same fate in every variant
_ADVANCED = (K["advanced_lead"], K["advanced_intent"], K["advanced_negotiation"])
_EXITED = (K["exited_lead"], K["exited_intent"], K["exited_negotiation"])


class Deal:
    """One lead on its way through the funnel."""

    __slots__ = ("flow", "stage", "rep", "u", "times", "units", "product", "delivery", "trace")

    def __init__(self, flow: "ChannelFlow", u: list[float], times: list[float], units: float, product: int):
        self.flow, self.stage, self.rep = flow, 0, None
        self.u, self.times, self.units, self.product = u, times, units, product
        self.delivery = 0.0
        self.trace: dict | None = None


class ChannelFlow:
    """The leads of one channel into one segment, and every deal they become."""

    def __init__(self, world: "World", channel: Channel, index: int):
        self.world, self.channel, self.index = world, channel, index
        self.segment: Segment = world.plan.segment(channel.segment)
        self.segment_index = world.segment_index[self.segment.name]
        self.priority = 0 if self.segment.kind == "key_accounts" else 1
        self.funnel = self.segment.funnel
        assert self.funnel is not None  # guaranteed by the plan's validation
        self.stages = self.funnel.stages()
        # Per-stage constants of the hot path, computed once (the same arithmetic as before).
        self._effort = [st.effort for st in self.stages]
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

    # -- arrivals ---------------------------------------------------------------------
    def expected_leads(self, start: float, length: float) -> float:
        """Leads expected over `length` days from horizon day `start`: the planned volume in
        the season's share of those days (each day at its calendar month's rate), bent by
        spend (diminishing returns) and demand as the levers stand now."""
        c = self.channel
        lev = self.world.levers
        spend = lev.spend(c.name) * lev.spend_scale * self._spend_vs_reference
        leads = c.leads_per_year * (spend ** c.spend_elasticity if spend > 0 else 0.0)
        leads *= lev.demand.get(self.segment.name, 1.0) * lev.lead_boost.get(self.segment.name, 1.0)
        leads *= self.world.industry_factor(self.segment)
        if lev.product_demand:
            leads *= sum(w * lev.product_demand.get(self.world.product_names[p], 1.0)
                         for p, w in self._mix) / self._mix_total
        return leads * self._season.share(start, start + length)

    def schedule_week(self, start: float, length: float) -> None:
        """Draw this week's leads now: the count from the week's one uniform, each lead at
        its own uniform time in the week (see the module's note on pairing)."""
        n = poisson_quantile(self._counts(), self.expected_leads(start, length))
        if n == 0:
            return
        offsets = sorted(self._arrival_times.draw(int(start // 7.0), n).tolist())
        at, now = self.world.at, self.world.env.now
        for off in offsets:
            at(start + off * length - now, self._arrive)

    def _next_fate(self) -> tuple:
        if not self._block:
            rng, n = self._fates, FATE_BLOCK
            u = rng.random((n, 3))
            times = np.column_stack([s.time.sample(rng, n) for s in self.stages])
            units = self.funnel.units.sample(rng, n)
            pick = np.searchsorted(self._mix_cdf, rng.random(n) * self._mix_cdf[-1], side="right")
            self._block = list(zip(u.tolist(), times.tolist(), units.tolist(), pick.tolist()))
            self._block.reverse()
        return self._block.pop()

    def _arrive(self) -> None:
        u, times, units, pick = self._next_fate()
        product = self._mix_products[min(pick, len(self._mix_products) - 1)]
        if self.world.levers.product_demand:    # marketing moved between products: re-pick
            product = self._pick_by_demand()
        deal = Deal(self, u, times, max(units, 0.0), product)
        self.leads_seen += 1
        ledger = self.world.ledger
        if ledger.trace is not None:
            deal.trace = {"deal": len(ledger.trace.deals) + 1, "channel": self.channel.name,
                          "segment": self.segment.name, "product": self.world.product_names[product],
                          "rep": None, "lead_day": self.world.env.now, "intent_day": None,
                          "negotiation_day": None, "closed_day": None, "outcome": "open", "amount": None}
            ledger.trace.deals.append(deal.trace)
        ledger.counts["leads"] += 1
        ledger.week[K["leads_week"]] += 1
        ledger.open[0] += 1
        self._work_on(deal)

    def reopen(self, stage: int, product: int, amount: float | None, rep: "RepState | None") -> None:
        """Re-forecast: a deal already open in `stage` carries on from there.

        It takes a fate like any new lead (its stage draws and times); its order size comes
        from the export's amount when there is one. Its rep does the stage's work again:
        a small over-count of effort, on the side of caution.
        """
        u, times, units, _ = self._next_fate()
        price = self.world.plan.products[product].price
        if amount is not None and price > 0:
            units = amount / price
        deal = Deal(self, u, times, max(units, 0.0), product)
        deal.stage = stage
        if rep is not None and rep.active:
            deal.rep = rep
            rep.book += 1
        self.world.ledger.open[stage] += 1
        self._work_on(deal)

    # -- stages -----------------------------------------------------------------------
    def _work_on(self, deal: Deal) -> None:
        self.world.team.submit(self.priority, self._effort[deal.stage], self.segment.name, deal.rep,
                               lambda rep, finish: self._worked(deal, rep, finish))

    def _worked(self, deal: Deal, rep: "RepState", finish: float) -> None:
        if deal.rep is None:
            deal.rep = rep
            rep.book += 1
            if deal.trace is not None:
                deal.trace["rep"] = rep.name
        world, k = self.world, deal.stage
        world.ledger.week[self._visits_column] += self._effort[k]
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

