"""The results folder: every table, diagnostic, plot and report, read back as a pipeline would."""

from __future__ import annotations

import json
import subprocess
import sys

import arviz as az
import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE_DATA, read_json

from mixfit.results.arviz_api import group_names

INTERVAL = ["Estimate", "Est.Error", "Q2.5", "Q97.5"]
CONVERGENCE = ["Rhat", "Bulk_ESS", "Tail_ESS"]


def test_every_table_has_its_columns(sleepstudy_fit):
    out, _ = sleepstudy_fit
    expected = {
        "fixef.csv": ["term", *INTERVAL, *CONVERGENCE],
        "ranef.csv": ["group", "level", "term", *INTERVAL],
        "coef.csv": ["group", "level", "term", *INTERVAL],
        "varcorr.csv": ["group", "param", *INTERVAL, *CONVERGENCE],
        "prior.csv": ["class", "coef", "group", "dpar", "prior", "source"],
        "diagnostics.csv": ["parameter", "Rhat", "Bulk_ESS", "Tail_ESS", "MCSE_mean", "MCSE_sd"],
    }
    for name, columns in expected.items():
        assert list(pd.read_csv(out / name).columns) == columns, name
    params = pd.read_csv(out / "varcorr.csv")["param"].tolist()
    assert params == ["sd(Intercept)", "sd(Days)", "cor(Intercept,Days)", "sigma"]


def test_coef_is_fixef_plus_ranef_draw_by_draw(sleepstudy_fit):
    out, _ = sleepstudy_fit
    posterior = az.from_netcdf(out / "draws.nc").posterior
    coef = pd.read_csv(out / "coef.csv", dtype={"level": str})
    mine = coef[coef["level"] == "308"].set_index("term")
    r = posterior["r_Subject"].sel(Subject="308")
    combined = {
        "Intercept": (posterior["b_Intercept"] + r.sel(Subject__term="Intercept")).values.ravel(),
        "Days": (posterior["b_Days"] + r.sel(Subject__term="Days")).values.ravel(),
    }
    for term, draws in combined.items():  # the CSV holds 6 significant digits
        assert mine.loc[term, "Estimate"] == pytest.approx(draws.mean(), rel=1e-5)
        assert mine.loc[term, "Est.Error"] == pytest.approx(draws.std(ddof=1), rel=1e-5)
        assert mine.loc[term, "Q2.5"] == pytest.approx(np.quantile(draws, 0.025), rel=1e-5)
        assert mine.loc[term, "Q97.5"] == pytest.approx(np.quantile(draws, 0.975), rel=1e-5)


def test_diagnostics_pass_on_sleepstudy(sleepstudy_fit):
    out, done = sleepstudy_fit
    diagnostics = read_json(out / "diagnostics.json")
    assert diagnostics["ok"] is True and diagnostics["failed_checks"] == []
    assert diagnostics["thresholds"] == {"rhat": 1.01, "ess": 400, "ebfmi": 0.3, "divergences": 0}
    run = diagnostics["run"]
    assert run["chains"] == 4 and run["sampling_draws"] == 1000 and run["warmup_draws"] == 1000
    assert len(run["ebfmi"]) == 4 and len(run["step_size"]) == 4
    assert run["divergent_transitions"] == 0
    assert "all checks passed" in (out / "summary.txt").read_text()
    assert "all checks passed" in done.stdout


def test_draws_support_loo(sleepstudy_fit):
    out, _ = sleepstudy_fit
    draws = az.from_netcdf(out / "draws.nc")
    assert {"posterior_predictive", "log_likelihood"} <= group_names(draws)
    loo = az.loo(draws)
    elpd = loo.elpd if hasattr(loo, "elpd") else loo.elpd_loo  # ArviZ 1.x, 0.x
    assert np.isfinite(elpd)


def test_plots_are_valid_non_blank_images(sleepstudy_fit):
    out, _ = sleepstudy_fit
    names = {p.name for p in (out / "plots").glob("*.png")}
    expected = {
        "trace.png",
        "rank.png",
        "forest.png",
        "ppc.png",
        "sd_prior.png",
        "caterpillar_Subject_Intercept.png",
        "caterpillar_Subject_Days.png",
    }
    assert expected <= names
    for name in names:
        image = matplotlib.image.imread(out / "plots" / name)
        assert image.shape[0] > 200 and image.shape[1] > 200, name
        assert image.std() > 0.01, name
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= len(names)
    assert "http://" not in html and "https://" not in html


def test_summary_json_matches_the_csvs(sleepstudy_fit, run_mixfit):
    out, _ = sleepstudy_fit
    shown = run_mixfit("summary", out, "--json")
    assert shown.returncode == 0, shown.stderr
    parsed = json.loads(shown.stdout)
    for key in ("fixef", "varcorr"):
        table = pd.read_csv(out / f"{key}.csv")
        assert pd.DataFrame(parsed[key]).equals(table), key
    assert parsed["diagnostics"] == read_json(out / "diagnostics.json")
    text = run_mixfit("summary", out)
    assert text.returncode == 0 and text.stdout == (out / "summary.txt").read_text()


def test_tables_hold_six_significant_digits_and_whole_ess(sleepstudy_fit):
    out, _ = sleepstudy_fit
    for name in ("fixef.csv", "varcorr.csv", "ranef.csv", "coef.csv", "diagnostics.csv"):
        table = pd.read_csv(out / name)
        for column in table.select_dtypes("number"):
            for value in table[column].dropna():
                digits = f"{value:.15g}".lstrip("-").replace(".", "").lstrip("0").split("e")[0]
                assert len(digits) <= 6, (name, column, value)
        for column in {"Bulk_ESS", "Tail_ESS"} & set(table.columns):
            assert table[column].dtype == np.int64, (name, column)
    diagnostics = pd.read_csv(out / "diagnostics.csv").set_index("parameter")
    full = read_json(out / "diagnostics.json")["parameters"]
    for row in full[:6]:  # the JSON keeps every digit; the CSV rounds it
        assert diagnostics.loc[row["parameter"], "Rhat"] == pytest.approx(row["Rhat"], rel=5e-6)
        assert diagnostics.loc[row["parameter"], "Bulk_ESS"] == round(row["Bulk_ESS"])


def test_report_title_names_the_results_folder(sleepstudy_fit):
    out, _ = sleepstudy_fit
    html = (out / "report.html").read_text()
    assert "<title>mixfit results: sleepstudy</title>" in html
    assert "<h1>mixfit results: sleepstudy</h1>" in html
    assert ".partial-" not in html


def test_prob_changes_the_interval_columns(sleepstudy_fit, run_mixfit, tmp_path):
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "-o",
        tmp_path / "out",
        "--seed",
        "1",
        "--chains",
        "2",
        "--iter",
        "400",
        "--prob",
        "0.9",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    for name in ("fixef.csv", "ranef.csv", "coef.csv", "varcorr.csv"):
        columns = list(pd.read_csv(tmp_path / "out" / name).columns)
        assert "Q5" in columns and "Q95" in columns and "Q2.5" not in columns, name
    assert "l-90% CI" in done.stdout
    assert not (tmp_path / "out" / "plots").exists()
    assert not (tmp_path / "out" / "report.html").exists()


def test_no_plots_never_loads_the_plotting_code(sleepstudy_fit, cache_dir, tmp_path):
    # ArviZ 0.x imports matplotlib itself, for its own plots; mixfit's plotting stays unloaded
    script = (
        "import sys\n"
        "from mixfit.cli import run_command_line\n"  # main() ends the process: no check after it
        "try:\n    run_command_line(sys.argv[1:])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "assert 'mixfit.results.plots' not in sys.modules, 'mixfit.results.plots was imported'\n"
    )
    args = [
        "fit",
        str(SAMPLE_DATA / "sleepstudy.csv"),
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "-o",
        str(tmp_path / "out"),
        "--chains",
        "1",
        "--iter",
        "200",
        "--no-plots",
        "--quiet",
    ]
    done = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**__import__("os").environ, "MIXFIT_CACHE_DIR": str(cache_dir)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def hard_data(tmp_path_factory):
    """Five groups and three correlated slopes: too little data for what is asked of it."""
    rng = np.random.default_rng(11)
    rows = []
    for g in range(5):
        slopes = rng.normal([1.0, 0.5, -0.5], 1.0)
        for _ in range(8):
            x = rng.normal(size=3)
            rows.append(
                {
                    "g": f"g{g}",
                    "x1": x[0],
                    "x2": x[1],
                    "x3": x[2],
                    "y": 2 + x @ slopes + rng.normal(0, 0.5),
                }
            )
    path = tmp_path_factory.mktemp("hard") / "hard.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_hard_model_reports_failed_checks_and_strict_exits_4(hard_data, run_mixfit, tmp_path):
    args = [
        "fit",
        hard_data,
        "-f",
        "y ~ x1 + x2 + x3 + (1 + x1 + x2 + x3 | g)",
        "--adapt-delta",
        "0.6",
        "--iter",
        "400",
        "--seed",
        "5",
        "--no-plots",
    ]
    lenient = run_mixfit(*args, "-o", tmp_path / "lenient")
    assert lenient.returncode == 0, lenient.stderr
    diagnostics = read_json(tmp_path / "lenient" / "diagnostics.json")
    assert diagnostics["ok"] is False and diagnostics["failed_checks"]
    summary = (tmp_path / "lenient" / "summary.txt").read_text()
    for check in diagnostics["failed_checks"]:
        assert check["advice"] in summary and check["advice"] in lenient.stdout
    assert "--iter" in summary or "--adapt-delta" in summary
    strict = run_mixfit(*args, "-o", tmp_path / "strict", "--strict")
    assert strict.returncode == 4
    assert (tmp_path / "strict" / "fixef.csv").is_file()  # results are written all the same
