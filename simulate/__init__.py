"""simulate: stress-test an annual sales target before anyone signs it.

A plan (team, funnel, customers, products, budget, target) is simulated as a year of sales
thousands of times; the result is a distribution of target attainment. The public API:

    plan = load_plan("scenarios/baseline.yaml")
    results = run_replications(plan, runs=1000, seed=2027)
    summary = build_summary(results, "baseline")
"""

__version__ = "0.1.0"

import time as _time  # noqa: E402

STARTED = _time.monotonic()     # when the package loaded: where the user's wait begins ("run in")

from .errors import InputError, PlanError, RunError, SimulateError, YamlError  # noqa: E402
from .loader import load_plan  # noqa: E402
from .model import simulate_year  # noqa: E402
from .runner import run_replications  # noqa: E402
from .summary import build_summary  # noqa: E402

__all__ = ["load_plan", "simulate_year", "run_replications", "build_summary", "SimulateError",
           "InputError", "PlanError", "YamlError", "RunError", "__version__"]
