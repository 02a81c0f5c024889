"""Two runs are the same run: every table, every replication, to the bit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulate.run.runner import RunResults


def same_record(a: dict, b: dict) -> bool:
    """Two records equal key for key, in order, value for value (NaN equals NaN)."""
    return list(a) == list(b) and all(x == y or (x != x and y != y) for x, y in zip(a.values(), b.values()))


def assert_same(a: RunResults, b: RunResults) -> None:
    assert a.runs == b.runs and list(a.variants) == list(b.variants)
    for name, va in a.variants.items():
        vb = b.variants[name]
        pd.testing.assert_frame_equal(va.records, vb.records, check_exact=True)
        pd.testing.assert_frame_equal(va.weekly_mean, vb.weekly_mean, check_exact=True)
        pd.testing.assert_frame_equal(va.weekly_sd, vb.weekly_sd, check_exact=True)
        np.testing.assert_array_equal(va.cumulative, vb.cumulative)
        assert va.events == vb.events


TIMINGS = ("seconds", "wall_seconds")


def without_timings(summary: dict) -> dict:
    """A summary without the keys that time the run: everything else must match to the bit."""
    return {k: v for k, v in summary.items() if k not in TIMINGS}
