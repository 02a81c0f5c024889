"""The knobs of a plan that move during a year.

The plan is frozen; what a shock or a playbook action changes mid-year lives here, as
multipliers and offsets that start neutral. The model reads a lever at the moment it
matters (a decision, a booking, a week's lead budget), so a change bites from then on.
Every lever has a unit and a neutral value; shocks and rule actions only ever set these.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Levers:
    """Current multipliers and offsets; keys are segment, product or channel names."""

    win_rate: dict[tuple[str, str], float] = field(default_factory=dict)   # (segment, product) -> x
    price: dict[str, float] = field(default_factory=dict)                  # product -> price factor
    bundle_uplift: dict[str, float] = field(default_factory=dict)          # segment -> +order value
    channel_spend: dict[str, float] = field(default_factory=dict)          # channel -> share of plan
    demand: dict[str, float] = field(default_factory=dict)                 # segment -> lead demand
    renewal: dict[str, float] = field(default_factory=dict)                # segment -> renewal factor
    delivery_extra_days: dict[str, float] = field(default_factory=dict)    # product -> +days
    visits_scale: float = 1.0                                              # all reps' pace
    renewal_floor_after_rep_left: float | None = None                      # hand-over team

    def win_multiplier(self, segment: str, product: str) -> float:
        return (self.win_rate.get((segment, product), 1.0) * self.win_rate.get((segment, "*"), 1.0)
                * self.win_rate.get(("*", product), 1.0))

    def price_factor(self, product: str) -> float:
        return self.price.get(product, 1.0)

    def spend(self, channel: str) -> float:
        return self.channel_spend.get(channel, 1.0)
