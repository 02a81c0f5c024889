"""The knobs of a plan that move during a year.

The plan is frozen; what a shock or a playbook action changes mid-year lives here, as
multipliers and offsets that start neutral. The model reads a lever at the moment it
matters (a decision, a booking, a week's lead budget), so a change bites from then on.
Every lever has a unit and a neutral value; shocks and rule actions only ever set these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Levers:
    """Current multipliers and offsets. Keys (segment, product) accept "*" as a wildcard."""

    win_rate: dict[tuple[str, str], float] = field(default_factory=dict)     # x negotiation win rate
    stall_share: dict[tuple[str, str], float] = field(default_factory=dict)  # forgone wins that stall
    price: dict[tuple[str, str], float] = field(default_factory=dict)        # x price realised
    renewal: dict[tuple[str, str], float] = field(default_factory=dict)      # x renewal probability
    bundle_uplift: dict[str, float] = field(default_factory=dict)            # segment -> +order value
    channel_spend: dict[str, float] = field(default_factory=dict)            # channel -> share of plan
    industry_demand: dict[str, float] = field(default_factory=dict)          # industry -> x demand
    delivery_extra_days: dict[str, float] = field(default_factory=dict)      # product -> +days
    delivery_cap_days: dict[str, float] = field(default_factory=dict)        # product -> max days
    delivery_tolerance: dict[str, float] = field(default_factory=dict)       # segment -> days
    late_lost_share: dict[str, float] = field(default_factory=dict)          # segment -> share lost
    stage_time: dict[tuple[str, int], float] = field(default_factory=dict)   # (segment, stage) -> x
    product_demand: dict[str, float] = field(default_factory=dict)           # product -> x leads
    lead_boost: dict[str, float] = field(default_factory=dict)               # segment -> x leads, unpaid
    margin_premium: dict[str, float] = field(default_factory=dict)           # product -> cost share
    skill: dict[str, float] = field(default_factory=dict)                    # rep level -> x win rate
    visits_scale: float = 1.0                                                # all reps' pace
    spend_scale: float = 1.0                                                 # all channels' spend
    spend_saved: float = 0.0                                                 # share not spent (paused)
    renewal_floor_after_rep_left: float | None = None                        # hand-over team
    # (id(table), key) -> [zero factors in force, product of the other factors]: see LeverEdits
    zeroed: dict[tuple[int, Any], list] = field(default_factory=dict, repr=False)

    @staticmethod
    def _lookup(table: dict[tuple[str, str], float], segment: str, product: str) -> float:
        if not table:
            return 1.0
        return (table.get((segment, product), 1.0) * table.get((segment, "*"), 1.0)
                * table.get(("*", product), 1.0))

    def win_multiplier(self, segment: str, product: str) -> float:
        return self._lookup(self.win_rate, segment, product)

    def price_factor(self, segment: str, product: str) -> float:
        return self._lookup(self.price, segment, product)

    def renewal_factor(self, segment: str, product: str) -> float:
        return self._lookup(self.renewal, segment, product)

    def stall(self, segment: str, product: str) -> float:
        if not self.stall_share:
            return 0.0
        return min(1.0, self.stall_share.get((segment, product), 0.0) + self.stall_share.get((segment, "*"), 0.0)
                   + self.stall_share.get(("*", product), 0.0))

    def spend(self, channel: str) -> float:
        return self.channel_spend.get(channel, 1.0)


class LeverEdits:
    """A set of changes to levers that can be taken back, in reverse order.

    Shocks and playbook actions both move levers through this, so an effect with a
    duration ends exactly: multiplicative changes are divided out, additions subtracted,
    and overwritten values restored.
    """

    def __init__(self, levers: Levers) -> None:
        self._undo: list[Callable[[], None]] = []
        self._zeroed = levers.zeroed       # shared by every edit of the year's levers

    def scale(self, table: dict, key: Any, factor: float) -> None:
        """Multiply a lever. A factor of 0 cannot be divided out: while one is in force the
        lever reads 0 and the other factors are kept aside, so ending any of the edits, in
        any order, leaves exactly the product of those still in force."""
        slot = (id(table), key)
        if factor == 0:
            held = self._zeroed.setdefault(slot, [0, table.get(key, 1.0)])
            held[0] += 1
            table[key] = 0.0
            self._undo.append(lambda: self._lift_zero(table, key, slot))
            return
        if slot in self._zeroed:
            self._zeroed[slot][1] *= factor
        else:
            table[key] = table.get(key, 1.0) * factor
        self._undo.append(lambda: self._divide(table, key, slot, factor))

    def _divide(self, table: dict, key: Any, slot: tuple, factor: float) -> None:
        if slot in self._zeroed:
            self._zeroed[slot][1] /= factor
        else:
            table[key] = table[key] / factor

    def _lift_zero(self, table: dict, key: Any, slot: tuple) -> None:
        held = self._zeroed[slot]
        held[0] -= 1
        if held[0] == 0:
            del self._zeroed[slot]
            table[key] = held[1]

    def add(self, table: dict, key: Any, amount: float) -> None:
        table[key] = table.get(key, 0.0) + amount
        self._undo.append(lambda: table.__setitem__(key, table[key] - amount))

    def set(self, table: dict, key: Any, value: Any) -> None:
        missing = object()
        before = table.get(key, missing)
        table[key] = value
        self._undo.append(lambda: table.pop(key, None) if before is missing else table.__setitem__(key, before))

    def set_attr(self, obj: Any, name: str, value: Any) -> None:
        before = getattr(obj, name)
        setattr(obj, name, value)
        self._undo.append(lambda: setattr(obj, name, before))

    def undo(self) -> None:
        for step in reversed(self._undo):
            step()
        self._undo.clear()
