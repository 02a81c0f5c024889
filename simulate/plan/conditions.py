"""The condition language of playbook rules: small, safe, checked when the file loads.

A condition reads like what a manager writes on a whiteboard:
`competitor_price_cut >= 20% and share_negotiation > 0.4`. It is parsed with Python's own
parser into a syntax tree and then *interpreted* here, never `eval`-ed: only numbers,
percentages and money amounts (`20%`, `50k`, `1.2M`), whitelisted metric names,
arithmetic, comparisons, `and`/`or`/`not` and `min`/`max`/`abs` are allowed. Every metric
declares its range, so a condition that can never be true (`share_negotiation > 1.5`) is
caught at load time, as are unknown metrics ("did you mean ...?").
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

from ..errors import did_you_mean

INF = math.inf


@dataclass(frozen=True)
class Metric:
    """Something a manager can observe at a review, with its unit and possible range."""

    name: str
    description: str
    low: float = 0.0
    high: float = INF


_M = Metric
METRICS: dict[str, Metric] = {m.name: m for m in (
    _M("day", "days since the start of the horizon", 0, 3660),
    _M("week", "week number, 1-based", 1, 530),
    _M("month", "calendar month of the horizon, 1-12", 1, 12),
    _M("quarter", "quarter of the year, 1-4", 1, 4),
    _M("bookings_to_date", "bookings so far (currency)"),
    _M("target_to_date", "the target path so far: the annual target spread by quarter split"),
    _M("attainment_to_date", "bookings so far / target path so far (1 = on plan)"),
    _M("attainment", "bookings so far / annual target"),
    _M("behind_plan", "share of the target path not yet booked (negative when ahead)", -INF, 1),
    _M("weekly_bookings", "bookings in the last week (currency)"),
    _M("weekly_bookings_vs_plan", "last week's bookings / (annual target / 52)"),
    _M("open_lead", "open deals at the lead stage"),
    _M("open_intent", "open deals at the intent stage"),
    _M("open_negotiation", "open deals in negotiation"),
    _M("pipeline", "open deals, all stages"),
    _M("share_lead", "lead stage share of the open pipeline", 0, 1),
    _M("share_intent", "intent stage share of the open pipeline", 0, 1),
    _M("share_negotiation", "negotiation share of the open pipeline (40 % warns of stalling)", 0, 1),
    _M("conversion_lead", "lead -> intent conversion over the last 4 weeks", 0, 1),
    _M("conversion_intent", "intent -> negotiation conversion over the last 4 weeks", 0, 1),
    _M("conversion_negotiation", "negotiation -> signed conversion over the last 4 weeks", 0, 1),
    _M("visits_week", "visits delivered last week, all reps"),
    _M("visits_ka_week", "key-account visits delivered last week"),
    _M("collection_rate", "share of invoices due so far that were collected", 0, 1),
    _M("headcount", "reps on the team"),
    _M("vacancies", "open positions waiting for a hire"),
    _M("ramping", "reps still ramping up"),
    _M("reps_left", "reps who left so far this year"),
    _M("ka_renewal_rate", "key-account renewals so far / renewals due so far", 0, 1),
    _M("competitor_price_cut", "competitor price cut in force (0.2 = 20 %)", 0, 1),
    _M("supplier_delay_days", "extra delivery days from supplier delays in force", 0, INF),
    _M("budget_cut", "marketing budget cut in force (0.3 = 30 %)", 0, 1),
    _M("policy_demand_lost", "share of a segment's demand closed by regulation (largest)", 0, 1),
    _M("budget_spent", "marketing money spent so far, rule costs included (currency)"),
    _M("budget_left", "marketing budget not yet spent or committed (currency)", -INF, INF),
)}

_SUFFIX = {"%": 0.01, "k": 1e3, "K": 1e3, "M": 1e6, "bn": 1e9}
_QUANTITY = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(%|bn|k|K|M)(?!\w)")
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ARITH: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_FUNCTIONS: dict[str, Callable[..., float]] = {"min": min, "max": max, "abs": abs}


# The metrics that read the target, and so move when a search tries another one.
TARGET_METRICS = frozenset({"target_to_date", "attainment_to_date", "attainment", "behind_plan",
                            "weekly_bookings_vs_plan"})
Terms = tuple[float, float, float]      # (a, b, c): a metric's value at target x s is a + b*s + c/s
EVERY_SCALE = (0.0, INF)
ROUNDING = 1e-9     # relative margin kept from a flip: the metrics at s are computed, not derived


class ConditionError(ValueError):
    """A condition that cannot be used; the message says where in the text and why."""


@dataclass(frozen=True)
class Condition:
    """A parsed, checked condition; `holds(metrics)` interprets it."""

    text: str
    tree: ast.Expression
    metrics: frozenset[str]

    def holds(self, values: dict[str, float]) -> bool:
        return bool(_eval(self.tree.body, values))

    @cached_property
    def reads_target(self) -> bool:
        return not self.metrics.isdisjoint(TARGET_METRICS)

    def holds_over(self, values: dict[str, float], terms: dict[str, Terms]) -> tuple[bool, float, float]:
        """`holds(values)`, and the scales s of the target (target x s) over which it answers
        the same.

        `terms` says how each target-reading metric moves with s: a + b*s + c/s. A year whose
        every answer stays the same is the same year under that target, so a search over
        targets need not play it again. Conservative: where the condition's dependence on s
        is not of that form (min, max, abs or a product of two such metrics), only s = 1.
        """
        return _answer(self.tree.body, values, terms)


MAX_DEPTH = 60      # nesting a whiteboard condition never needs; keeps the interpreter's stack safe


class _Source:
    """The text as written and the Python source it becomes (quantities as plain numbers),
    with the map back from a position in the source to a column of the text as written."""

    def __init__(self, text: str):
        self.text = text
        body = text.strip()
        lead = len(text) - len(text.lstrip())
        pieces: list[str] = []
        origin: list[int] = []          # source index -> index in `text`
        last = 0
        for m in _QUANTITY.finditer(body):
            number = repr(float(m.group(1)) * _SUFFIX[m.group(2)])
            pieces += [body[last:m.start()], number]
            origin += list(range(lead + last, lead + m.start())) + [lead + m.start()] * len(number)
            last = m.end()
        pieces.append(body[last:])
        origin += list(range(lead + last, lead + len(body) + 1))
        source = "".join(pieces)
        self.source = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", source))
        self.origin = origin
        self.lines = self.source.split("\n")

    def column(self, line: int | None, offset: int | None, in_bytes: bool = False) -> int:
        """1-based column in the text as written of (1-based line, 0-based offset) of the source."""
        if not line or offset is None or line > len(self.lines):
            return len(self.text) + 1
        here = self.lines[line - 1]
        if in_bytes:
            offset = len(here.encode("utf-8")[:offset].decode("utf-8", "ignore"))
        index = sum(len(x) + 1 for x in self.lines[:line - 1]) + min(offset, len(here))
        return self.origin[min(index, len(self.origin) - 1)] + 1

    def where(self, node: ast.AST) -> str:
        return f" at column {self.column(getattr(node, 'lineno', None), getattr(node, 'col_offset', None), True)}"


def parse_condition(text: Any) -> Condition:
    """Parse and check a condition, or raise ConditionError naming the column."""
    if isinstance(text, bool):
        text = "true" if text else "false"
    if not isinstance(text, str) or not text.strip():
        raise ConditionError(f"expected a condition such as 'competitor_price_cut >= 20%', got {text!r}")
    src = _Source(text)
    try:
        tree = ast.parse(src.source, mode="eval")
        names: set[str] = set()
        _check(tree.body, src, names, 0)
        possible = _can_be_true(tree.body)
    except SyntaxError as exc:
        # offset 0 or None: Python found the text ended too soon; the column is then its end
        column = src.column(exc.lineno, exc.offset - 1 if exc.offset else None)
        raise ConditionError(f"syntax error in condition {text!r} at column {column}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ConditionError(f"condition {text[:40]!r}... is nested too deeply "
                             f"(at most {MAX_DEPTH} levels)") from None
    cond = Condition(text, tree, frozenset(names))
    if not possible:
        ranges = "; ".join(f"{n} is in [{METRICS[n].low:g}, {METRICS[n].high:g}]" for n in sorted(names))
        raise ConditionError(f"condition {text!r} can never be true" + (f": {ranges}" if ranges else ""))
    return cond


def _check(node: ast.AST, src: _Source, names: set[str], depth: int) -> None:
    where = src.where(node)
    if depth > MAX_DEPTH:
        raise ConditionError(f"condition is nested too deeply (at most {MAX_DEPTH} levels){where}")
    if isinstance(node, ast.BoolOp) or isinstance(node, ast.Compare):
        children = node.values if isinstance(node, ast.BoolOp) else [node.left, *node.comparators]
        if isinstance(node, ast.Compare) and any(type(o) not in _COMPARE for o in node.ops):
            raise ConditionError(f"only <, <=, >, >=, ==, != compare values{where}")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise ConditionError(f"only + - * / are allowed{where}")
        children = [node.left, node.right]
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.Not, ast.USub)):
            raise ConditionError(f"only 'not' and unary minus are allowed{where}")
        children = [node.operand]
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise ConditionError(f"only min(), max() and abs() may be called{where}")
        children = node.args
    elif isinstance(node, ast.Name):
        if node.id not in METRICS:
            raise ConditionError(f"unknown metric '{node.id}'{did_you_mean(node.id, METRICS)}{where}; "
                                 "see `python -m simulate rules metrics`")
        names.add(node.id)
        return
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or (isinstance(node.value, (int, float)) and math.isfinite(node.value)):
            return
        raise ConditionError(f"only numbers, percentages and true/false are allowed, got {node.value!r}{where}")
    else:
        raise ConditionError(f"'{ast.unparse(node)}' is not allowed in a condition{where}")
    for child in children:
        _check(child, src, names, depth + 1)


def _eval(node: ast.AST, v: dict[str, float]) -> Any:
    if isinstance(node, ast.Name):
        return v[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(x, v) for x in node.values)
        return any(_eval(x, v) for x in node.values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, v)
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, v)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, v), _eval(node.right, v)
        if isinstance(node.op, ast.Div) and b == 0:
            return INF if a > 0 else (-INF if a < 0 else 0.0)
        return _ARITH[type(node.op)](a, b)
    if isinstance(node, ast.UnaryOp):
        x = _eval(node.operand, v)
        return (not x) if isinstance(node.op, ast.Not) else -x
    assert isinstance(node, ast.Call)   # _check admitted nothing else
    return _FUNCTIONS[node.func.id](*(_eval(a, v) for a in node.args))


# -- can it ever be true? interval reasoning over the metrics' declared ranges -------------

def _interval(node: ast.AST) -> tuple[float, float]:
    if isinstance(node, ast.Name):
        m = METRICS[node.id]
        return (m.low, m.high)
    if isinstance(node, ast.Constant):
        x = float(node.value)
        return (x, x)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        lo, hi = _interval(node.operand)
        return (-hi, -lo)
    if isinstance(node, ast.BinOp):
        (a, b), (c, d) = _interval(node.left), _interval(node.right)
        if isinstance(node.op, ast.Add):
            return (a + c, b + d)
        if isinstance(node.op, ast.Sub):
            return (a - d, b - c)
        if isinstance(node.op, ast.Mult):
            products = [x * y for x in (a, b) for y in (c, d) if not (math.isinf(x) and y == 0 or math.isinf(y) and x == 0)]
            return (min(products, default=-INF), max(products, default=INF))
    return (-INF, INF)   # division, calls, booleans: assume anything


def _can_be_true(node: ast.AST) -> bool:
    if isinstance(node, ast.BoolOp):
        parts = [_can_be_true(x) for x in node.values]
        return all(parts) if isinstance(node.op, ast.And) else any(parts)
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.Compare):
        items = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, items, items[1:]):
            (a, b), (c, d) = _interval(left), _interval(right)
            if isinstance(op, ast.Gt) and not b > c or isinstance(op, ast.GtE) and not b >= c:
                return False
            if isinstance(op, ast.Lt) and not a < d or isinstance(op, ast.LtE) and not a <= d:
                return False
            if isinstance(op, ast.Eq) and (b < c or d < a):
                return False
    return True


# -- over which targets is the answer the same? ----------------------------------------------

def _terms(node: ast.AST, v: dict[str, float], terms: dict[str, Terms]) -> tuple[float, Terms | None]:
    """An expression's value now and its (a, b, c) in the target's scale s; None when it is
    not of that form."""
    if isinstance(node, ast.Name):
        return v[node.id], terms.get(node.id, (v[node.id], 0.0, 0.0))
    if isinstance(node, ast.Constant):
        return node.value, (float(node.value), 0.0, 0.0)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        x, t = _terms(node.operand, v, terms)
        return -x, None if t is None else (-t[0], -t[1], -t[2])
    if isinstance(node, ast.BinOp):
        f, g = _terms(node.left, v, terms)[1], _terms(node.right, v, terms)[1]
        value = _eval(node, v)
        if f is None or g is None:
            return value, None
        if isinstance(node.op, (ast.Add, ast.Sub)):
            sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
            return value, (f[0] + sign * g[0], f[1] + sign * g[1], f[2] + sign * g[2])
        if _constant(f) and _constant(g):
            return value, (float(value), 0.0, 0.0)
        if isinstance(node.op, ast.Mult) and (_constant(f) or _constant(g)):
            k, t = (f[0], g) if _constant(f) else (g[0], f)
            return value, (k * t[0], k * t[1], k * t[2])
        if isinstance(node.op, ast.Div) and _constant(g) and g[0] != 0:
            return value, (f[0] / g[0], f[1] / g[0], f[2] / g[0])
        return value, None
    if isinstance(node, ast.Call):
        parts = [_terms(a, v, terms) for a in node.args]
        value = _eval(node, v)
        return value, (float(value), 0.0, 0.0) if all(t is not None and _constant(t) for _, t in parts) else None
    answer, lo, hi = _answer(node, v, terms)      # a comparison or and/or/not used as a number
    return answer, (float(answer), 0.0, 0.0) if (lo, hi) == EVERY_SCALE else None


def _constant(t: Terms) -> bool:
    return t[1] == 0 and t[2] == 0


def _answer(node: ast.AST, v: dict[str, float], terms: dict[str, Terms]) -> tuple[bool, float, float]:
    """A condition's answer now and the scales (lo, hi), around 1, over which it stays."""
    if isinstance(node, ast.BoolOp):
        parts = [_answer(x, v, terms) for x in node.values]
        return _combine(parts, isinstance(node.op, ast.And))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        answer, lo, hi = _answer(node.operand, v, terms)
        return not answer, lo, hi
    if isinstance(node, ast.Compare):
        items = [_terms(x, v, terms) for x in (node.left, *node.comparators)]
        pairs = []
        for op, (x, f), (y, g) in zip(node.ops, items, items[1:]):
            answer = bool(_COMPARE[type(op)](x, y))
            if f is None or g is None:
                pairs.append((answer, 1.0, 1.0))
            elif f[1] == g[1] and f[2] == g[2]:     # the target cancels out (or is not read)
                pairs.append((answer, *EVERY_SCALE))
            else:
                pairs.append((answer, *_same_sign(f[0] - g[0], f[1] - g[1], f[2] - g[2])))
        return pairs[0] if len(pairs) == 1 else _combine(pairs, both=True)
    x, t = _terms(node, v, terms)      # a number used as a condition: is it nonzero?
    return bool(x), *(_same_sign(*t) if t is not None else (1.0, 1.0))


def _combine(parts: list[tuple[bool, float, float]], both: bool) -> tuple[bool, float, float]:
    """`and` (both) or `or` of answers with their ranges. The answer stays while every part
    that decided it stays: all of them when they agree with it, any one of them otherwise."""
    answer = all(p[0] for p in parts) if both else any(p[0] for p in parts)
    deciding = [p for p in parts if p[0] == answer]
    if answer == both:      # and: all true; or: all false
        return answer, max(p[1] for p in deciding), min(p[2] for p in deciding)
    return answer, min(p[1] for p in deciding), max(p[2] for p in deciding)


def _same_sign(a: float, b: float, c: float) -> tuple[float, float]:
    """The scales around 1 over which a + b*s + c/s keeps its sign: between the positive roots
    of b*s^2 + a*s + c nearest to 1 on either side."""
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        return (1.0, 1.0) if b or c else EVERY_SCALE
    if b == 0:
        roots = (-c / a,) if a else ()
    else:
        disc = a * a - 4 * b * c
        if disc < 0:
            roots = ()
        else:
            q = -(a + math.copysign(math.sqrt(disc), a)) / 2     # the stable form of the roots
            roots = (q / b, c / q) if q else (q / b,)
    lo, hi = 0.0, INF
    for r in roots:
        if abs(r - 1) <= ROUNDING:
            return 1.0, 1.0
        if 0 < r < 1 and r > lo:
            lo = r
        elif r > 1 and r < hi:
            hi = r
    return lo * (1 + ROUNDING), hi * (1 - ROUNDING)
