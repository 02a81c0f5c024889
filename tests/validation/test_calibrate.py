"""Calibration recovers the plan that made the data, within sampling error.

A known plan (below) plays two years with the model's trace on; the trace is written as a CRM
export and calibrated back. Every check is an interval: the true value must sit inside the
interval the calibration itself reports (Wilson for conversions and renewals, exact Poisson
for lead counts and attrition, t for stage-time means and log-scale deal-value effects). There
are about 40 such checks, so each is made at 1 - 1 % / 40 (Bonferroni): a correct
calibration passes them all with 99 % probability, whatever the seed. The plan's rep effort is zero, so a stage's duration in the CRM is exactly the
declared stage time, and every channel quality is at least 1, so no lead stalls.

Then: the market ceiling, the review, and the round trip generate -> calibrate -> validate
-> simulate on the committed sample export.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from conftest import SCENARIOS
from factory import make_plan
from scipy import stats

from simulate.calibrate.calibrate import plan_yaml, review_markdown
from simulate.calibrate.calibration import Calibration
from simulate.calibrate.estimates import Estimates
from simulate.calibrate.synth import play_export, write_export
from simulate.cli.main import main
from simulate.load.crm import read_export
from simulate.plan.market import market_warning
from simulate.stats.fit import Proportion, fit_distribution

CHECKS = 40
LEVEL = 1 - 0.01 / CHECKS
SAMPLE = SCENARIOS / "data"


def gamma_stage(advance: float, mean: float, sd: float) -> dict:
    return {"advance": advance, "time": {"gamma": {"mean": mean, "sd": sd}}, "effort": 0}


TRUTH = {
    "name": "truth", "seed": 11, "runs": 10,
    # The export starts with the company (an empty funnel): every deal's history is in it.
    "horizon": {"start": "2027-01-01", "years": 2, "warm_start": False},
    "target": {"annual": "10M"},
    "regions": ["East", "West"],
    "products": [{"name": "basic", "portfolio": "cash_cow", "price": 1000, "margin": "60%"},
                 {"name": "pro", "portfolio": "star", "price": 2500, "margin": "70%"}],
    "segments": [
        {"name": "KA", "kind": "key_accounts", "mix": {"basic": 0.5, "pro": 0.5},
         "accounts": {"count": 200, "contract_value": {"lognormal": {"mean": "100k", "sd": "40k"}},
                      "renewal_without_visits": "85%", "renewal_with_full_visits": "85%",
                      "renewal_after_rep_left": "85%"}},
        {"name": "SMB", "kind": "new_logo", "mix": {"basic": 0.6, "pro": 0.4},
         "funnel": {"lead": gamma_stage(0.6, 12, 6), "intent": gamma_stage(0.67, 11, 5),
                    "negotiation": gamma_stage(0.5, 20, 8), "units": {"lognormal": {"mean": 10, "sd": 6}}}},
        {"name": "MID", "kind": "new_logo", "mix": {"basic": 0.3, "pro": 0.7},
         "funnel": {"lead": gamma_stage(0.5, 15, 5), "intent": gamma_stage(0.6, 20, 8),
                    "negotiation": gamma_stage(0.5, 30, 10), "units": {"lognormal": {"mean": 40, "sd": 24}}}},
    ],
    "marketing": {"budget": "1M"},
    "channels": [
        {"name": "web", "segment": "SMB", "budget_share": 0.4, "leads_per_year": 1200, "quality": 1.0},
        {"name": "fairs", "segment": "SMB", "budget_share": 0.3, "leads_per_year": 600, "quality": 1.2,
         "seasonality": [1, 1, 2, 1, 1, 1, 0.5, 0.5, 2, 1, 1, 0.5]},
        {"name": "partners", "segment": "MID", "budget_share": 0.3, "leads_per_year": 300},
    ],
    # No replacements within the two years (hiring_delay), immediate hand-over: a leaver's
    # deals go on at once with a rep of the same skill.
    "team": {"attrition_per_year": "15%", "hiring_delay": "800d", "handover_days": 0, "training_months": 3,
             "reps": [{"name": f"K{i}", "segments": ["KA"], "visits_per_week": 50} for i in range(3)]
             + [{"name": f"S{i}", "segments": ["SMB"], "region": "East" if i % 2 else "West"} for i in range(6)]
             + [{"name": f"M{i}", "segments": ["MID"], "skill": 1.2, "region": "West"} for i in range(3)]
             + [{"name": f"N{i}", "level": "new_hire", "start": d, "segments": ["SMB"], "region": "East"}
                for i, d in enumerate(["2027-02-01", "2027-05-03", "2027-09-01", "2028-01-10"])]},
    "collections": {"share": 1.0, "delay": 0},
}


@pytest.fixture(scope="module")
def truth():
    return make_plan(data=TRUTH)


@pytest.fixture(scope="module")
def estimates(truth, tmp_path_factory) -> Estimates:
    folder = tmp_path_factory.mktemp("crm")
    paths = write_export(play_export(truth, truth.seed), folder)
    return Estimates(read_export(paths[0], paths[1:]))


def completed_conversion(advance: float, quality: float = 1.0, skill: float = 1.0) -> float:
    """Of the deals that leave a stage, the share that advance (the model's rule: quality or
    skill scales the advance probability; `lost` stays at 1 - advance, the rest stalls)."""
    a = min(1.0, advance * quality * skill)
    lost = min(1.0 - advance, 1.0 - a)
    return a / (a + lost)


def inside(value: float, interval: tuple[float, float]) -> bool:
    return interval[0] <= value <= interval[1]


def test_the_export_covers_the_plan_horizon(estimates):
    ex = estimates.export
    assert (ex.start, ex.as_of) == (dt.date(2027, 1, 1), dt.date(2028, 12, 31))
    assert estimates.channel_segment == {"web": "SMB", "fairs": "SMB", "partners": "MID"}


@pytest.mark.parametrize("segment,skill", [("SMB", 1.0), ("MID", 1.2)])
def test_stage_conversions_are_recovered(truth, estimates, segment, skill):
    spec = truth.segment(segment).funnel
    for k, stage in enumerate(spec.stages()):
        if k == 0:
            continue   # by channel, below
        true = completed_conversion(stage.advance, skill=skill if k == 2 else 1.0)
        conv = estimates.stage(k, segment=segment).conversion
        assert conv.n > 150
        assert inside(true, conv.ci(LEVEL)), (segment, k, true, conv)


def test_lead_conversion_by_channel_carries_the_channel_quality(truth, estimates):
    for channel in truth.channels:
        true = completed_conversion(truth.segment(channel.segment).funnel.lead.advance, channel.quality)
        conv = estimates.stage(0, channel=channel.name).conversion
        assert inside(true, conv.ci(LEVEL)), (channel.name, true, conv)


@pytest.mark.parametrize("segment", ["SMB", "MID"])
def test_stage_times_recover_the_declared_gamma(truth, estimates, segment):
    for k, stage in enumerate(truth.segment(segment).funnel.stages()):
        data = estimates.stage(k, segment=segment)
        fit = estimates.stage_time(data)
        assert fit.censored == data.open_days.size
        assert inside(stage.time.mean, fit.mean_ci(LEVEL)), (segment, k, stage.time.mean, fit.mean_ci(LEVEL))
        # the family: gamma, or one the data cannot tell from it (AIC within 2)
        assert fit.aic["gamma"] - min(fit.aic.values()) <= 2, fit.quality()
        assert fit.ks_p > 1 - LEVEL, fit.quality()


def test_open_deals_are_censored_not_dropped():
    """Durations cut by the export date: the censored fit finds the true mean; completed
    stages alone make it look shorter."""
    rng = np.random.default_rng(3)
    entered = rng.uniform(0, 120, 3000)
    length = rng.gamma(4.0, 10.0, 3000)                  # mean 40 days
    exported = 150.0
    done = entered + length <= exported
    days = np.floor(entered + length) - np.floor(entered)
    fit = fit_distribution(days=days[done], right=np.floor(exported) - np.floor(entered[~done]))
    naive = days[done].mean()
    assert inside(40.0, fit.mean_ci(LEVEL)), fit.mean_ci(LEVEL)
    assert naive < fit.mean_ci(LEVEL)[0]


def expected_by_calendar_month(plan, channel) -> np.ndarray:
    """Leads the model expects in each calendar month: each day at its month's weight,
    normalised so the horizon's first 365 days expect leads_per_year."""
    start = plan.horizon.start
    seasons = channel.seasonality or [1.0] * 12
    months = [(start + dt.timedelta(days=d)).month - 1 for d in range(math.ceil(plan.horizon.days))]
    per_weight = channel.leads_per_year / sum(seasons[m] for m in months[:365])
    out = np.zeros(12)
    for m in months:
        out[m] += seasons[m] * per_weight
    return out


def test_lead_arrivals_and_their_seasonality_are_recovered(truth, estimates):
    for channel in truth.channels:
        rate, season = estimates.arrivals(channel.name)
        assert inside(channel.leads_per_year, rate.ci(LEVEL)), (channel.name, rate, rate.ci(LEVEL))
        expected = expected_by_calendar_month(truth, channel)
        chi2 = float(((np.array(season.counts) - expected) ** 2 / expected).sum())
        assert stats.chi2.sf(chi2, 12) > 1 - LEVEL, (channel.name, season.counts, expected.round(1))
        assert season.testable
        # At the file's Bonferroni level: found where there is a season, not found elsewhere.
        assert (season.significance < 1 - LEVEL) == bool(channel.seasonality), (channel.name, season.verdict())


def test_a_steady_lead_flow_is_not_read_as_volatile(truth, estimates):
    for channel in truth.channels:
        season = estimates.arrivals(channel.name)[1]
        swing, _ = estimates.volatility(channel.name, season if channel.seasonality else None)
        assert swing is not None and len(swing.counts) == 24
        assert swing.p > 1 - LEVEL, (channel.name, swing)


def test_a_volatile_lead_flow_is_measured_and_not_read_as_a_season(truth, tmp_path):
    """Two years of a channel whose monthly level is a gamma with sd 35 %: its calendar months
    differ, but no more than each differs from itself a year later, so no season is written;
    the months reject a steady flow, and the plan's volatility lies inside the chi-square
    interval of a variance on 23 degrees of freedom (each month's count m + v^2 m^2)."""
    volatile = truth.model_copy(update={"channels": [
        truth.channels[0].model_copy(update={"volatility": 0.35, "leads_per_year": 2400}), *truth.channels[1:]]})
    paths = write_export(play_export(volatile, 5), tmp_path)
    est = Estimates(read_export(paths[0], paths[1:]))
    season = est.arrivals("web")[1]
    assert season.p < 1 - LEVEL < season.significance, season.verdict()    # the steady test alone would say season
    swing, _ = est.volatility("web", None)
    text = plan_yaml(Calibration(est, "volatile"))
    web = text[text.index("- name: web"):]
    web = web[:web.index("- name:", 1)]
    assert "\n    seasonality:" not in web and "widened by the months' swing" in web
    written = float(web.split("volatility: ")[1].split("%")[0]) / 100
    assert written == pytest.approx(swing.cv, abs=5e-4)
    m = float(np.mean(swing.expected))
    variance = m + (written * m) ** 2
    lo, hi = (swing.df * variance / stats.chi2.ppf(q, swing.df) for q in (0.5 + LEVEL / 2, 0.5 - LEVEL / 2))
    assert lo <= m + (0.35 * m) ** 2 <= hi, (written, lo, hi)


def test_a_swing_beyond_a_hundred_percent_is_capped_and_the_plan_loads(tmp_path):
    from simulate.calibrate.plan_sales import write_volatility
    from simulate.calibrate.plan_yaml import PlanYaml
    from simulate.stats.fit import dispersion
    y = PlanYaml()
    write_volatility(y, dispersion([0, 0, 0, 0, 5, 300, 320, 310], [30] * 8), "")
    text = y.text()
    assert "volatility: 100%" in text and "capped: measured" in text
    plan = make_plan(data={**TRUTH, "channels": [{**TRUTH["channels"][0], "volatility": "150%"},
                                                 *TRUTH["channels"][1:]]})
    assert plan.channels[0].volatility == 1.5


def test_deal_values_split_into_price_and_units(truth, estimates):
    model, reference, prices, units = estimates.deal_values()
    assert reference == "SMB"

    def log_mean(dist) -> float:    # E[log units] of a lognormal given by its mean and sd
        return math.log(dist.mean) - math.log1p(dist.variance / dist.mean**2) / 2

    smb, mid = (truth.segment(s).funnel.units for s in ("SMB", "MID"))
    true_effects = {("segment", "MID"): log_mean(mid) - log_mean(smb),
                    ("product", model.products[1]): math.log(truth.product(model.products[1]).price
                                                             / truth.product(model.products[0]).price)}
    for key, true in true_effects.items():
        assert inside(true, model.effect_ci(key, LEVEL)), (key, true, model.effect_ci(key, LEVEL))
    sigma = math.sqrt(math.log1p(smb.variance / smb.mean**2))      # the same for both segments
    dof = model.n - 4
    lo = model.residual_sd * math.sqrt(dof / stats.chi2.ppf(0.5 + LEVEL / 2, dof))
    hi = model.residual_sd * math.sqrt(dof / stats.chi2.ppf(0.5 - LEVEL / 2, dof))
    assert lo <= sigma <= hi
    assert prices["pro"] / prices["basic"] == pytest.approx(math.exp(model.effects[("product", "pro")]
                                                                     - model.effects[("product", "basic")]))
    assert units["SMB"].mean() == pytest.approx(1.0)
    fit = fit_distribution(exact=units["SMB"], families=("lognormal", "gamma"))
    assert fit.family == "lognormal"


def test_renewals_attrition_and_ramp_up_are_recovered(truth, estimates):
    renewals = estimates.renewal_rate("KA")
    assert renewals.n == 400
    assert inside(truth.segment("KA").accounts.renewal_with_full_visits, renewals.ci(LEVEL))
    attrition = estimates.attrition()
    assert attrition.events >= 1
    assert inside(truth.team.attrition_per_year, attrition.ci(LEVEL)), (attrition, attrition.ci(LEVEL))
    train, pace, _, _ = estimates.ramp_fit()
    assert train == truth.team.training_months
    assert 0.5 < pace <= 1.5     # effort 0: reps are never busy, so new hires take a full share


def test_wilson_bounds_are_where_the_score_test_reaches_z():
    """The Wilson interval's bounds b solve |k/n - b| = z * sqrt(b (1 - b) / n)."""
    k, n = 81, 263
    z = stats.norm.ppf(0.975)
    for b in Proportion(k, n).ci(0.95):
        assert abs(k / n - b) == pytest.approx(z * math.sqrt(b * (1 - b) / n), rel=1e-9)


def test_the_calibrated_plan_states_its_sources(estimates, tmp_path):
    cal = Calibration(estimates, "calibrated")
    text = plan_yaml(cal)
    path = tmp_path / "calibrated.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    assert "n=3" in text and "95 % CI" in text and "AIC gamma" in text and "KS D=" in text
    assert "seasonality: [" in text.split("name: fairs")[1].split("- name:")[0]
    assert "no seasonality: not significant" in text.split("name: web")[1].split("- name:")[0]
    review = review_markdown(cal)
    assert "| KA |" in review and "| pro |" in review and "| East |" in review
    assert "growth" in review and "n/a |" not in review.split("## By customer tier")[1].split("##")[0]
    assert "per 5 leads" in review


# -- market ceiling ------------------------------------------------------------------------
def test_market_warning_names_both_figures():
    plan = make_plan({"target": {"annual": "20M"},
                      "market": {"size": "200M", "growth": "5%", "reachable_share": "8%"}})
    warning = market_warning(plan)
    assert "20.00M" in warning and "16.80M" in warning and "9.5%" in warning and "8.0%" in warning
    assert market_warning(make_plan({"target": {"annual": "10M"},
                                     "market": {"size": "200M", "growth": "5%", "reachable_share": "8%"}})) is None
    assert market_warning(make_plan()) is None


def test_validate_warns_above_the_ceiling_and_still_passes(tmp_path, capsys):
    path = tmp_path / "over.yaml"
    path.write_text("extends: " + str(SCENARIOS / "baseline.yaml") + "\n"
                    "market: {size: 100M, growth: 5%, reachable_share: 8%}\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith(": ok")
    assert err.startswith("warning: ") and "ceiling 8.40M" in err and len(err.strip().splitlines()) == 1


# -- the sample export and the round trip ---------------------------------------------------
def test_the_committed_sample_is_small_and_complete():
    names = {p.name for p in SAMPLE.iterdir()}
    assert {"deals.csv", "accounts.csv", "reps.csv"} <= names
    assert sum((SAMPLE / n).stat().st_size for n in ("deals.csv", "accounts.csv", "reps.csv")) < 200_000


def test_synth_crm_writes_an_export(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("extends: " + str(SCENARIOS / "baseline.yaml") + "\nhorizon: {years: 0.25}\n", encoding="utf-8")
    assert main(["synth-crm", str(plan), "--out", str(tmp_path / "crm"), "--seed", "3", "--no-rules"]) == 0
    header = (tmp_path / "crm" / "deals.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("deal_id,created,intent_date,negotiation_date,closed_date,last_stage,outcome,amount")
    assert "deals.csv" in capsys.readouterr().out


@pytest.mark.slow
def test_round_trip_from_the_sample(tmp_path, capsys):
    """calibrate the committed sample -> validate -> simulate, as in the README."""
    out = tmp_path / "calibrated.yaml"
    files = [str(SAMPLE / n) for n in ("deals.csv", "accounts.csv", "reps.csv")]
    assert main(["calibrate", *files, "--out", str(out), "--market-size", "60M",
                 "--reachable-share", "10%"]) == 0
    printed = capsys.readouterr().out
    assert "# Review of last year" in printed and "5 : 3 : 2 : 1" in printed
    assert (tmp_path / "calibrated.review.md").read_text(encoding="utf-8") == printed.rstrip("\n") + "\n"
    assert main(["validate", str(out)]) == 0
    assert main([str(out), "--runs", "10", "--workers", "1", "--quiet", "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "summary.json").is_file()
