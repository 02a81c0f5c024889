"""Hypothesis strategies that write plans: small, legal and varied, or broken in one place.

`plans()` draws a plan document (plain data, as a YAML file would hold it) from
`factory.minimal_plan_data`: products, a new-logo segment and optionally a key-account and a
win-back segment, channels, a team with hires and leavers, collections, and optionally shocks
and playbook rules. Quantities are drawn in the forms people write (`20%`, `14d`, `60k`) and
as distributions. The plans stay small (a few hundred leads, a few dozen key accounts) so a
simulated year takes milliseconds.

`broken(plan)` breaks one thing: a value replaced by one that is illegal wherever it appears
(NaN, infinity, a mapping, a list), a key added that the format does not know, a required
key removed, or a figure out of its range. It returns the data and the path of the damage.
"""

from __future__ import annotations

import copy
from typing import Any

from factory import minimal_plan_data
from hypothesis import strategies as st

SHOCK_STARTS = ["Q2", "Q3", "+30d", "+100d", {"between": ["Q2", "Q3"]}, "month 4"]
METRIC_CONDITIONS = ["week >= {n}", "attainment_to_date < {f}", "share_negotiation > {f}",
                     "pipeline > {n}", "budget_cut >= 10%", "competitor_price_cut > 0",
                     "headcount < {n}", "reps_left >= 1", "conversion_lead < {f}", "true"]


def fraction(lo: float = 0.0, hi: float = 1.0) -> st.SearchStrategy:
    """A fraction, written as 0.25 or as '25%'."""
    x = st.floats(lo, hi, allow_nan=False).map(lambda v: round(v, 4))
    return st.one_of(x, x.map(lambda v: f"{v * 100:.2f}%"))


def days(lo: float = 0.0, hi: float = 60.0) -> st.SearchStrategy:
    d = st.integers(int(lo), int(hi))
    return st.one_of(d, d.map(lambda v: f"{v}d"), st.integers(0, int(hi) // 7).map(lambda w: f"{w}w"))


def money(lo: float, hi: float) -> st.SearchStrategy:
    x = st.floats(lo, hi, allow_nan=False).map(lambda v: round(v, 2))
    return st.one_of(x, x.map(lambda v: f"{v / 1000:.5f}k"))


def distribution(value: st.SearchStrategy, lo: float, hi: float) -> st.SearchStrategy:
    """A fixed value or one of the families, with legal parameters in [lo, hi]."""
    mean = st.floats(max(lo, 0.5), hi, allow_nan=False).map(lambda v: round(v, 3))
    spread = st.tuples(mean, st.floats(0.05, 1.0))
    return st.one_of(
        value,
        spread.map(lambda t: {"gamma": {"mean": t[0], "sd": round(t[0] * t[1], 3) + 0.001}}),
        spread.map(lambda t: {"lognormal": {"mean": t[0], "sd": round(t[0] * t[1], 3) + 0.001}}),
        st.tuples(mean, st.floats(0.0, 0.4)).map(lambda t: {"normal": {"mean": t[0], "sd": round(t[0] * t[1], 3)}}),
        mean.map(lambda m: {"exponential": {"mean": m}}),
        mean.map(lambda m: {"poisson": {"mean": m}}),
        st.lists(st.floats(lo, hi).map(lambda v: round(v, 2)), min_size=1, max_size=5).map(lambda v: {"empirical": v}),
        st.lists(st.floats(lo, hi).map(lambda v: round(v, 2)), min_size=2, max_size=2).map(
            lambda v: {"uniform": sorted(v)}),
        st.lists(st.floats(lo, hi).map(lambda v: round(v, 2)), min_size=3, max_size=3).map(
            lambda v: {"triangular": sorted(v)}),
    )


@st.composite
def stage(draw: Any) -> dict:
    advance = draw(st.floats(0.05, 1.0).map(lambda v: round(v, 3)))
    out: dict[str, Any] = {"advance": advance, "time": draw(distribution(days(0, 30), 0, 30)),
                           "effort": draw(distribution(st.sampled_from([0, 0.25, 0.5, 1, 2]), 0, 2))}
    if draw(st.booleans()):
        out["lost"] = round(draw(st.floats(0.0, 1.0 - advance)), 3)
    return out


@st.composite
def plans(draw: Any, shocks: bool = True, rules: bool = True) -> dict:
    """A legal plan document."""
    data = minimal_plan_data()
    data["seed"] = draw(st.integers(0, 2**32))
    data["horizon"] = {"start": draw(st.sampled_from(["2027-01-01", "2026-04-01", "2030-07-15"])),
                       "years": draw(st.sampled_from([0.75, 1]))}
    n_products = draw(st.integers(1, 3))
    products = []
    for i in range(n_products):
        p = {"name": f"p{i}", "portfolio": draw(st.sampled_from(["star", "cash_cow", "question_mark", "dog"])),
             "price": draw(money(1, 20_000)), "margin": draw(fraction(0, 1)),
             "growth": draw(st.sampled_from([0, "40%", "-20%", -1]))}
        if draw(st.booleans()):
            p["delivery_days"] = draw(distribution(days(0, 20), 0, 20))
        if draw(st.booleans()):
            p["supplier"] = draw(st.sampled_from(["s1", "s2"]))
        products.append(p)
    data["products"] = products
    names = [p["name"] for p in products]

    def mix() -> dict:
        weights = draw(st.lists(st.integers(0, 5), min_size=len(names), max_size=len(names)).filter(any))
        return {n: round(w / sum(weights), 6) for n, w in zip(names, weights) if w} or {names[0]: 1.0}

    def fix(m: dict) -> dict:      # rounding: make the shares add up to exactly 1
        first = next(iter(m))
        m[first] = round(1.0 - sum(v for k, v in m.items() if k != first), 6)
        return m

    smb = {"name": "SMB", "kind": "new_logo", "mix": fix(mix()),
           "funnel": {"lead": draw(stage()), "intent": draw(stage()), "negotiation": draw(stage()),
                      "units": draw(distribution(st.integers(1, 20), 1, 20))}}
    if draw(st.booleans()):
        smb["industries"] = {"education": draw(fraction(0, 0.5))}
    segments = [smb]
    if draw(st.booleans()):
        low = draw(st.floats(0, 1).map(lambda v: round(v, 3)))
        segments.append({"name": "KA", "kind": "key_accounts", "mix": fix(mix()), "accounts": {
            "count": draw(st.integers(1, 30)),
            "contract_value": draw(distribution(money(1000, 200_000), 1000, 200_000)),
            "renewal_without_visits": low,
            "renewal_with_full_visits": draw(st.floats(low, 1).map(lambda v: round(v, 3))),
            "renewal_after_rep_left": draw(fraction()), "visits_per_quarter": draw(st.sampled_from([0, 1, 4, 13])),
            "talks_open": draw(st.sampled_from(["3mo", "30d", 0]))}})
    if draw(st.booleans()):
        segments.append({"name": "WB", "kind": "winback", "mix": fix(mix()), "winback": {
            "pool": draw(st.integers(0, 40)), "calls_per_month": draw(st.sampled_from([0, 2, 5, 20])),
            "win_probability": draw(fraction()), "offer_discount": draw(fraction(0, 0.5)),
            "units": draw(distribution(st.integers(1, 20), 1, 20))}})
    data["segments"] = segments
    shares = draw(st.sampled_from([[1.0], [0.5, 0.5], [0.3, 0.7]]))
    data["channels"] = [{"name": f"c{i}", "segment": "SMB", "budget_share": s,
                         "leads_per_year": draw(st.integers(0, 300)),
                         "spend_elasticity": draw(st.sampled_from([0.5, 0.7, 1.0])),
                         "quality": draw(st.sampled_from([0.8, 1.0, 1.25]))}
                        for i, s in enumerate(shares)]
    if draw(st.booleans()):
        data["channels"][0]["seasonality"] = draw(st.lists(st.integers(0, 3), min_size=12, max_size=12).filter(any))
    if draw(st.booleans()):
        data["channels"][-1]["volatility"] = draw(st.sampled_from([0.1, 0.5, 2.0]))
    data["marketing"] = {"budget": draw(money(0, 1_000_000))}
    seg_names = [s["name"] for s in segments]
    reps = []
    for i in range(draw(st.integers(1, 4))):
        rep = {"name": f"r{i}", "level": draw(st.sampled_from(["core", "core", "new_hire", "reserve"])),
               "visits_per_week": draw(st.sampled_from([2, 7, 20, 50])),
               "skill": draw(st.sampled_from([0.8, 1.0, 1.2]))}
        if i:
            rep["segments"] = draw(st.lists(st.sampled_from(seg_names), min_size=1,
                                            max_size=len(seg_names), unique=True))
        if rep["level"] == "new_hire" and draw(st.booleans()):
            rep["start"] = data["horizon"]["start"]
        reps.append(rep)
    data["team"] = {"reps": reps, "attrition_per_year": draw(fraction(0, 0.6)),
                    "hiring_delay": draw(days(0, 90)), "handover_days": draw(days(0, 60)),
                    "training_months": draw(st.sampled_from([0, 1, 3])),
                    "mentored_months": draw(st.sampled_from([0, 2])),
                    "mentored_capacity": draw(fraction(0.1, 1))}
    data["collections"] = {"share": draw(fraction()), "delay": draw(distribution(days(0, 60), 0, 60))}
    data["target"] = {"annual": draw(money(1, 5_000_000))}
    if draw(st.booleans()):
        data["target"]["by_quarter"] = {"Q1": 0.25, "Q2": 0.25, "Q3": 0.25, "Q4": 0.25}
    suppliers = sorted({p["supplier"] for p in products if "supplier" in p})
    if shocks and draw(st.booleans()):
        data["shocks"] = draw(st.lists(shock(suppliers, "industries" in smb), min_size=1, max_size=3))
    if rules and draw(st.booleans()):
        data["rules"] = draw(st.lists(rule(names, suppliers), min_size=1, max_size=4,
                                      unique_by=lambda r: r["name"]))
    return data


@st.composite
def shock(draw: Any, suppliers: list[str], industries: bool) -> dict:
    kinds = ["budget_cut", "price_cut", "rep_leaves"] + (["supplier_delay"] if suppliers else []) \
        + (["policy_shift"] if industries else [])
    kind = draw(st.sampled_from(kinds))
    out: dict[str, Any] = {"type": kind, "start": draw(st.sampled_from(SHOCK_STARTS)),
                           "probability": draw(fraction(0.3, 1))}
    if draw(st.booleans()):
        out["duration"] = draw(distribution(days(10, 120), 10, 120))
    if kind in ("budget_cut", "price_cut", "policy_shift"):
        out["size"] = draw(st.one_of(fraction(0, 0.9), st.just({"triangular": ["5%", "10%", "30%"]})))
    if kind == "rep_leaves":
        out["top"] = 1
    if kind == "supplier_delay":
        out.update(supplier=draw(st.sampled_from(suppliers)), size=draw(distribution(days(0, 40), 0, 40)))
    if kind == "policy_shift":
        out["industry"] = "education"
    return out


@st.composite
def rule(draw: Any, products: list[str], suppliers: list[str]) -> dict:
    actions = [
        {"action": "scale_win_rate", "factor": draw(st.sampled_from([0.8, 1.2, 2]))},
        {"action": "scale_price", "factor": draw(st.sampled_from([0.9, 1.1]))},
        {"action": "scale_visits", "factor": draw(st.sampled_from([0.5, 1.5]))},
        {"action": "scale_stage_time", "stage": "negotiation", "factor": 0.8},
        {"action": "boost_demand", "factor": 1.3},
        {"action": "hire", "count": draw(st.integers(1, 3)), "segments": ["SMB"]},
        {"action": "bundle_uplift", "uplift": "10%"},
        {"action": "training", "factor": 1.1},
        {"action": "mentoring", "mentees_per_mentor": 2, "new_hire_win_rate": 1.2},
        {"action": "handover_team", "renewal_floor": "85%", "handover_days": "7d"},
        {"action": "stop_product_spend", "product": draw(st.sampled_from(products))},
        {"action": "shift_to_best_channel", "share": "30%"},
    ] + ([{"action": "backup_supplier", "supplier": suppliers[0], "max_delivery_days": "7d"}] if suppliers else [])
    template = draw(st.sampled_from(METRIC_CONDITIONS))
    when = template.format(n=draw(st.integers(1, 40)), f=draw(st.sampled_from(["20%", "0.5", "90%"])))
    out: dict[str, Any] = {"name": f"rule{draw(st.integers(0, 10_000))}",
                           "check": draw(st.sampled_from(["weekly", "monthly", "quarterly", "rep_left",
                                                          "shock_started"])),
                           "when": when, "then": [draw(st.sampled_from(actions))],
                           "cost": draw(st.sampled_from([0, "5k", "50k", "500k"])),
                           "charge": draw(st.sampled_from(["budget", "margin"])),
                           "allow_overrun": draw(st.booleans()), "once": draw(st.booleans()),
                           "priority": draw(st.integers(-5, 5))}
    if draw(st.booleans()):
        out["delay"] = draw(days(0, 30))
    if draw(st.booleans()):
        out["duration"] = draw(days(7, 90))
    if out["check"] in ("weekly", "monthly", "quarterly") and not out["once"]:
        out["cooldown"] = "120d"    # at most 3 firings stacked: within what a rule may compound
    return out


# -- breaking a plan in one place ----------------------------------------------------------

ALWAYS_ILLEGAL = [float("nan"), float("inf"), float("-inf"), {"zz_not_a_key": 1}, [[1, 2]]]
OUT_OF_RANGE = [  # (path, value): each is refused by its own rule
    (("team", "attrition_per_year"), 1.5), (("team", "reps", 0, "visits_per_week"), -3),
    (("channels", 0, "leads_per_year"), -1), (("products", 0, "margin"), "150%"),
    (("horizon", "years"), 1000), (("runs",), 10**12), (("target", "annual"), 0),
    (("products", 0, "price"), 1e18), (("collections", "share"), -0.1),
    (("segments", 0, "funnel", "lead", "advance"), 2), (("team", "reps", 0, "skill"), 0),
    (("horizon", "start"), "2027-02-30"), (("seed",), -1), (("segments", 0, "mix", "p0"), 0.5),
    (("team", "reps", 0, "start"), "2099-01-01"), (("team", "hiring_delay"), "101y"),
    (("channels", 0, "volatility"), "300%"),
]
REQUIRED = [("target",), ("target", "annual"), ("products",), ("products", 0, "price"),
            ("segments", 0, "funnel"), ("segments", 0, "funnel", "lead", "time"), ("marketing",),
            ("team", "reps"), ("channels", 0, "segment"), ("products", 0, "portfolio")]
# mappings whose keys are names the user chooses: an added key there can be legal
FREE_KEYS = ("industries",)


def leaf_paths(data: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in leaf_paths(v, path + (k,))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in leaf_paths(v, path + (i,))]
    return [path]


def mapping_paths(data: Any, path: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(data, dict):
        if not path or path[-1] not in FREE_KEYS:
            out.append(path)
        for k, v in data.items():
            out += mapping_paths(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += mapping_paths(v, path + (i,))
    return out


def _at(data: Any, path: tuple) -> Any:
    for step in path:
        data = data[step]
    return data


@st.composite
def broken(draw: Any, plan: dict) -> tuple[dict, tuple, str]:
    """The plan broken in one place: (data, path of the damage, how)."""
    data = copy.deepcopy(plan)
    how = draw(st.sampled_from(["illegal value", "unknown key", "missing key", "out of range"]))
    if how == "illegal value":
        path = draw(st.sampled_from(leaf_paths(data)))
        _at(data, path[:-1])[path[-1]] = draw(st.sampled_from(ALWAYS_ILLEGAL))
    elif how == "unknown key":
        parent = draw(st.sampled_from(mapping_paths(data)))
        key = draw(st.sampled_from(["colour", "advnce", "budgett", "zz_extra"]))
        _at(data, parent)[key] = 1
        path = parent + (key,)
    elif how == "missing key":
        path = draw(st.sampled_from([p for p in REQUIRED if _has(data, p)]))
        del _at(data, path[:-1])[path[-1]]
    else:
        path, value = draw(st.sampled_from([(p, v) for p, v in OUT_OF_RANGE if _has(data, p[:-1])]))
        if path == ("segments", 0, "mix", "p0"):
            data["segments"][0]["mix"] = {**data["segments"][0]["mix"], "p0": value + sum(
                data["segments"][0]["mix"].values())}   # shares no longer add up to 100 %
        else:
            _at(data, path[:-1])[path[-1]] = value
    return data, path, how


def _has(data: Any, path: tuple) -> bool:
    try:
        _at(data, path)
        return True
    except (KeyError, IndexError, TypeError):
        return False
