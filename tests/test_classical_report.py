"""The classical fit's files and texts (mixfit/classical/report.py, text.py and
comparison_text.bayes_vs_ml). The plots and report.html are checked end to end in
test_classical_cli.py, on real posteriors."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.classical.comparison import compare
from mixfit.classical.comparison_text import bayes_vs_ml
from mixfit.classical.fit import fit_classical
from mixfit.classical.report import ClassicalReport
from mixfit.pipeline import prepare
from mixfit.spec import build_spec

ROOT = Path(__file__).resolve().parent.parent


def report(data: str, formula: str, method: str = "REML") -> ClassicalReport:
    spec = build_spec({}, {"data": ROOT / data, "formula": formula})
    design = prepare(spec).model.design
    return ClassicalReport(fit_classical(design, method), design, data)


def test_the_classical_files(tmp_path):
    sleep = report("sample_data/sleepstudy.csv", "Reaction ~ Days + (Days | Subject)")
    sleep.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "classical"
    ]  # no posterior: no comparison
    folder = tmp_path / "classical"
    fixef = pd.read_csv(folder / "fixef.csv")
    assert list(fixef.columns) == ["term", "Estimate", "Std.Error", "Q2.5", "Q97.5"]
    varcorr = pd.read_csv(folder / "varcorr.csv")
    assert list(varcorr["param"]) == ["sd(Intercept)", "sd(Days)", "cor(Intercept,Days)", "sigma"]
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["headline"] == "converged, not singular" and verdict["method"] == "REML"
    assert (folder / "summary.txt").read_text() == sleep.text


def test_the_lme4_style_summary():
    text = report("sample_data/sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", "ML").text
    lines = text.splitlines()
    assert lines[0].startswith("Linear mixed model fit by maximum likelihood [glmm ")
    assert "Number of obs: 180, groups:  Subject, 18" in text
    assert "Fixed effects:" in text and "Random effects:" in text
    days = next(line for line in lines if line.startswith("Days "))
    assert days.split()[:4] == ["Days", "10.467", "1.502", "6.968"]  # Estimate, SE, t value
    assert lines[-2] == "Verdict: converged, not singular"
    assert lines[-1].startswith("  lme4's convergence check passed (max|grad| = ")


def test_a_failed_fit_leaves_a_verdict_and_its_reason(tmp_path):
    failed = report("tests/data/more_effects_than_rows.csv", "y ~ x + (x | g)")
    failed.write(tmp_path)
    assert sorted(p.name for p in (tmp_path / "classical").iterdir()) == [
        "summary.txt", "verdict.json"
    ]  # fmt: skip
    assert "Verdict: failed: number of observations (=12) <= number of random effects" in (
        failed.text
    )
    assert "Fixed effects:" not in failed.text
    section = bayes_vs_ml(None, failed.fit.verdict)
    assert section.splitlines()[1].startswith("Classical fit: failed: number of observations")
    assert "There are no classical estimates to compare" in section


def test_the_bayes_vs_ml_section_shows_both_and_explains_its_flags():
    singular = report("tests/data/no_group_variance.csv", "y ~ 1 + (1 | g)")
    # a posterior away from the boundary, as a sampler would give it
    fixef = pd.DataFrame([("Intercept", 3.0, 0.13, 2.74, 3.25, 1.0, 3000, 3000)])
    fixef.columns = [
        "term",
        "Estimate",
        "Est.Error",
        "Q2.5",
        "Q97.5",
        "Rhat",
        "Bulk_ESS",
        "Tail_ESS",
    ]
    varcorr = pd.DataFrame(
        [
            ("g", "sd(Intercept)", 0.12, 0.1, 0.004, 0.36),
            ("Residual", "sigma", 0.84, 0.09, 0.69, 1.04),
        ],
        columns=["group", "param", "Estimate", "Est.Error", "Q2.5", "Q97.5"],
    )
    section = bayes_vs_ml(compare(fixef, varcorr, singular.fit), singular.fit.verdict)
    lines = section.splitlines()
    assert lines[0].startswith("Bayesian vs maximum likelihood (REML, glmm ")
    assert lines[1] == "Classical fit: converged, boundary (singular) fit: ~g: sd(Intercept) = 0"
    sd = next(line for line in lines if line.startswith("~g sd(Intercept)"))
    assert sd.split() == ["~g", "sd(Intercept)", "0.12", "0.00", "0.36", "0.00", "boundary"]
    assert any(line.startswith("boundary: the REML estimate sits on the edge") for line in lines)
    assert not any(line.startswith("disagree:") for line in lines)


def singular_beside_posterior():
    """A REML fit with its SD at 0 beside a posterior whose draws pile up near 0."""
    singular = report("tests/data/no_group_variance.csv", "y ~ 1 + (1 | g)")
    rng = np.random.default_rng(1)
    draws = {
        ("g", "sd(Intercept)"): np.abs(rng.normal(0, 0.15, 4000)),  # half-normal: mode at 0
        ("Residual", "sigma"): rng.normal(0.84, 0.05, 4000),
    }
    fixef = pd.DataFrame(
        [("Intercept", 3.0, 0.13, 2.74, 3.25)],
        columns=["term", "Estimate", "Est.Error", "Q2.5", "Q97.5"],
    )
    rows = []
    for (group, param), values in draws.items():
        q = np.quantile(values, [0.025, 0.975])
        rows.append((group, param, values.mean(), values.std(), *q))
    varcorr = pd.DataFrame(
        rows, columns=["group", "param", "Estimate", "Est.Error", "Q2.5", "Q97.5"]
    )
    return singular, fixef, varcorr, draws


def test_the_boundary_footnote_says_how_much_posterior_lies_by_the_boundary():
    singular, fixef, varcorr, draws = singular_beside_posterior()
    beside = ClassicalReport.beside(
        singular.fit, singular.design, "d.csv", fixef, varcorr, 0.95, draws
    )
    values = draws[("g", "sd(Intercept)")]
    within = 0.05 * np.quantile(values, 0.975)
    share = np.mean(values <= within)
    assert 0.05 < share < 0.2  # a real share, not "next to no mass"
    line = next(ln for ln in beside.section.splitlines() if ln.startswith("  ~g sd(Intercept):"))
    assert line == (
        f"  ~g sd(Intercept): the posterior has {share:.0%} of its draws within {within:.2g} of 0 "
        f"(5% of its upper 95% bound); its median is {np.median(values):.2g}."
    )
    assert "next to no mass" not in beside.section


def test_the_component_plot_tells_the_boundary_estimate_apart_and_frames_sigma():
    from mixfit.classical.plots import _components_figure

    singular, fixef, varcorr, draws = singular_beside_posterior()
    table = compare(fixef, varcorr, singular.fit)
    figure = _components_figure(table[table["group"] != ""], draws, "REML")
    lines = {h.get_label(): h for h in figure.legends[0].legend_handles}
    assert set(lines) == {
        "posterior",
        "posterior mean",
        "REML estimate",
        "REML estimate, on the boundary",
    }
    assert (
        lines["REML estimate"].get_linestyle()
        != lines["REML estimate, on the boundary"].get_linestyle()
    )
    sd_axis, sigma_axis = figure.axes[:2]
    assert sd_axis.get_xlim()[0] == 0  # an SD's boundary is part of the picture
    low, high = sigma_axis.get_xlim()
    assert 0.5 < low < 0.84 < high < 1.2  # sigma's panel frames its posterior, not 0
