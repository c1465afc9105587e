"""Plots and report.html, from posteriors shaped like a real fit's (random draws, no sampling)."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DATA

from mixfit.model.priors import Prior
from mixfit.pipeline import prepare
from mixfit.results.arviz_api import inference_data
from mixfit.results.html_report import write_html
from mixfit.results.plots import (
    _mark_prior_only,
    _rank_figure,
    _sd_prior_figure,
    _trace_figure,
    write_plots,
)
from mixfit.results.prior_density import prior_density
from mixfit.results.summaries import labelled_draws
from mixfit.spec import build_spec

image = pytest.importorskip("matplotlib.image")

CHROMIUM = Path("/usr/bin/chromium")


def prepared_model(data: Path, formula: str, family: str | None = None):
    options = {"data": data, "formula": formula} | ({"family": family} if family else {})
    return prepare(build_spec({}, options)).model


def fake_idata(model, chains: int = 2, draws: int = 100, seed: int = 0):
    """Random draws with the dimensions and names of a real fit's InferenceData."""
    rng = np.random.default_rng(seed)
    design = model.design
    shape = (chains, draws)
    posterior = {"b": rng.normal(0.5, 0.2, shape + (len(design.coefs),))}
    dims = {"b": ["coef"]}
    coords = {"coef": design.coefs}
    if design.has_intercept:
        posterior["b_Intercept"] = rng.normal(2.0, 0.3, shape)
    for param in model.family.params:
        posterior[param.name] = np.abs(rng.normal(1.0, 0.1, shape))
    for block in design.blocks:
        k, terms = block.id, len(block.terms)
        posterior[f"sd_{k}"] = np.abs(rng.normal(0.6, 0.15, shape + (terms,)))
        posterior[f"r_{k}"] = rng.normal(
            rng.normal(0, 0.5, len(block.levels))[:, None], 0.2, shape + (len(block.levels), terms)
        )
        dims |= {f"sd_{k}": [f"term_{k}"], f"r_{k}": [f"level_{k}", f"term_{k}"]}
        coords |= {f"term_{k}": block.terms, f"term_{k}_": block.terms, f"level_{k}": block.levels}
        if block.has_cor:
            rho = np.tanh(rng.normal(0.3, 0.2, shape))
            cor = np.broadcast_to(np.eye(terms), shape + (terms, terms)).copy()
            cor[..., 0, 1] = cor[..., 1, 0] = rho
            posterior[f"Cor_{k}"] = cor
            dims[f"Cor_{k}"] = [f"term_{k}", f"term_{k}_"]
    y = design.response.values
    kind = model.family.response
    if kind == "real":
        y_rep = rng.normal(y, y.std(), shape + y.shape)
    elif kind == "binary":
        y_rep = rng.binomial(1, y.mean(), shape + y.shape)
    else:
        y_rep = rng.poisson(np.maximum(y, 0.5), shape + y.shape)
    name = design.formula.response
    groups = {
        "posterior": posterior,
        "posterior_predictive": {name: y_rep},
        "observed_data": {name: y},
    }
    return inference_data(groups, coords, dims | {name: ["obs"]})


CASES = {
    "sleepstudy": (
        SAMPLE_DATA / "sleepstudy.csv",
        "Reaction ~ Days + (Days | Subject)",
        None,
        {
            "trace",
            "rank",
            "forest",
            "caterpillar_Subject_Intercept",
            "caterpillar_Subject_Days",
            "ppc",
            "sd_prior",
        },
    ),
    "poisson": (
        SAMPLE_DATA / "poisson_crossed.csv",
        "count ~ x + offset(log(exposure)) + (1 | site) + (1 | year)",
        "poisson",
        {
            "trace",
            "rank",
            "forest",
            "caterpillar_site_Intercept",
            "caterpillar_year_Intercept",
            "ppc",
            "sd_prior",
        },
    ),
    "bernoulli": (
        SAMPLE_DATA / "bernoulli_crossed.csv",
        "y ~ x + trt + (1 | subject) + (1 | item)",
        "bernoulli",
        {
            "trace",
            "rank",
            "forest",
            "caterpillar_subject_Intercept",
            "caterpillar_item_Intercept",
            "ppc",
            "sd_prior",
        },
    ),
}


def assert_readable_png(path: Path, max_height: int = 5000) -> np.ndarray:
    pixels = image.imread(path)
    height, width = pixels.shape[:2]
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4), path.name
    assert 300 <= width <= 2000 and 250 <= height <= max_height, (path.name, pixels.shape)
    rgb = pixels[..., :3]
    background = np.all(rgb > 0.97, axis=-1).mean()
    assert rgb.std() > 0.02 and background < 0.995, f"{path.name} looks blank"
    return pixels


@pytest.fixture(scope="module")
def sleepstudy_plots(tmp_path_factory) -> list[Path]:
    data, formula, family, _ = CASES["sleepstudy"]
    model = prepared_model(data, formula, family)
    return write_plots(model, fake_idata(model), tmp_path_factory.mktemp("fit") / "plots")


@pytest.mark.parametrize("case", list(CASES))
def test_every_plot_is_a_readable_png(case, tmp_path):
    data, formula, family, expected = CASES[case]
    model = prepared_model(data, formula, family)
    paths = write_plots(model, fake_idata(model), tmp_path / "plots")
    assert {p.stem for p in paths} == expected
    assert sorted(tmp_path.joinpath("plots").iterdir()) == sorted(paths)
    for path in paths:
        assert_readable_png(path)


def test_caterpillar_stays_readable_with_hundreds_of_levels(tmp_path):
    rng = np.random.default_rng(1)
    levels = [f"g{j:03d}" for j in range(400)]
    frame = pd.DataFrame({"g": np.repeat(levels, 3), "y": rng.normal(size=1200)})
    frame.to_csv(tmp_path / "many.csv", index=False)
    model = prepared_model(tmp_path / "many.csv", "y ~ 1 + (1 | g)")
    paths = write_plots(model, fake_idata(model), tmp_path / "plots")
    caterpillar = tmp_path / "plots" / "caterpillar_g_Intercept.png"
    assert caterpillar in paths
    pixels = assert_readable_png(caterpillar)
    assert 3000 <= pixels.shape[0] <= 4200  # taller than the default, within the cap


def test_half_priors_are_normalised_on_the_positive_axis():
    x = np.linspace(0, 2000, 400_001)
    for prior in [
        Prior("student_t", (3, 0, 2.5)),
        Prior("normal", (0, 1)),
        Prior("exponential", (2,)),
    ]:
        density = prior_density(prior, x)
        area = np.sum((density[1:] + density[:-1]) / 2 * np.diff(x))
        assert area == pytest.approx(1, abs=2e-3), prior
    assert prior_density(Prior("student_t", (3, 0, 2.5)), np.array([-1.0]))[0] == 0
    assert prior_density(Prior("flat"), x) is None


def test_importing_the_modules_does_not_import_matplotlib():
    code = (
        "import sys, mixfit.results.plots, mixfit.results.html_report; "
        "assert 'matplotlib' not in sys.modules and 'arviz' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def report(outdir: Path, plots: list[Path]) -> Path:
    tables = {
        "fixef.csv": pd.DataFrame(
            {"term": ["Intercept", "Days"], "Estimate": [251.4, 10.467], "Rhat": [1.001, 1.0]}
        ),
        "ranef.csv": pd.DataFrame({"level": [str(j) for j in range(40)], "Estimate": 0.5}),
    }
    summary = " Family: gaussian\nFormula: Reaction ~ Days + (Days | Subject) <b>&</b>"
    return write_html(outdir, summary, tables, "All checks passed.", plots)


def test_report_is_self_contained_and_embeds_every_plot(sleepstudy_plots, tmp_path):
    page = report(tmp_path, sleepstudy_plots).read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"url\(|@import|<script|<link|<iframe", page, re.IGNORECASE)
    for path in sleepstudy_plots:
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        assert f'src="data:image/png;base64,{encoded}"' in page, path.name
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in page  # the summary is escaped, not interpreted
    assert "All checks passed." in page and '<td class="num">10.47</td>' in page
    assert "show all 40 rows" in page


def screenshot(page: Path, workdir: Path) -> np.ndarray:
    out = workdir / f"{page.parent.name}.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={workdir / 'profile'}",
            f"--screenshot={out}",
            "--window-size=1200,2000",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return image.imread(out)[..., :3]


def interval_pixels(rgb: np.ndarray) -> int:
    """Pixels of the plots' interval colour (#3b6ea8)."""
    target = np.array([0x3B, 0x6E, 0xA8]) / 255
    return int((np.abs(rgb - target).max(axis=-1) < 0.03).sum())


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")
def test_chromium_renders_the_report(sleepstudy_plots, tmp_path):
    forest = next(p for p in sleepstudy_plots if p.stem == "forest")
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    rendered = screenshot(report(tmp_path / "with", [forest]), tmp_path)
    plain = screenshot(report(tmp_path / "without", []), tmp_path)
    assert rendered.shape[:2] == (2000, 1200)
    assert rendered.std() > 0.02, "the page rendered blank"
    # The embedded forest plot was decoded and drawn: its intervals add their colour to the page.
    assert interval_pixels(rendered) > interval_pixels(plain) + 1000


def sleepstudy_params(prior_only: bool = False):
    data, formula, *_ = CASES["sleepstudy"]
    options = {"data": data, "formula": formula}
    if prior_only:
        options |= {"sample_prior": "only", "priors": ("normal(0, 10) : b",)}
    model = prepare(build_spec({}, options)).model
    return model, labelled_draws(model, fake_idata(model, chains=4).posterior)


def test_chains_are_numbered_from_1_in_the_trace_legend_and_rank_plot():
    _, params = sleepstudy_params()
    scalars = {name: draws for kind in params.values() for name, draws in kind.items()}
    trace = _trace_figure(scalars, "")
    assert [t.get_text() for t in trace.legends[0].get_texts()] == [f"chain {c}" for c in "1234"]
    assert "4 chains" in trace.get_suptitle()
    rank = _rank_figure(scalars, "")
    assert [t.get_text() for t in rank.axes[0].get_yticklabels()] == list("1234")


def test_a_prior_only_sd_plot_says_its_draws_are_the_priors():
    model, params = sleepstudy_params(prior_only=True)
    figure = _sd_prior_figure(model, params["sd"], model.prior_only)
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert labels == ["draws from the prior", "prior density"]
    _mark_prior_only(figure)
    assert "posterior" not in figure.get_suptitle().lower()
    model, params = sleepstudy_params()
    posterior = _sd_prior_figure(model, params["sd"], model.prior_only)
    assert posterior.legends[0].get_texts()[0].get_text() == "posterior"


def test_report_tables_format_each_column_alike():
    from mixfit.results.html_report import _table

    frame = pd.DataFrame(
        {"term": ["Intercept", "Days"], "Estimate": [251.4051, 10.4673], "Bulk_ESS": [3120, 980]}
    )
    frame["Bulk_ESS"] = frame["Bulk_ESS"].astype("Int64")
    cells = re.findall(r'<td class="num">([^<]*)</td>', _table("fixef", frame))
    assert cells == ["251.41", "3120", "10.47", "980"]  # one number of decimals per column


@pytest.mark.parametrize("cores", [1, 2])
def test_the_same_plots_on_one_core_or_two(cores, tmp_path, monkeypatch):
    """With two cores a forked child draws the trace and rank plots; with one, this process."""
    from mixfit.results import forked

    monkeypatch.setattr(forked, "available_cores", lambda: cores)
    data, formula, family, expected = CASES["sleepstudy"]
    model = prepared_model(data, formula, family)
    paths = write_plots(model, fake_idata(model), tmp_path / "plots")
    assert [p.stem for p in paths][:2] == ["trace", "rank"]
    assert {p.stem for p in paths} == expected
    for path in paths:
        assert_readable_png(path)
