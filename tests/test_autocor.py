"""Autocorrelated residuals (issue 24): ar(), ma(), arma() in brms 2.18's residual form (cov =
FALSE) and cosy() (gaussian and student), against brms's sleepstudy AR(1) fit and on simulated
series.

The acceptance fit (sleepstudy, 4 chains x 1000) is the one slow check; the simulated fits are
2 chains x 400-500 on 300 rows. Measured on the 2-core machine (shared): the module about 81 s;
the sleepstudy fit about 12 s; the ma, cosy and cosy-student fits 4-6 s each; each chain-jobs
and combine run (ARMA, cosy with student) about 19 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import ROOT, SAMPLE_DATA, fit_as_chain_jobs, mixfit, read_json

from mixfit.analysis.predict import log_lik, predict
from mixfit.analysis.saved_fit import load
from mixfit.errors import InputError
from mixfit.model.terms.autocor import AutocorTerm, arma_mu, build, order_rows

REFERENCE = ROOT / "tests" / "reference" / "sleepstudy_ar.json"
STANDATA = ROOT / "tests" / "reference" / "sleepstudy_ar.standata.json"
AR_FORMULA = "Reaction ~ Days + (1 | Subject) + ar(time = Days, gr = Subject, p = 1)"
QUICK = ["--chains", "2", "--iter", "400", "--seed", "1", "--quiet", "--no-plots"]


def _posterior(out) -> xr.Dataset:
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as saved:
        return saved.load()


def _stored_log_lik(out) -> np.ndarray:
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        name = next(iter(saved.data_vars))
        return saved[name].values.reshape(-1, saved.sizes["obs"])


def _flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    return posterior[name].values.reshape(-1)


# --- the acceptance model: brms's sleepstudy with AR(1) residuals ------------------------------


@pytest.fixture(scope="module")
def sleep_ar(tmp_path_factory):
    work = tmp_path_factory.mktemp("sleep_ar")
    done = mixfit(
        "fit", SAMPLE_DATA / "sleepstudy.csv", "-f", AR_FORMULA, "-o", "out", "--chains", "4",
        "--iter", "1000", "--seed", "1", "--no-plots", cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return work / "out", done


def test_j_lag_is_brms(sleep_ar):
    out, _ = sleep_ar
    ours, brms = read_json(out / "standata.json"), read_json(STANDATA)
    assert ours["J_lag"] == brms["J_lag"]
    assert (ours["Kar"], ours["Kma"]) == (brms["Kar"], brms["Kma"]) == (1, 0)


def test_sleepstudy_ar_agrees_with_brms(sleep_ar):
    """Population-level effects within 0.3 posterior SD of brms's; ar[1], sigma and
    sd(Intercept) within 15%."""
    out, _ = sleep_ar
    brms = read_json(REFERENCE)["brms"]
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    for reference in brms["fixed"]:
        gap = abs(fixef.loc[reference["_row"], "Estimate"] - reference["Estimate"])
        assert gap < 0.3 * reference["Est.Error"], (reference["_row"], gap)
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    references = brms["random"]["Subject"] + brms["spec_pars"] + brms["cor_pars"]
    for reference in references:
        ours = varcorr.loc[reference["_row"], "Estimate"]
        assert abs(ours / reference["Estimate"] - 1) < 0.15, (reference["_row"], ours)


def test_names_and_summary(sleep_ar):
    out, _ = sleep_ar
    assert "ar[1]" in _posterior(out)
    text = (out / "summary.txt").read_text()
    assert "Correlation Structures:" in text
    assert text.index("Correlation Structures:") < text.index("Group-Level Effects:")
    assert "\nar[1] " in text
    assert read_json(out / "design.json")["autocor"] == {
        "class": "arma", "p": 1, "q": 0, "time": "Days", "gr": "Subject",
    }  # fmt: skip
    prior = pd.read_csv(out / "prior.csv")
    assert (prior.loc[prior["class"] == "ar", "prior"] == "(flat)").all()  # brms 2.18: no bounds
    again = mixfit("summary", out, cwd=out.parent)  # read back: draws.nc against design.json
    assert again.returncode == 0, again.stderr
    assert "ar[1]" in again.stdout


def test_log_lik_uses_the_arma_mean(sleep_ar):
    """brms's log_lik for ARMA without cov: each row's density at the mean with the residuals
    of its series' earlier rows (.predictor_arma), recomputed here from the draws."""
    out, _ = sleep_ar
    data = pd.read_csv(SAMPLE_DATA / "sleepstudy.csv").sort_values(["Subject", "Days"])
    standata = read_json(out / "standata.json")
    posterior = _posterior(out)
    take = slice(0, 40)
    intercept = _flat(posterior, "b_Intercept")[take]
    slope = _flat(posterior, "b_Days")[take]
    r = posterior["r_Subject"].values.reshape(-1, *posterior["r_Subject"].shape[2:])[take, :, 0]
    level = np.array(standata["J_1"]) - 1
    eta = intercept[:, None] + slope[:, None] * data["Days"].to_numpy() + r[:, level]
    ar = _flat(posterior, "ar[1]")[take, None]
    mu = arma_mu(eta, data["Reaction"].to_numpy(), np.array(standata["J_lag"]), ar, None)
    sigma = _flat(posterior, "sigma")[take, None]
    y = data["Reaction"].to_numpy()
    expected = -0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * ((y - mu) / sigma) ** 2
    assert np.allclose(_stored_log_lik(out)[take], expected, rtol=1e-6, atol=1e-6)


def test_loo_runs(sleep_ar):
    _loo_runs(sleep_ar[0])


def _loo_runs(out: Path) -> None:
    loo = mixfit("loo", out, cwd=out.parent)
    assert loo.returncode == 0, loo.stderr
    assert "elpd_loo" in loo.stdout


def test_new_rows_take_their_series_residuals(sleep_ar):
    """log_lik of new rows (the fitted ones, shuffled) equals Stan's: the rows are sorted into
    series and each takes its earlier rows' residuals, as brms's .predictor_arma."""
    out, _ = sleep_ar
    data = pd.read_csv(SAMPLE_DATA / "sleepstudy.csv")
    shuffled = data.sample(frac=1, random_state=4).reset_index(drop=True)
    ours = log_lik(out, shuffled, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    stored = _stored_log_lik(out)  # in brms's order: by Subject, then Days
    order = shuffled.sort_values(["Subject", "Days"]).index.to_numpy()
    assert np.allclose(ours[:, order], stored, rtol=1e-8, atol=1e-8)
    fitted = predict(load(out), shuffled, "the new data")
    again = predict(load(out), data, "the new data")
    by_row = shuffled.assign(e=fitted["Estimate"]).sort_values(["Subject", "Days"])["e"]
    assert np.allclose(by_row.to_numpy(), again["Estimate"].to_numpy())
    no_response = mixfit(
        "predict", out, _without(data, "Reaction", out.parent / "x.csv"), cwd=out.parent
    )
    assert no_response.returncode == 2
    assert "lacks the response 'Reaction'" in no_response.stderr


def _without(data: pd.DataFrame, column: str, path):
    data.drop(columns=column).to_csv(path, index=False)
    return path


# --- simulated series: recovery of ma(q = 1) and cosy ------------------------------------------


def _series(rng, groups: int, length: int) -> pd.DataFrame:
    """Rows of each series shuffled, so the fit has to sort them by group and time."""
    g = np.repeat(np.arange(groups), length)
    t = np.tile(np.arange(length), groups)
    return pd.DataFrame({"g": g, "t": t, "x": rng.normal(size=groups * length)})


@pytest.fixture(scope="module")
def ma_fit(tmp_path_factory):
    rng = np.random.default_rng(11)
    data = _series(rng, 30, 10)
    e = rng.normal(0, 1.0, (30, 11))
    data["y"] = 1 + 0.5 * data["x"] + (e[:, 1:] + 0.6 * e[:, :-1]).reshape(-1)
    work = tmp_path_factory.mktemp("ma")
    data.sample(frac=1, random_state=2).to_csv(work / "ma.csv", index=False)
    done = mixfit(
        "fit", "ma.csv", "-f", "y ~ x + ma(time = t, gr = g, q = 1)", "-o", "out", *QUICK, cwd=work
    )
    assert done.returncode == 0, done.stderr
    return work / "out"


def test_ma_recovers_its_coefficient(ma_fit):
    varcorr = pd.read_csv(ma_fit / "varcorr.csv").set_index("param")
    assert abs(varcorr.loc["ma[1]", "Estimate"] - 0.6) < 0.15
    assert abs(varcorr.loc["sigma", "Estimate"] - 1.0) < 0.15
    fixef = pd.read_csv(ma_fit / "fixef.csv").set_index("term")
    assert abs(fixef.loc["x", "Estimate"] - 0.5) < 3 * fixef.loc["x", "Est.Error"]
    assert "ma[1]" in _posterior(ma_fit)


@pytest.fixture(scope="module")
def cosy_fit(tmp_path_factory):
    rng = np.random.default_rng(12)
    data = _series(rng, 30, 10)
    correlation = np.full((10, 10), 0.5) + 0.5 * np.eye(10)
    e = rng.multivariate_normal(np.zeros(10), 1.5**2 * correlation, size=30)
    data["y"] = 2 - 0.7 * data["x"] + e.reshape(-1)
    work = tmp_path_factory.mktemp("cosy")
    data.sample(frac=1, random_state=3).to_csv(work / "cosy.csv", index=False)
    done = mixfit(
        "fit", "cosy.csv", "-f", "y ~ x + cosy(time = t, gr = g)", "-o", "out", *QUICK, cwd=work
    )
    assert done.returncode == 0, done.stderr
    return work / "out", data.sort_values(["g", "t"])


def test_cosy_recovers_its_correlation(cosy_fit):
    out, _ = cosy_fit
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    assert abs(varcorr.loc["cosy", "Estimate"] - 0.5) < 0.15
    assert abs(varcorr.loc["sigma", "Estimate"] / 1.5 - 1) < 0.15
    assert "cosy" in _posterior(out)


def test_cosy_new_rows_take_their_own_series(cosy_fit):
    """log_lik of new rows equals the fit's own when the new data are the fitted rows (shuffled):
    each row given the other new rows of its series, as brms's log_lik_gaussian_time on newdata;
    and the CLI predicts them."""
    out, data = cosy_fit
    shuffled = data.sample(frac=1, random_state=5).reset_index(drop=True)
    ours = log_lik(out, shuffled, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    order = shuffled.sort_values(["g", "t"]).index.to_numpy()
    assert np.allclose(ours[:, order], _stored_log_lik(out), rtol=1e-8, atol=1e-8)
    done = mixfit("predict", out, out.parent / "cosy.csv", "--type", "prediction", cwd=out.parent)
    assert done.returncode == 0, done.stderr


def test_cosy_log_lik_is_brms_leave_one_out_form(cosy_fit):
    """brms's log_lik_gaussian_time: row i's normal density given the other rows of its series."""
    out, data = cosy_fit
    posterior = _posterior(out)
    stored = _stored_log_lik(out)
    y, x = data["y"].to_numpy(), data["x"].to_numpy()
    for s in (0, 123, 399):
        mu = _flat(posterior, "b_Intercept")[s] + _flat(posterior, "b_x")[s] * x
        sigma, cosy = _flat(posterior, "sigma")[s], _flat(posterior, "cosy")[s]
        C = sigma**2 * (np.full((10, 10), cosy) + (1 - cosy) * np.eye(10))
        Cinv = np.linalg.inv(C)
        for g in range(30):
            rows = slice(10 * g, 10 * g + 10)
            e = y[rows] - mu[rows]
            cbar = np.diag(Cinv)
            loo_mean = y[rows] - Cinv @ e / cbar
            sd = np.sqrt(1 / cbar)
            expected = (
                -0.5 * np.log(2 * np.pi) - np.log(sd) - 0.5 * ((y[rows] - loo_mean) / sd) ** 2
            )
            assert np.allclose(stored[s, rows], expected, rtol=1e-6, atol=1e-8)


# --- cosy() with the student family (brms's student_t_time_hom) -------------------------------

STUDENT_TRUTH = {"cosy": 0.5, "sigma": 1.5, "nu": 4.0}
COSY_STUDENT = "y ~ x + cosy(time = t, gr = g)"


def _student_series(seed: int) -> pd.DataFrame:
    """30 series of 10 rows, each series' residuals one multivariate student-t draw (a correlated
    normal scaled by one inverse gamma per series, as the model)."""
    rng = np.random.default_rng(seed)
    data = _series(rng, 30, 10)
    truth = STUDENT_TRUTH
    correlation = np.full((10, 10), truth["cosy"]) + (1 - truth["cosy"]) * np.eye(10)
    z = rng.multivariate_normal(np.zeros(10), correlation, size=30)
    w = np.sqrt(truth["nu"] / rng.chisquare(truth["nu"], size=(30, 1)))
    data["y"] = 2 - 0.7 * data["x"] + (truth["sigma"] * z * w).reshape(-1)
    return data


@pytest.fixture(scope="module")
def cosy_student(tmp_path_factory):
    data = _student_series(34)
    work = tmp_path_factory.mktemp("cosy_student")
    data.sample(frac=1, random_state=3).to_csv(work / "st.csv", index=False)
    done = mixfit(
        "fit", "st.csv", "-f", COSY_STUDENT, "--family", "student", "-o", "out", "--chains", "2",
        "--iter", "500", "--seed", "1", "--quiet", "--no-plots", cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return work / "out", data.sort_values(["g", "t"]).reset_index(drop=True)


def test_cosy_student_recovers_its_parameters(cosy_student):
    """cosy within 0.15 and sigma within 20% of the truth; nu, which only the 30 series' scales
    tell (one mixing draw per series), inside its 95% interval and clearly not normal."""
    out, _ = cosy_student
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    assert abs(varcorr.loc["cosy", "Estimate"] - STUDENT_TRUTH["cosy"]) < 0.15
    assert abs(varcorr.loc["sigma", "Estimate"] / STUDENT_TRUTH["sigma"] - 1) < 0.2
    nu = varcorr.loc["nu"]
    assert nu["Q2.5"] < STUDENT_TRUTH["nu"] < nu["Q97.5"]
    assert nu["Estimate"] < 15
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert abs(fixef.loc["x", "Estimate"] + 0.7) < 3 * fixef.loc["x", "Est.Error"]
    assert "multi_student_t" in (out / "model.stan").read_text()


def _conditional_student_t(y, mu, C, nu):
    """Each row's log density given the other rows, for y ~ multi_student_t(nu, mu, C): the
    textbook conditional (degrees of freedom nu + m - 1, scale grown by the other rows'
    Mahalanobis distance), from scipy and dense inverses."""
    from scipy import stats

    m = len(y)
    out = np.empty(m)
    for j in range(m):
        rest = np.delete(np.arange(m), j)
        inverse = np.linalg.inv(C[np.ix_(rest, rest)])
        e = y[rest] - mu[rest]
        mean = mu[j] + C[j, rest] @ inverse @ e
        variance = C[j, j] - C[j, rest] @ inverse @ C[rest, j]
        df = nu + m - 1
        scale = np.sqrt((nu + e @ inverse @ e) / df * variance)
        out[j] = stats.t.logpdf(y[j], df, mean, scale)
    return out


def test_cosy_student_log_lik_is_the_conditional_student_t(cosy_student):
    """brms's log_lik_student_time: row j's student-t density given the other rows of its
    series, recomputed with scipy from the draws."""
    out, data = cosy_student
    posterior = _posterior(out)
    stored = _stored_log_lik(out)
    y, x = data["y"].to_numpy(), data["x"].to_numpy()
    for s in (0, 321, 499):
        mu = _flat(posterior, "b_Intercept")[s] + _flat(posterior, "b_x")[s] * x
        sigma, cosy = _flat(posterior, "sigma")[s], _flat(posterior, "cosy")[s]
        nu = _flat(posterior, "nu")[s]
        C = sigma**2 * (np.full((10, 10), cosy) + (1 - cosy) * np.eye(10))
        for g in (0, 17, 29):
            rows = slice(10 * g, 10 * g + 10)
            expected = _conditional_student_t(y[rows], mu[rows], C, nu)
            assert np.allclose(stored[s, rows], expected, rtol=1e-6, atol=1e-8)


def test_cosy_student_new_rows(cosy_student, tmp_path):
    """New rows: log_lik of the fitted rows (shuffled) equals the fit's own; new series' draws
    are correlated within a series by about cosy and not across series; epred is mu."""
    out, data = cosy_student
    shuffled = data.sample(frac=1, random_state=6).reset_index(drop=True)
    ours = log_lik(out, shuffled, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    order = shuffled.sort_values(["g", "t"]).index.to_numpy()
    assert np.allclose(ours[:, order], _stored_log_lik(out), rtol=1e-8, atol=1e-8)

    new = pd.DataFrame({"g": np.repeat(np.arange(100, 140), 3), "t": np.tile([5, 1, 3], 40)})
    new["x"] = 0.0  # every row the same mean: the draws' spread is the residuals'
    fit = load(out)
    path = tmp_path / "draws.nc"
    predict(fit, new, "the new data", kind="prediction", seed=3, draws_file=path)
    with xr.open_dataset(path, engine="h5netcdf") as saved:
        draws = saved["prediction"].values.reshape(-1, len(new))
    cosy = _flat(_posterior(out), "cosy").mean()
    within = [np.corrcoef(draws[:, 3 * k], draws[:, 3 * k + 1])[0, 1] for k in range(40)]
    across = [np.corrcoef(draws[:, 3 * k], draws[:, 3 * k + 3])[0, 1] for k in range(39)]
    assert abs(np.mean(within) - cosy) < 0.1, (np.mean(within), cosy)
    assert abs(np.mean(across)) < 0.1
    epred = predict(fit, new, "the new data", kind="epred")
    intercept = _flat(_posterior(out), "b_Intercept").mean()
    assert np.allclose(epred["Estimate"], intercept)


def test_cosy_student_loo(cosy_student):
    _loo_runs(cosy_student[0])


def test_cosy_student_as_chain_jobs_and_combine(tmp_path):
    """A cosy() student model's chains run as jobs, combined, read back and predicted from."""
    data = _student_series(35)
    data.to_csv(tmp_path / "sim.csv", index=False)
    spec = {
        "data": "sim.csv",
        "formula": COSY_STUDENT,
        "family": "student",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 400, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    varcorr = pd.read_csv(out / "varcorr.csv")
    assert {"cosy", "sigma", "nu"} <= set(varcorr["param"])
    assert _stored_log_lik(out).shape == (400, len(data))
    again = mixfit("summary", out, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Correlation Structures:" in again.stdout
    done = mixfit("predict", out, "sim.csv", "--type", "prediction", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_arma_as_chain_jobs_and_combine(tmp_path):
    """An ARMA(1, 1) model's chains run as jobs, combined, and read back."""
    rng = np.random.default_rng(13)
    data = _series(rng, 20, 10)
    data["y"] = 0.5 * data["x"] + rng.normal(size=len(data)).cumsum() * 0.1
    data.to_csv(tmp_path / "sim.csv", index=False)
    spec = {
        "data": "sim.csv",
        "formula": "y ~ x + arma(time = t, gr = g, p = 1, q = 1)",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 300, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    varcorr = pd.read_csv(out / "varcorr.csv")
    assert {"ar[1]", "ma[1]"} <= set(varcorr["param"])
    assert _stored_log_lik(out).shape == (300, len(data))
    again = mixfit("summary", out, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Correlation Structures:" in again.stdout


# --- the term's data, without sampling ---------------------------------------------------------


def test_rows_sorted_and_j_lag_as_brms():
    frame = pd.DataFrame({"g": [2, 1, 2, 1, 1, 2], "t": [3, 2, 1, 1, 3, 2], "y": range(6)})
    term = AutocorTerm("arma", 2, 1, "t", "g", "arma(t, g, 2, 1)")
    ordered = order_rows(term, frame)
    assert ordered["g"].tolist() == [1, 1, 1, 2, 2, 2]
    assert ordered["t"].tolist() == [1, 2, 3, 1, 2, 3]
    built = build(term, ordered)
    # brms's data_ac: for row n, the rows n, n-1 (max_lag 2) of row n+1's series
    assert built.J_lag.tolist() == [1, 2, 0, 1, 2, 0]
    with pytest.raises(InputError, match="must be unique"):
        order_rows(term, pd.concat([frame, frame.iloc[:1]]))
