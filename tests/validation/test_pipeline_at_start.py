"""A year opens with a living funnel: the deals the plan's own flows hold on day 0."""

from __future__ import annotations

import numpy as np
import pytest
from factory import make_plan, minimal_plan_data
from stats_checks import assert_close, assert_poisson

from simulate.engine.ledger import K
from simulate.engine.world import World
from simulate.engine.year import SalesYear, simulate_year

YEARS = 400


def one_channel(funnel: dict, leads_per_year: float, warm: bool):
    data = minimal_plan_data()
    data["segments"][0]["funnel"] = funnel
    data["channels"][0]["leads_per_year"] = leads_per_year
    return make_plan({"horizon": {"warm_start": warm}}, data)


def occupancy(plan, years: int = YEARS) -> np.ndarray:
    """Deals in lead, intent and negotiation on day 0, one row per replication."""
    rows = []
    for r in range(years):
        flow = SalesYear(World(plan, 11, r)).flows[0]
        counts = [0, 0, 0]
        for deal in flow.pipeline_at_start():
            counts[deal.stage] += 1
        rows.append(counts)
    return np.array(rows, dtype=float)


@pytest.mark.parametrize("time", [8, {"gamma": {"mean": 8, "sd": 6}}])
def test_each_stage_holds_what_little_s_law_says(time):
    """No capacity limit: each stage is an infinite-server queue, so it holds on day 0 a
    Poisson number of deals with mean L = lambda W, lambda the stage's arrival rate and W
    its mean time, stage time / (advance + lost) with stalls. lead: 60 % advance, 20 % lost,
    20 % stall; intent: 50 / 50; negotiation: 40 % advance, 30 % lost, 30 % stall."""
    funnel = {"lead": {"advance": 0.6, "lost": 0.2, "time": time, "effort": 0},
              "intent": {"advance": 0.5, "lost": 0.5, "time": time, "effort": 0},
              "negotiation": {"advance": 0.4, "lost": 0.3, "time": time, "effort": 0}, "units": 1}
    plan = one_channel(funnel, 730, warm=True)
    rate = 730 / 365
    into = [rate, rate * 0.6 / 0.8, rate * 0.6 / 0.8 * 0.5]
    exits = [0.8, 1.0, 0.7]
    observed = occupancy(plan)
    for k, name in enumerate(("lead", "intent", "negotiation")):
        expected = into[k] * 8 / exits[k]
        assert_poisson(observed[:, k].sum(), expected * YEARS, f"{name} deals on day 0 (x{YEARS} years)")
        # Poisson: the variance equals the mean (within the sampling error of a variance)
        assert_close(observed[:, k].var(ddof=1), expected, expected * np.sqrt(2 / (YEARS - 1) + 1 / (expected * YEARS)),
                     f"variance of {name} deals on day 0")


def test_the_year_starts_with_signings_and_without_counting_last_year():
    """With the warm start, week 1 signs deals; without it, it cannot (negotiation takes 8
    days after intent's 8). Nothing settled before day 0 is booked."""
    funnel = {"lead": {"advance": 0.8, "time": 8, "effort": 0}, "intent": {"advance": 0.8, "time": 8, "effort": 0},
              "negotiation": {"advance": 0.8, "time": 8, "effort": 0}, "units": 1}
    warm, cold = one_channel(funnel, 3650, warm=True), one_channel(funnel, 3650, warm=False)
    for r in range(3):
        w, c = (SalesYear(World(p, 5, r)).run() for p in (warm, cold))
        assert w.weekly[0, K["signed_week"]] > 0 and c.weekly[0, K["signed_week"]] == 0
        assert w.record["bookings"] > c.record["bookings"]


def test_a_traced_year_has_one_row_shape_for_every_deal():
    """Carried-in deals and the year's own leads are rows of one CRM export: same columns."""
    funnel = {"lead": {"advance": 0.8, "time": 8, "effort": 1}, "intent": {"advance": 0.8, "time": 8, "effort": 1},
              "negotiation": {"advance": 0.8, "time": 8, "effort": 1}, "units": 1}
    result = simulate_year(one_channel(funnel, 730, warm=True), 5, 0, trace=True)
    shapes = {tuple(row) for row in result.trace.deals}
    carried = [row for row in result.trace.deals if row["lead_day"] < 0]
    assert carried and len(shapes) == 1, shapes
