"""The way back from a run folder: what its tables say, as the report and its charts read them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..run.scenario import BASELINE, NO_RULES
from ..words import say


@dataclass
class RunView:
    """What a run folder holds, as the report and its charts read it: the headline variant
    (the first in summary.json) and, beside it, the variants simulated with it."""

    summary: dict[str, Any]
    replications: pd.DataFrame
    weekly: pd.DataFrame
    firings: pd.DataFrame | None
    start: dt.date
    days: float                     # the horizon's length: the last week may be short
    plan: dict[str, Any] | None = None   # the resolved plan as written (the manifest's)

    @property
    def headline(self) -> str:
        return next(iter(self.summary["variants"]))

    def others(self) -> list[str]:
        """The other variants simulated beside the headline, companions included."""
        names = self.replications["variant"].unique() if "variant" in self.replications else []
        return [str(n) for n in names if n != self.headline]

    def label(self, variant: str) -> str:
        """A variant's name for people: the companions '__baseline__' and '__no_rules__' read
        'without the shocks' and 'without the playbook'; 'plan @ price_war' reads 'price_war'
        in a stress run, where every line is the plan under another scenario."""
        if variant in (BASELINE, NO_RULES):
            return say("label.baseline" if variant == BASELINE else "label.no_rules")
        if self.summary.get("matrix") and " @ " in variant:
            return variant.split(" @ ", 1)[1]
        return variant

    def rows(self, variant: str | None = None) -> pd.DataFrame:
        rows = self.replications
        return rows[rows["variant"] == (variant or self.headline)] if "variant" in rows else rows

    def weeks(self, variant: str | None = None) -> pd.DataFrame:
        """A variant's weeks, without trailing weeks the year never closed (all zero)."""
        w = self.weekly
        w = w[w["variant"] == (variant or self.headline)] if "variant" in w else w
        kpis = w.drop(columns=["week", "variant"], errors="ignore").to_numpy()
        closed = np.flatnonzero(np.abs(kpis).sum(axis=1) > 0)
        return w.iloc[: closed[-1] + 1] if closed.size else w

    def date(self, day: float) -> dt.date:
        return self.start + dt.timedelta(days=float(day))

    def week_end(self, week: int) -> float:
        """The day a (1-based) week closes on."""
        return min(7.0 * week, self.days)

    def target_to_date(self, days: np.ndarray) -> np.ndarray:
        """The target path: quarterly targets spread evenly over their quarters (else linear)."""
        quarters = self.summary["variants"][self.headline].get("by_quarter") or {}
        goals = [q.get("target") for q in quarters.values()]
        if not goals or any(g is None for g in goals):
            return self.summary["target"] * np.minimum(days / self.days, 1.0)
        edges = np.arange(len(goals) + 1) * 91.25
        return np.interp(days, edges, np.concatenate([[0.0], np.cumsum(goals)]))

    def monthly_pipeline(self) -> pd.DataFrame:
        """Per month of the average year: deals open in each stage (mean) and deals signed."""
        w = self.weeks()
        month = [self.date(self.week_end(wk) - 1).strftime("%Y-%m") for wk in w["week"]]
        stages = ["open_lead_mean", "open_intent_mean", "open_negotiation_mean"]
        signed = w["signed_week_mean"].groupby(month).sum()
        counts = pd.concat([w[stages].groupby(month).mean(), signed], axis=1)
        counts.columns = ["lead", "intent", "negotiation", "signed"]
        return counts

    def first_firings(self) -> dict[str, np.ndarray]:
        """Each rule's first firing day, in every year it fired: from the replications'
        `first:` columns, else from the firings table."""
        rows, f = self.rows(), self.firings
        firsts = {c.split(":", 1)[1]: rows[c].dropna().to_numpy()
                  for c in rows if c.startswith("first:")}
        if not firsts and f is not None and not f.empty:
            if "variant" in f:   # the headline's firings, else the first variant's with rules
                f = f[f["variant"] == (self.headline if self.headline in set(f["variant"])
                                       else f["variant"].iloc[0])]
            firsts = {str(rule): g.groupby("replication")["day"].min().to_numpy()
                      for rule, g in f.groupby("rule", sort=False)}
        return {rule: np.sort(days) for rule, days in firsts.items() if len(days)}
