"""The analytic gaussian path (group-level effects integrated out) against the full model."""

from __future__ import annotations

import pandas as pd

from conftest import SAMPLE_DATA


def test_marginal_and_full_model_agree_on_sleepstudy(sleepstudy_fit, run_mixfit, tmp_path):
    marginal, _ = sleepstudy_fit
    assert "integrated out" in (marginal / "model.stan").read_text()
    done = run_mixfit(
        "fit", SAMPLE_DATA / "sleepstudy.csv", "-f", "Reaction ~ Days + (Days | Subject)",
        "-o", tmp_path / "full", "--seed", "1", "--no-marginal", "--no-plots", "--quiet",
    )
    assert done.returncode == 0, done.stderr
    full = tmp_path / "full"
    assert "z_1" in (full / "model.stan").read_text()
    tables = [("fixef.csv", ["term"]), ("varcorr.csv", ["group", "param"]),
              ("ranef.csv", ["group", "level", "term"])]
    for name, keys in tables:
        a = pd.read_csv(marginal / name, dtype={"level": str}).set_index(keys)
        b = pd.read_csv(full / name, dtype={"level": str}).set_index(keys)
        assert list(a.index) == list(b.index), name
        gap = (a["Estimate"] - b["Estimate"]).abs() / b["Est.Error"]
        assert gap.max() < 0.1, (name, gap.idxmax(), gap.max())
