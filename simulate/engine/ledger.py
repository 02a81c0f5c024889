"""What happened in one simulated year: every booking, and the weekly KPIs a manager reviews.

The ledger is written by the model as the year runs and turned, at the end, into one flat
record (totals plus segment, product, quarter, region and rep columns) and one weekly KPI
table. Those two are all the runner keeps, so a replication's memory does not outlive it.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..plan.plan import Plan

# Weekly KPI columns, recorded at the end of each week (PDCA weekly review).
KPI_COLUMNS = (
    "bookings_cum",        # bookings to date (target metric: bookings)
    "bookings_week",
    "collections_cum",
    "leads_week",          # new leads created this week
    "visits_ka", "visits_new_logo", "visits_winback",   # rep effort delivered, in visits
    "open_lead", "open_intent", "open_negotiation",     # stage counts at the week's end
    "signed_week",
    "advanced_lead", "exited_lead",                     # stage exits this week (conversions)
    "advanced_intent", "exited_intent",
    "advanced_negotiation", "exited_negotiation",
    "headcount", "ramping", "vacancies",
)
K = {name: i for i, name in enumerate(KPI_COLUMNS)}
TARGET_SCALES_KEPT = 1e3    # a record says "the same year up to 1000 x the target" at most: a finite number


@dataclass(frozen=True)
class Booking:
    """One signed deal or renewal. Times are days from the horizon start."""

    day: float
    value: float
    margin: float
    segment: int
    product: int
    rep: int
    channel: int          # -1 for renewals and win-back
    region: int           # -1 when the plan has no regions
    delivered_day: float
    collected_day: float  # inf when the invoice is never collected


@dataclass
class Trace:
    """Optional history of one year, row by row, like a CRM export (for calibration tests
    and synthetic data). Off by default: it costs memory the Monte Carlo runs do not need."""

    deals: list[dict] = field(default_factory=list)
    renewals: list[dict] = field(default_factory=list)
    reps: list[dict] = field(default_factory=list)


def week_lengths(horizon_days: float) -> np.ndarray:
    """Each week's length in days: 7, but for the year's last, partial week (365 = 52 x 7 + 1)."""
    weeks = int(math.ceil(horizon_days / 7.0))
    return np.minimum(7.0, horizon_days - 7.0 * np.arange(weeks))


@dataclass
class ReplicationResult:
    """One simulated year, reduced to what the outputs need."""

    record: dict[str, float]
    weekly: np.ndarray
    events: int
    firings: list[tuple] = field(default_factory=list)
    trace: Trace | None = None
    without: dict[str, dict[str, float]] = field(default_factory=dict)  # by rule: the year without it


class Ledger:
    """Counters and bookings, written by the model during one replication."""

    def __init__(self, plan: Plan, horizon_days: float):
        self.plan = plan
        self.horizon = horizon_days
        self.weeks = int(math.ceil(horizon_days / 7.0))
        self.kpi = np.zeros((self.weeks, len(KPI_COLUMNS)))
        # Flows accumulated during this week: a plain list, since the model adds to it a few
        # thousand times a year and a numpy element costs several times a list's.
        self.week: list[float] = [0.0] * len(KPI_COLUMNS)
        self.open = [0, 0, 0]
        self.bookings: list[Booking] = []
        self.bookings_total = 0.0
        self.collected = 0.0            # cash in so far, as of the last closed week
        self._invoices: list[tuple[float, float]] = []   # (collection day, value) still to come
        # open_start: deals open on day 0 (the pipeline carried in, or a re-forecast's), not leads
        self.counts = {"leads": 0, "open_start": 0, "signed": 0, "lost": 0, "lost_late_delivery": 0, "ka_due": 0,
                       "ka_renewed": 0, "winback_calls": 0, "winback_won": 0, "reps_left": 0,
                       "hires": 0, "rules_unaffordable": 0}
        self.money = {"marketing_spent": 0.0, "rule_costs_budget": 0.0, "rule_costs_margin": 0.0,
                      "budget_overrun": 0.0}
        self.shock_log: list[tuple[float, str, str, float, str]] = []
        self.firings: list[tuple[float, str, str, str, float]] = []   # day, rule, action, params, cost
        self.trace: Trace | None = None
        # by rule: the target scales (target x s) under which its condition answered the same
        # so far; under all of them the year is the same year (see `same_under_target`)
        self.target_scales: dict[str, tuple[float, float]] = {}
        self._losses: list[tuple[float, int, object]] = []   # (day, seq, deal): see defer_loss
        self._loss_seq = itertools.count()

    def defer_loss(self, day: float, deal: object) -> None:
        """A deal certain to be lost on `day`: counted then, at the close of its week."""
        heapq.heappush(self._losses, (day, next(self._loss_seq), deal))

    def settle_losses(self, until: float) -> None:
        """Count the deferred losses due by `until` in this week's flows and stage counts."""
        while self._losses and self._losses[0][0] <= until:
            day, _, deal = heapq.heappop(self._losses)
            deal.flow._lose(deal, day)   # type: ignore[attr-defined]

    def same_under_target(self, rule: str, low: float, high: float) -> None:
        """`rule`'s condition answered the same for targets scaled by [low, high] only.
        Kept by rule: a year forked without a rule forgets what that rule read."""
        was = self.target_scales.get(rule, (0.0, math.inf))
        self.target_scales[rule] = (max(was[0], low), min(was[1], high))

    def book(self, b: Booking) -> None:
        self.bookings.append(b)
        self.bookings_total += b.value
        self.week[K["bookings_week"]] += b.value
        if b.collected_day < self.horizon:
            heapq.heappush(self._invoices, (b.collected_day, b.value))

    def close_week(self, index: int, headcount: int, ramping: int, vacancies: int, now: float) -> None:
        row = self.week
        row[K["bookings_cum"]] = self.bookings_total
        while self._invoices and self._invoices[0][0] <= now:    # no rescan of every booking
            self.collected += heapq.heappop(self._invoices)[1]
        row[K["collections_cum"]] = self.collected
        row[K["open_lead"]], row[K["open_intent"]], row[K["open_negotiation"]] = self.open
        row[K["headcount"]], row[K["ramping"]], row[K["vacancies"]] = headcount, ramping, vacancies
        if index < self.weeks:
            self.kpi[index] = row
        self.week = [0.0] * len(KPI_COLUMNS)

    def result(self, rep_names: list[str], events: int) -> ReplicationResult:
        return ReplicationResult(self.record(rep_names), self.kpi, events, list(self.firings), self.trace)

    def record(self, rep_names: list[str]) -> dict[str, float]:
        """The flat per-replication row: totals, then one column per segment, product..."""
        plan, horizon = self.plan, self.horizon
        metric = plan.target.metric
        values = {
            "bookings": [b.value for b in self.bookings],
            "revenue": [b.value if b.delivered_day < horizon else 0.0 for b in self.bookings],
            "collections": [b.value if b.collected_day < horizon else 0.0 for b in self.bookings],
            "margin": [b.margin for b in self.bookings],
        }
        row: dict[str, float] = {m: float(sum(v)) for m, v in values.items()}
        row["margin"] -= self.money["rule_costs_margin"]     # a rule charged to margin
        row["attainment"] = row[metric] / plan.target.annual
        row["hit"] = float(row["attainment"] >= 1.0)
        row.update({k: float(v) for k, v in self.counts.items()})
        row.update(self.money)
        for rule in (k[len("fired:"):] for k in self.counts if k.startswith("fired:")):
            days = [f[0] for f in self.firings if f[1] == rule]
            row[f"first:{rule}"] = float(min(days)) if days else float("nan")
        row["open_end"] = float(sum(self.open))
        low = max((r[0] for r in self.target_scales.values()), default=0.0)
        high = min((r[1] for r in self.target_scales.values()), default=math.inf)
        row["same_year_target_low"] = plan.target.annual * low
        row["same_year_target_high"] = plan.target.annual * min(high, TARGET_SCALES_KEPT)
        by_metric = values[metric]
        quarters = quarter_labels(horizon)
        dims = {
            "segment": [s.name for s in plan.segments],
            "product": [p.name for p in plan.products],
            "quarter": quarters,
            "region": list(plan.regions),
            "rep": rep_names,
        }
        totals = {d: np.zeros(len(names)) for d, names in dims.items()}
        for b, v in zip(self.bookings, by_metric):
            totals["segment"][b.segment] += v
            totals["product"][b.product] += v
            totals["quarter"][min(max(int(b.day // 91.25), 0), len(quarters) - 1)] += v   # never a negative index
            if b.region >= 0:
                totals["region"][b.region] += v
            # initial reps by name; replacements and rule hires as "new hires"; -1 unassigned
            totals["rep"][len(rep_names) - 1 if b.rep < 0 else min(b.rep, len(rep_names) - 2)] += v
        for d, names in dims.items():
            for name, v in zip(names, totals[d]):
                row[f"{d}:{name}"] = float(v)
        return row


def quarter_labels(horizon_days: float) -> list[str]:
    n = max(1, int(math.ceil(horizon_days / 91.25 - 1e-9)))
    if n <= 4:
        return [f"Q{i + 1}" for i in range(n)]
    return [f"Y{i // 4 + 1}Q{i % 4 + 1}" for i in range(n)]
