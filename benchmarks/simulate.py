"""Simulate the benchmark's large data sets (fixed seeds) into benchmarks/data/.

    python benchmarks/simulate.py

bernoulli_crossed_10k: y ~ x + (1 | subject) + (1 | item), 300 subjects x 50 items (N = 10,000).
poisson_slope_50k:     count ~ x + (1 + x | g), 1,000 groups (N = 50,000).
gaussian_slope_500k:   y ~ x + (1 + x | g), 5,000 groups (N = 500,000).
insteval_73k:          y ~ service + (1 | student) + (1 | instructor) + (1 | dept), the shape of
                       lme4's InstEval: 2,972 students crossed with 1,128 instructors, instructors
                       nested in 14 departments, a small department SD (N = 73,000).
wide_1m:               1,000,000 rows x 50 columns, of which y ~ x + (1 | g) uses 3 (memory check).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parent / "data"


def correlated_effects(rng, groups: int, sds: tuple[float, float], cor: float) -> np.ndarray:
    cov = np.array([[sds[0] ** 2, cor * sds[0] * sds[1]], [cor * sds[0] * sds[1], sds[1] ** 2]])
    return rng.multivariate_normal([0.0, 0.0], cov, size=groups)


def bernoulli_crossed(rng) -> tuple[pd.DataFrame, dict]:
    subjects, items = 300, 50
    subject = np.repeat(np.arange(subjects), 10_000 // subjects + 1)[:10_000]
    item = rng.integers(0, items, size=10_000)
    x = rng.normal(size=10_000)
    u, v = rng.normal(0, 0.8, subjects), rng.normal(0, 0.4, items)
    eta = -0.3 + 0.7 * x + u[subject] + v[item]
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    frame = pd.DataFrame(
        {
            "y": y,
            "x": x.round(6),
            "subject": [f"s{i:03d}" for i in subject],
            "item": [f"i{i:02d}" for i in item],
        }
    )
    truth = {"b": {"Intercept": -0.3, "x": 0.7}, "sd": {"subject": 0.8, "item": 0.4}}
    return frame, truth


def poisson_slope(rng) -> tuple[pd.DataFrame, dict]:
    groups, n = 1_000, 50_000
    g = np.repeat(np.arange(groups), n // groups)
    x = rng.normal(size=n)
    r = correlated_effects(rng, groups, (0.5, 0.2), 0.3)
    eta = 0.5 + 0.3 * x + r[g, 0] + r[g, 1] * x
    frame = pd.DataFrame(
        {"count": rng.poisson(np.exp(eta)), "x": x.round(6), "g": [f"g{i:04d}" for i in g]}
    )
    return frame, {
        "b": {"Intercept": 0.5, "x": 0.3},
        "sd": {"Intercept": 0.5, "x": 0.2},
        "cor": 0.3,
    }


def gaussian_slope(rng) -> tuple[pd.DataFrame, dict]:
    groups, n = 5_000, 500_000
    g = np.repeat(np.arange(groups), n // groups)
    x = rng.normal(size=n)
    r = correlated_effects(rng, groups, (2.0, 0.5), -0.2)
    y = 10 + 1.5 * x + r[g, 0] + r[g, 1] * x + rng.normal(0, 3.0, size=n)
    frame = pd.DataFrame({"y": y.round(5), "x": x.round(6), "g": [f"g{i:04d}" for i in g]})
    return frame, {
        "b": {"Intercept": 10, "x": 1.5},
        "sd": {"Intercept": 2.0, "x": 0.5},
        "cor": -0.2,
        "sigma": 3.0,
    }


def insteval(rng) -> tuple[pd.DataFrame, dict]:
    """Ratings of instructors by students, as in lme4's InstEval; SDs near lme4's estimates there
    (student 0.32, instructor 0.52, department 0.08, residual 1.18)."""
    n, students, instructors, depts = 73_000, 2_972, 1_128, 14
    dept_of = rng.integers(0, depts, instructors)  # each instructor teaches in one department
    student, instructor = rng.integers(0, students, n), rng.integers(0, instructors, n)
    service = rng.integers(0, 2, n)
    sds = {"student": 0.32, "instructor": 0.52, "dept": 0.08}
    y = (
        3.2
        - 0.07 * service
        + rng.normal(0, sds["student"], students)[student]
        + rng.normal(0, sds["instructor"], instructors)[instructor]
        + rng.normal(0, sds["dept"], depts)[dept_of[instructor]]
        + rng.normal(0, 1.18, n)
    )
    frame = pd.DataFrame(
        {
            "y": y.round(4),
            "service": service,
            "student": [f"s{i:04d}" for i in student],
            "instructor": [f"i{i:04d}" for i in instructor],
            "dept": [f"d{i:02d}" for i in dept_of[instructor]],
        }
    )
    truth = {"b": {"Intercept": 3.2, "service": -0.07}, "sd": sds, "sigma": 1.18}
    return frame, truth


def wide(rng) -> pd.DataFrame:
    n = 1_000_000
    frame = pd.DataFrame(
        rng.normal(size=(n, 47)).round(4), columns=[f"v{i:02d}" for i in range(47)]
    )
    g = rng.integers(0, 200, size=n)
    frame.insert(0, "g", [f"g{i:03d}" for i in g])
    frame.insert(0, "x", rng.normal(size=n).round(4))
    frame.insert(
        0, "y", (1 + 0.5 * frame["x"] + rng.normal(0, 0.3, 200)[g] + rng.normal(size=n)).round(4)
    )
    return frame


def main() -> None:
    DATA.mkdir(exist_ok=True)
    truths = {}
    for name, make, seed in [
        ("bernoulli_crossed_10k", bernoulli_crossed, 101),
        ("poisson_slope_50k", poisson_slope, 102),
        ("gaussian_slope_500k", gaussian_slope, 103),
        ("insteval_73k", insteval, 105),
    ]:
        frame, truths[name] = make(np.random.default_rng(seed))
        frame.to_csv(DATA / f"{name}.csv", index=False)
    wide(np.random.default_rng(104)).to_csv(DATA / "wide_1m.csv", index=False)
    (DATA / "truth.json").write_text(json.dumps(truths, indent=2) + "\n")


if __name__ == "__main__":
    main()
