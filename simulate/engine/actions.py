"""What each rule action does to the simulated year: the mechanism behind each action spec.

The spec (its parameters and their checks) is in `plan.rules`; this module holds what
happens when a rule fires, one function per action type, in the `APPLY` table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol

from ..plan.rules import (
    STAGE_INDEX,
    BackupSupplier,
    BoostDemand,
    BundleUplift,
    HandoverTeam,
    Hire,
    Mentoring,
    ScalePrice,
    ScaleRenewal,
    ScaleStageTime,
    ScaleVisits,
    ScaleWinRate,
    ShiftBudget,
    ShiftToBestChannel,
    StopProductSpend,
    Training,
)
from .levers import LeverEdits

if TYPE_CHECKING:
    from .levers import Levers
    from .world import World


class Manager(Protocol):
    """What an action can do in the year: the levers, and the moves a manager makes."""

    world: "World"
    levers: "Levers"
    segment_names: list[str]

    def targets(self, segments: list[str], products: list[str]) -> list[tuple[str, str]]: ...

    def capacity_changed(self) -> None: ...

    def shift_spend(self, source: str, to: str, share: float, edits: LeverEdits) -> None: ...

    def best_channel(self) -> str | None: ...

    def channel_segment(self, channel: str) -> str: ...

    def redirect_product_budget(self, product: str, reinvest_in: list[str], edits: LeverEdits) -> None: ...

    def hire(self, count: int, segments: list[str], level: str, delay: float | None) -> None: ...

    def speed_up_handover(self, days: float) -> None: ...

    def reassign_mentors(self, mentees_per_mentor: int) -> None: ...


def scale_win_rate(action: ScaleWinRate, run: "Manager", edits: LeverEdits) -> None:
    for key in run.targets(action.segments, action.products):
        edits.scale(run.levers.win_rate, key, action.factor)


def scale_price(action: ScalePrice, run: "Manager", edits: LeverEdits) -> None:
    for key in run.targets(action.segments, action.products):
        edits.scale(run.levers.price, key, action.factor)


def scale_renewal(action: ScaleRenewal, run: "Manager", edits: LeverEdits) -> None:
    for key in run.targets(action.segments, action.products):
        edits.scale(run.levers.renewal, key, action.factor)


def bundle_uplift(action: BundleUplift, run: "Manager", edits: LeverEdits) -> None:
    for seg in action.segments or run.segment_names:
        edits.add(run.levers.bundle_uplift, seg, action.uplift)


def scale_visits(action: ScaleVisits, run: "Manager", edits: LeverEdits) -> None:
    edits.set_attr(run.levers, "visits_scale", run.levers.visits_scale * action.factor)
    run.capacity_changed()


def scale_stage_time(action: ScaleStageTime, run: "Manager", edits: LeverEdits) -> None:
    for seg in action.segments or run.segment_names:
        edits.scale(run.levers.stage_time, (seg, STAGE_INDEX[action.stage]), action.factor)


def shift_budget(action: ShiftBudget, run: "Manager", edits: LeverEdits) -> None:
    run.shift_spend(action.source, action.to, action.share, edits)


def shift_to_best_channel(action: ShiftToBestChannel, run: "Manager", edits: LeverEdits) -> None:
    best = run.best_channel()
    if best is None:
        return
    for c in run.world.plan.channels:
        if c.name != best and run.world.plan.segment(c.segment).name == run.channel_segment(best):
            run.shift_spend(c.name, best, action.share, edits)


def stop_product_spend(action: StopProductSpend, run: "Manager", edits: LeverEdits) -> None:
    edits.set(run.levers.product_demand, action.product, 0.0)
    run.redirect_product_budget(action.product, action.reinvest_in, edits)


def boost_demand(action: BoostDemand, run: "Manager", edits: LeverEdits) -> None:
    for seg in action.segments or run.segment_names:
        edits.scale(run.levers.lead_boost, seg, action.factor)


def hire(action: Hire, run: "Manager", edits: LeverEdits) -> None:
    run.hire(action.count, action.segments, action.level, action.hiring_delay)


def handover_team(action: HandoverTeam, run: "Manager", edits: LeverEdits) -> None:
    edits.set_attr(run.levers, "renewal_floor_after_rep_left", action.renewal_floor)
    if action.handover_days is not None:
        run.speed_up_handover(action.handover_days)


def backup_supplier(action: BackupSupplier, run: "Manager", edits: LeverEdits) -> None:
    for p in run.world.plan.products:
        if p.supplier == action.supplier:
            edits.set(run.levers.delivery_cap_days, p.name, action.max_delivery_days)
            edits.add(run.levers.margin_premium, p.name, action.cost_premium)


def training(action: Training, run: "Manager", edits: LeverEdits) -> None:
    for level in action.levels:
        edits.scale(run.levers.skill, level, action.factor)


def mentoring(action: Mentoring, run: "Manager", edits: LeverEdits) -> None:
    edits.scale(run.levers.skill, "new_hire", action.new_hire_win_rate)
    run.reassign_mentors(action.mentees_per_mentor)


APPLY: dict[str, Callable[[Any, "Manager", LeverEdits], None]] = {
    "scale_win_rate": scale_win_rate,
    "scale_price": scale_price,
    "scale_renewal": scale_renewal,
    "bundle_uplift": bundle_uplift,
    "scale_visits": scale_visits,
    "scale_stage_time": scale_stage_time,
    "shift_budget": shift_budget,
    "shift_to_best_channel": shift_to_best_channel,
    "stop_product_spend": stop_product_spend,
    "boost_demand": boost_demand,
    "hire": hire,
    "handover_team": handover_team,
    "backup_supplier": backup_supplier,
    "training": training,
    "mentoring": mentoring,
}
