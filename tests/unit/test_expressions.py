"""The condition language of playbook rules: small, safe, and checked when the file loads.

Unit tests of `simulate.plan.conditions`: what a condition means (quantities, chained
comparisons, and/or/not, min/max/abs), what it may not contain (anything that is not a
number, a whitelisted metric or one of those operators: no attribute access, no calls, no
subscripts, no lambdas, no strings, never `eval`), and the errors a manager gets for a
typo, a syntax error or a condition that can never be true, with the column to look at.
"""

from __future__ import annotations

import ast
import inspect

import pytest

from simulate.plan import conditions as expressions
from simulate.plan.conditions import METRICS, ConditionError, parse_condition


def holds(text: str, **values: float) -> bool:
    cond = parse_condition(text)
    return cond.holds({name: values.get(name, 0.0) for name in cond.metrics})


def error(text: object) -> str:
    with pytest.raises(ConditionError) as exc:
        parse_condition(text)
    return str(exc.value)


# --- meaning ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    ("competitor_price_cut >= 20%", 0.2), ("budget_left < 50k", 50_000.0), ("budget_left < 50K", 50_000.0),
    ("bookings_to_date > 1.2M", 1_200_000.0), ("bookings_to_date > 2bn", 2e9),
    ("share_negotiation > 40 %", 0.4), ("budget_spent > 0.5M", 500_000.0), ("pipeline > 12", 12.0),
])
def test_percentages_and_money_literals_are_numbers(text, value):
    cond = parse_condition(text)
    constants = [n.value for n in ast.walk(cond.tree) if isinstance(n, ast.Constant)]
    assert constants == [pytest.approx(value, rel=1e-12)]
    name = text.split()[0]
    above, below = holds(text, **{name: value * 1.001}), holds(text, **{name: value * 0.999})
    assert above != below


def test_a_percentage_is_a_fraction():
    assert holds("competitor_price_cut >= 20%", competitor_price_cut=0.2)
    assert not holds("competitor_price_cut >= 20%", competitor_price_cut=0.19)
    assert holds("competitor_price_cut == 0.2", competitor_price_cut=0.2)


@pytest.mark.parametrize("value, expected", [(0.1, False), (0.2, True), (0.35, True), (0.5, False), (0.7, False)])
def test_chained_comparisons(value, expected):
    assert holds("20% <= competitor_price_cut < 50%", competitor_price_cut=value) is expected


def test_and_or_not_and_arithmetic():
    text = "not (weekly_bookings_vs_plan >= 1) and (pipeline - open_negotiation) * 2 > 10 or headcount < 3"
    assert holds(text, weekly_bookings_vs_plan=0.5, pipeline=10, open_negotiation=4, headcount=5)
    assert not holds(text, weekly_bookings_vs_plan=1.5, pipeline=10, open_negotiation=4, headcount=5)
    assert holds(text, weekly_bookings_vs_plan=1.5, pipeline=0, open_negotiation=0, headcount=2)
    assert holds("-behind_plan < -10%", behind_plan=0.2)


def test_min_max_abs():
    assert holds("max(open_lead, open_intent) > 10", open_lead=3, open_intent=11)
    assert not holds("min(open_lead, open_intent) > 10", open_lead=3, open_intent=11)
    assert holds("abs(behind_plan) > 0.1", behind_plan=-0.2)


def test_division_by_zero_does_not_crash_a_year():
    assert holds("pipeline / open_lead > 1", pipeline=5, open_lead=0)
    assert not holds("pipeline / open_lead > 1", pipeline=0, open_lead=0)


def test_true_false_and_yaml_booleans():
    assert parse_condition(True).holds({})
    assert parse_condition("true").holds({})
    assert holds("true and pipeline > 1", pipeline=2)
    assert parse_condition("pipeline > 1").metrics == frozenset({"pipeline"})


def test_the_condition_remembers_the_metrics_it_reads():
    cond = parse_condition("week >= 8 and attainment_to_date < 90%")
    assert cond.metrics == frozenset({"week", "attainment_to_date"})
    assert cond.text == "week >= 8 and attainment_to_date < 90%"


# --- errors a manager can act on ------------------------------------------------------------


def test_unknown_metric_with_did_you_mean_and_column():
    message = error("bookings_to_date > 1.2M and pipline > 3")
    assert "unknown metric 'pipline' (did you mean 'pipeline'?)" in message
    assert "at column 29" in message        # the column in the text as written, after '1.2M'


def test_unknown_metric_without_a_close_match_says_where_to_look():
    message = error("zzz > 3")
    assert "unknown metric 'zzz' at column 1" in message and "rules metrics" in message


@pytest.mark.parametrize("text, column", [
    ("pipeline > > 3", 12),
    ("pipeline > 3 (", 14),
    ("bookings_to_date > 1.2M +", 26),        # at the end: the column after the text
    ("budget_cut >= 20% )", 19),
    ("  pipeline >", 13),
])
def test_syntax_error_names_the_column_of_the_text_as_written(text, column):
    message = error(text)
    assert message.startswith(f"syntax error in condition {text!r} at column {column}:"), message


@pytest.mark.parametrize("text", [
    "share_negotiation > 1.5", "share_negotiation > 150%", "budget_cut > 2", "competitor_price_cut > 100%",
    "collection_rate < 0", "month > 12", "quarter == 5", "budget_cut > 2 and pipeline > 1", "false",
    "share_lead + share_intent > 2",
])
def test_a_condition_that_can_never_be_true_is_rejected_at_load(text):
    assert "can never be true" in error(text)


def test_the_never_true_message_gives_the_metric_s_range():
    assert error("share_negotiation > 1.5").endswith("share_negotiation is in [0, 1]")


@pytest.mark.parametrize("text", ["competitor_price_cut >= 100%", "share_negotiation > 1.5 or pipeline > 1",
                                  "budget_left < 0", "behind_plan > -1"])
def test_a_condition_that_can_be_true_is_accepted(text):
    parse_condition(text)


@pytest.mark.parametrize("text, fragment", [
    ("pipeline.real > 1", "'pipeline.real' is not allowed"),
    ("pipeline.__class__ > 1", "is not allowed"),
    ("int(pipeline) > 1", "only min(), max() and abs() may be called"),
    ("__import__('os') > 0", "only min(), max() and abs() may be called"),
    ("__import__('os').system('true')", "may be called"),
    ("open('/etc/passwd') > 0", "may be called"),
    ("min(pipeline, key=abs) > 0", "may be called"),
    ("(lambda: 1)() > 0", "may be called"),
    ("lambda: 1", "is not allowed"),
    ("[1, 2][0] > 0", "is not allowed"),
    ("pipeline[0] > 1", "is not allowed"),
    ("'a' == 'a'", "only numbers"),
    ("pipeline > 'x'", "only numbers"),
    ("pipeline in [1, 2]", "only <, <=, >, >=, ==, != compare values"),
    ("pipeline is 1", "compare values"),
    ("pipeline ** 2 > 1", "only + - * / are allowed"),
    ("pipeline % 2 > 1", "only + - * / are allowed"),
    ("pipeline // 2 > 1", "only + - * / are allowed"),
    ("~pipeline > 1", "only 'not' and unary minus"),
    ("1 if pipeline else 2", "is not allowed"),
    ("(x := 1) > 0", "is not allowed"),
    ("[x for x in ()] == []", "is not allowed"),
    ("pipeline > 1e999", "only numbers"),
    ("pipeline > None", "only numbers"),
    ("f'{pipeline}' == ''", "is not allowed"),
])
def test_anything_but_numbers_metrics_and_operators_is_rejected(text, fragment):
    assert fragment in error(text)


def test_rejections_name_the_column():
    assert error("pipeline > 1 and pipeline.real > 1").endswith("at column 18")
    assert "at column 24" in error("competitor_price_cut > int(pipeline)")


@pytest.mark.parametrize("text", ["", "   ", None, 3, ["pipeline > 1"]])
def test_not_a_condition(text):
    assert "expected a condition" in error(text)


def test_deeply_nested_conditions_are_an_error_not_a_crash():
    assert "nested too deeply" in error("1+" * 5000 + "1 > 0")
    assert "nested too deeply" in error("-" * 200 + "1 > 0")
    assert "syntax error" in error("(" * 300 + "1" + ")" * 300 + " > 0")


# --- no eval, no exec --------------------------------------------------------------------------


def test_the_module_never_calls_eval_exec_or_compile():
    tree = ast.parse(inspect.getsource(expressions))
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_conditions_are_interpreted_with_eval_and_exec_unavailable(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec/compile must not be used")
    for name in ("eval", "exec", "compile", "__import__"):
        monkeypatch.setattr(expressions, name, forbidden, raising=False)   # shadows the builtin there
    assert holds("max(open_lead, 2) * 10% >= 20% and not pipeline > 1M", open_lead=3, pipeline=5)


def test_every_metric_has_a_range_and_a_description():
    for metric in METRICS.values():
        assert metric.low <= metric.high and metric.description


# -- the targets under which a condition answers the same ------------------------------------

def at_scale(values: dict[str, float], terms: dict[str, tuple[float, float, float]], s: float) -> dict[str, float]:
    """The metrics had the target been s times larger, all else equal (as the engine reads them)."""
    return {**values, **{n: a + b * s + c / s for n, (a, b, c) in terms.items()}}


def target_reading(rng) -> tuple[dict[str, float], dict[str, tuple[float, float, float]]]:
    """A review's metrics, the target-reading ones with their true dependence on the target."""
    booked, path, annual, week_booked = rng.uniform(1e6, 9e6), rng.uniform(1e6, 9e6), 10e6, rng.uniform(0, 4e5)
    terms = {"target_to_date": (0.0, path, 0.0), "attainment_to_date": (0.0, 0.0, booked / path),
             "attainment": (0.0, 0.0, booked / annual), "behind_plan": (1.0, 0.0, -booked / path),
             "weekly_bookings_vs_plan": (0.0, 0.0, week_booked / (annual / 52))}
    values = {n: a + b + c for n, (a, b, c) in terms.items()}
    values.update(week=float(rng.integers(1, 53)), share_negotiation=rng.uniform(), budget_left=rng.uniform(-1e5, 1e6))
    return values, terms


CONDITIONS = [
    "attainment_to_date < 90%",
    "week >= 8 and attainment_to_date < 90%",
    "behind_plan > 10% or share_negotiation > 40%",
    "not (attainment < 50% and week > 26)",
    "0.8 < attainment_to_date <= 1.1",
    "target_to_date - 2 * weekly_bookings_vs_plan * 1M > 4M",
    "attainment_to_date / 2 + attainment < 1",
    "target_to_date > 5M and budget_left > 0 or attainment > 0.6",
    "max(attainment, 0.5) < 0.7",
    "attainment * attainment_to_date < 0.5",
]


@pytest.mark.parametrize("text", CONDITIONS)
def test_a_condition_answers_the_same_under_every_target_of_its_range(text):
    """Drawn reviews: inside the range the answer is the one at the target asked; a single
    comparison's finite bound is tight (the answer differs just beyond it)."""
    import numpy as np
    rng = np.random.default_rng(11)
    cond = parse_condition(text)
    single = isinstance(cond.tree.body, ast.Compare) and len(cond.tree.body.ops) == 1
    for _ in range(300):
        values, terms = target_reading(rng)
        now, lo, hi = cond.holds_over(values, terms)
        assert now == cond.holds(values) and lo <= 1 <= hi
        inside = np.geomspace(max(lo, 1e-3), min(hi, 1e3), 41)[1:-1]
        assert all(cond.holds(at_scale(values, terms, s)) == now for s in inside), (values, lo, hi)
        if single and not {"min", "max"} & {n.id for n in ast.walk(cond.tree) if isinstance(n, ast.Name)}:
            for bound, beyond in ((lo, lo * (1 - 1e-6)), (hi, hi * (1 + 1e-6))):
                if 0 < bound < np.inf and bound != 1:
                    assert cond.holds(at_scale(values, terms, beyond)) != now, (values, bound)


def test_a_condition_not_reading_the_target_holds_under_every_target():
    cond = parse_condition("week >= 8 and share_negotiation > 40%")
    assert cond.holds_over({"week": 9.0, "share_negotiation": 0.5}, {})[1:] == (0.0, float("inf"))


def test_an_answer_decided_without_the_target_holds_under_every_target():
    """`and` with a part false whatever the target: false under every target."""
    cond = parse_condition("week >= 8 and attainment_to_date < 90%")
    assert cond.holds_over({"week": 3.0, "attainment_to_date": 0.5}, {"attainment_to_date": (0.0, 0.0, 0.5)})[1:] \
        == (0.0, float("inf"))


def test_a_form_it_cannot_follow_holds_only_at_the_target_asked():
    cond = parse_condition("max(attainment, 0.5) < 0.7")
    assert cond.holds_over({"attainment": 0.6}, {"attainment": (0.0, 0.0, 0.6)})[1:] == (1.0, 1.0)


def test_the_range_ends_where_attainment_crosses_its_threshold():
    """95 % of the path booked: `< 90 %` turns true once the target is 0.95 / 0.9 times larger."""
    cond = parse_condition("week >= 8 and attainment_to_date < 90%")
    _, lo, hi = cond.holds_over({"week": 9.0, "attainment_to_date": 0.95}, {"attainment_to_date": (0.0, 0.0, 0.95)})
    assert lo == 0.0 and hi == pytest.approx(0.95 / 0.9, rel=1e-8)
