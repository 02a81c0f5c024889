"""`advise --split`: parts that add up to the target, each as likely to be reached as the others.

The known answer: for independent normal parts N(m_i, s_i), the equal-confidence targets are
m_i - z s_i with z = (sum m - T) / sum s, each reached with P = Phi(z). The command's split
adds up to the target in every dimension, and each part, played again on fresh years, is
reached as often as the stated level (a binomial test at the suite's level).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from factory import minimal_plan_data
from scipy import stats
from stats_checks import Z, assert_close

from simulate.analysis.split import bounded_split, equal_confidence
from simulate.cli.main import main

N = 200_000


def test_equal_confidence_targets_of_normal_parts_are_the_analytic_ones():
    rng = np.random.default_rng(7)
    means, sds, total = np.array([6.0, 3.0, 1.0]), np.array([0.6, 0.5, 0.3]), 9.4
    parts = {f"p{i}": rng.normal(m, s, N) for i, (m, s) in enumerate(zip(means, sds))}
    targets, level = equal_confidence(parts, total)
    z = (means.sum() - total) / sds.sum()
    c = stats.norm.cdf(z)
    assert sum(targets.values()) == pytest.approx(total, abs=1e-9)
    # Each sample quantile errs by s_i sqrt(c(1-c)/N) / phi(z) (sd); the level moves the sum of
    # those errors over the sum of the slopes s_i / phi(z): sd sqrt(c(1-c)/N) sqrt(sum s^2) / sum s.
    binomial = np.sqrt(c * (1 - c) / N)
    assert level == pytest.approx(c, abs=Z * binomial * np.sqrt((sds ** 2).sum()) / sds.sum())
    for (name, t), m, s in zip(targets.items(), means, sds):
        # a target errs by its own quantile's error plus the level's shift, each at most that sd
        assert t == pytest.approx(m - z * s, abs=2 * Z * s * binomial / stats.norm.pdf(z))
        # in sample, the share above a part's own quantile is the level, up to one draw
        assert np.mean(parts[name] >= t) == pytest.approx(level, abs=2 / N)


def test_a_fixed_part_keeps_its_target_and_the_rest_splits_the_remainder():
    rng = np.random.default_rng(8)
    parts = {"KA": rng.normal(6, 0.5, N), "SMB": rng.normal(3, 0.4, N), "WB": rng.normal(1, 0.2, N)}
    targets, level = equal_confidence(parts, 10.0, {"KA": 6.5})
    assert targets["KA"] == 6.5 and sum(targets.values()) == pytest.approx(10.0)
    sds = np.array([0.4, 0.2])
    z = (4.0 - 3.5) / sds.sum()
    c = stats.norm.cdf(z)
    assert level == pytest.approx(c, abs=Z * np.sqrt(c * (1 - c) / N) * np.sqrt((sds ** 2).sum()) / sds.sum())


def _normal_parts(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"KA": rng.normal(6, 0.5, N), "SMB": rng.normal(3, 0.4, N), "WB": rng.normal(1, 0.2, N)}


def _level_sd(c: float, sds: np.ndarray) -> float:
    return Z * np.sqrt(c * (1 - c) / N) * np.sqrt((sds ** 2).sum()) / sds.sum()


def test_a_bound_the_fair_split_keeps_changes_nothing():
    parts = _normal_parts(9)
    fair, level = equal_confidence(parts, 10.0)
    targets, bounded_level, held = bounded_split(parts, 10.0, at_least={"KA": 5.5}, at_most={"WB": 1.5})
    assert (targets, bounded_level, held) == (fair, level, {})


def test_a_floor_the_fair_split_breaks_holds_the_part_there():
    """KA's fair target is its mean, 6 (the means add up to the target); at least 6.5 holds it
    at 6.5 and the rest splits 3.5 as when it is fixed: z = (4 - 3.5) / (0.4 + 0.2)."""
    parts = _normal_parts(10)
    targets, level, held = bounded_split(parts, 10.0, at_least={"KA": 6.5})
    assert held == {"KA": "at_least"} and targets["KA"] == 6.5
    assert sum(targets.values()) == pytest.approx(10.0)
    sds = np.array([0.4, 0.2])
    c = stats.norm.cdf((4.0 - 3.5) / sds.sum())
    assert level == pytest.approx(c, abs=_level_sd(c, sds))


def test_a_cap_lets_go_of_a_floor_it_made_needless():
    """The fair split breaks both bounds (KA 6 < 6.05, WB 1 > 0.5). Held at both, SMB alone
    must make 3.45, and at that low level KA's fair target is far above its floor: KA is let
    go, and with WB at 0.5 the rest splits 9.5 over KA and SMB, z = (9 - 9.5) / (0.5 + 0.4)."""
    parts = _normal_parts(11)
    targets, level, held = bounded_split(parts, 10.0, at_least={"KA": 6.05}, at_most={"WB": 0.5})
    assert held == {"WB": "at_most"} and targets["WB"] == 0.5
    assert sum(targets.values()) == pytest.approx(10.0)
    sds = np.array([0.5, 0.4])
    z = (9.0 - 9.5) / sds.sum()
    c = stats.norm.cdf(z)
    assert level == pytest.approx(c, abs=_level_sd(c, sds))
    binomial = np.sqrt(c * (1 - c) / N)
    assert targets["KA"] == pytest.approx(6 - z * 0.5, abs=2 * Z * 0.5 * binomial / stats.norm.pdf(z))
    assert targets["KA"] > 6.05


def test_split_bounds_from_the_command_line(tmp_path, capsys):
    """`--fix quarter:Q1>=25%` and `quarter:Q4<=22%` hold the quarters the fair split puts at
    20 % and 25-30 % at their bounds; bounds no split can keep are refused in one line."""
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(minimal_plan_data(), sort_keys=False))
    base = ["advise", str(path), "--split", "--runs", "200", "--confirm-runs", "100", "--workers", "1", "--quiet"]
    assert main([*base, "--fix", "quarter:Q1>=25%", "--fix", "quarter:Q4<=22%", "--out", str(tmp_path / "run")]) == 0
    split = json.loads((tmp_path / "run" / "summary.json").read_text())["split"]
    quarters = split["dimensions"]["quarter"]["parts"]
    assert quarters["Q1"]["bound"] == "at_least" and quarters["Q1"]["share"] == pytest.approx(0.25)
    assert quarters["Q4"]["bound"] == "at_most" and quarters["Q4"]["share"] == pytest.approx(0.22)
    assert quarters["Q2"]["bound"] is None and not quarters["Q2"]["fixed"]
    assert sum(r["target"] for r in quarters.values()) == pytest.approx(split["target"])
    assert split["bounds"] == {"at_least": {"quarter": {"Q1": 25_000.0}}, "at_most": {"quarter": {"Q4": 22_000.0}}}
    capsys.readouterr()
    for fix, says in ((["quarter:Q1>=60%", "quarter:Q2>=60%"], "over the target"),
                      (["quarter:Q1>>5%"], "expected DIMENSION:PART=SHARE"),
                      (["quarter:Q1=20%", "quarter:Q1<=30%"], "already given"),
                      (["quarter:Q9>=5%"], "no such quarter")):
        argv = [a for f in fix for a in ("--fix", f)]
        assert main([*base, *argv, "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def test_a_split_no_year_reaches_says_so():
    parts = {"a": np.array([1.0, 2.0]), "b": np.array([1.0, 1.5])}
    targets, level = equal_confidence(parts, 10.0)
    assert level == 0.0 and sum(targets.values()) == pytest.approx(10.0)


@pytest.mark.slow
def test_the_split_adds_up_and_each_part_is_reached_at_the_level_on_fresh_years(tmp_path):
    data = minimal_plan_data()
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["advise", str(path), "--split", "--runs", "1500", "--confirm-runs", "1500", "--workers", "1",
                 "--quiet", "--out", str(tmp_path / "run")]) == 0
    split = json.loads((tmp_path / "run" / "summary.json").read_text())["split"]
    assert split["dimensions"], split
    for dim, d in split["dimensions"].items():
        parts = d["parts"]
        assert sum(r["target"] for r in parts.values()) == pytest.approx(split["target"], rel=1e-9)
        for part, r in parts.items():
            # whole deals make bookings lumpy: a part's share on the fitting years is at least the
            # level, and the fresh years reach it as often (both samples' errors count)
            c = r["p_hit_fitted"]
            assert c >= d["level"] - 1e-9
            sd = np.sqrt(max(c * (1 - c), 1e-4) * (1 / split["runs"] + 1 / split["confirm_runs"]))
            assert_close(r["p_hit"], c, sd, f"{dim} {part} reached on fresh years")
