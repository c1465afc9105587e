"""The peer benchmark's reading of a peer's output (benchmarks/peers/results.py) and its report
(benchmarks/peers/report.py): no sampling."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from peers.report import markdown
from peers.results import figures, saved_brms


def summary_row(kind, group, param, ess, rhat=1.001, mean=1.0):
    return {
        "kind": kind,
        "group": group,
        "param": param,
        "mean": mean,
        "sd": 0.1,
        "ess_bulk": ess,
        "ess_tail": ess,
        "r_hat": rhat,
    }


def test_min_ess_is_over_mixfits_set_and_family_parameters_are_reported_apart():
    output = {
        "summary": [
            summary_row("population", None, "Intercept", 1500.0),
            summary_row("population", None, "Days", 900.0),
            summary_row("sd", "Subject", "sd(Days)", 700.0, mean=6.5),
            summary_row("family", "Residual", "sigma", 300.0, rhat=1.02, mean=25.8),
        ],
        "seconds": {"sampling": 2.0},
        "divergences": 3,
        "mean_tree_depth": 3.1,
        "versions": {"bambi": "x"},
    }
    row = figures(output)
    assert row["min_bulk_ess"] == 700.0  # sigma's 300 is not in mixfit's set
    assert row["min_bulk_ess_with_family"] == 300.0
    assert row["ess_per_second"] == 350.0
    assert row["max_rhat"] == 1.02
    assert row["sd"] == {"Subject sd(Days)": 6.5, "Residual sigma": 25.8}
    assert row["bulk_ess"]["Days"] == 900.0 and row["divergences"] == 3


def test_saved_brms_figures_come_from_the_reference_file():
    reference = json.loads((Path(__file__).parent / "reference" / "sleepstudy.json").read_text())[
        "brms"
    ]
    row = saved_brms("sleepstudy")
    assert row["wall_seconds"] == reference["total_seconds"]
    chains = reference["sampling_seconds_per_chain"].values()
    assert row["sampling_seconds"] == pytest.approx(sum(chains), abs=1e-3)
    # the smallest over fixed effects, SDs and the correlation: cor(Intercept,Days)'s
    assert row["min_bulk_ess"] == round(reference["random"]["Subject"][2]["Bulk_ESS"], 1)
    assert saved_brms("gaussian_slope_500k") is None


def test_without_r_brms_gives_its_saved_figures_or_says_why_not(monkeypatch, tmp_path):
    from peers.runner import brms_unavailable, run_peer

    monkeypatch.setenv("PATH", str(tmp_path))  # no Rscript here
    assert brms_unavailable() == "R is not installed (no Rscript on the PATH)"
    case = (tmp_path / "data.csv", "y ~ x + (1 | g)", "gaussian")

    def measure(*_):
        raise AssertionError("nothing runs without R")

    saved = run_peer(measure, "radon", case, "brms", python="python", cap_seconds=60)
    assert saved["status"] == "saved, not run" and saved["wall_seconds"] == 40.6
    missing = run_peer(measure, "insteval_73k", case, "brms", python="python", cap_seconds=60)
    assert missing["status"] == "not run: R is not installed (no Rscript on the PATH)"


def test_each_mixfit_engine_is_set_against_each_peer():
    mixfit = [
        {"case": "c", "engine": engine, "warm_seconds": seconds, "ess_per_second": ess_s}
        for engine, seconds, ess_s in (
            ("stanli", 10.0, 50.0),
            ("nutpie", 5.0, 100.0),
            ("pystan", 1.0, 1.0),
        )
    ]
    peers = [
        {
            "case": "c",
            "peer": "bambi-nutpie",
            "status": "ran",
            "wall_seconds": 20.0,
            "ess_per_second": 25.0,
        },
        {"case": "c", "peer": "bambi-pymc", "status": "cap", "cap_seconds": 60.0},
    ]
    text = markdown(peers, mixfit)
    assert "| c | mixfit nutpie | 5.0 |" in text and "mixfit pystan" not in text
    assert "| c | stanli | bambi-nutpie | 2.0 | 2.0 |" in text
    assert "| c | nutpie | bambi-nutpie | 4.0 | 4.0 |" in text
    assert "| c | nutpie | bambi-pymc | > 12.0 | - |" in text
