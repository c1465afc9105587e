"""The classical fit's part of a results folder: ``classical/`` (fixef.csv, varcorr.csv,
verdict.json, summary.txt), ``comparison.csv`` beside the posterior tables, the summary's
"Bayesian vs maximum likelihood" section and report.html's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.classical.comparison import Nearness, compare, near_boundary
from mixfit.classical.comparison_text import bayes_vs_ml
from mixfit.classical.fit import ClassicalFit, with_intervals
from mixfit.classical.text import classical_text
from mixfit.classical.verdict import describe
from mixfit.model.design import Design
from mixfit.results.tables import write_table


@dataclass
class ClassicalReport:
    fit: ClassicalFit
    design: Design
    data: str  # the data file, as the summary names it
    prob: float = 0.95
    comparison: pd.DataFrame | None = None  # None alone, or when the classical fit failed
    near: dict[tuple[str, str], Nearness] | None = None  # the posterior by each boundary estimate

    @classmethod
    def beside(
        cls,
        fit: ClassicalFit,
        design: Design,
        data: str,
        fixef: pd.DataFrame,
        varcorr: pd.DataFrame,
        prob: float,
        draws: dict[tuple[str, str], np.ndarray] | None = None,
    ) -> ClassicalReport:
        """The report of a Bayesian fit's classical twin: ``fixef`` and ``varcorr`` are the
        posterior's tables, ``draws`` each component's draws (comparison.component_draws)."""
        comparison = compare(fixef, varcorr, fit, prob) if fit.ok else None
        near = near_boundary(comparison, draws, prob) if comparison is not None and draws else None
        return cls(fit, design, data, prob, comparison, near)

    @property
    def section(self) -> str:
        return bayes_vs_ml(self.comparison, self.fit.verdict, self.prob, self.near)

    @property
    def text(self) -> str:
        return classical_text(self.fit, self.design, self.data, self.prob)

    def write(self, stage: Path) -> None:
        folder = stage / "classical"
        folder.mkdir()
        if self.fit.ok:
            write_table(with_intervals(self.fit.fixef, self.prob), folder / "fixef.csv")
            write_table(with_intervals(self.fit.varcorr, self.prob), folder / "varcorr.csv")
        verdict = json.dumps(self.fit.verdict.as_dict(), indent=2, allow_nan=False)
        (folder / "verdict.json").write_text(verdict + "\n")
        (folder / "summary.txt").write_text(self.text)
        if self.comparison is not None:
            write_table(self.comparison, stage / "comparison.csv")

    def html(self, model, posterior, stage: Path):
        """report.html's section: the verdict, the comparison table and the plots."""
        from mixfit.classical.plots import write_classical_plots
        from mixfit.results.html_report import Section

        verdict = self.fit.verdict
        note = "\n".join(
            [f"Classical fit ({verdict.method}, {verdict.library}): {verdict.headline}"]
            + [f"  {m}" for m in verdict.messages if m != verdict.reason]
            + [f"  on the boundary: {describe(b)}" for b in verdict.boundary]
        )
        if self.comparison is None:
            return Section("classical", "Bayesian vs maximum likelihood", note, {}, [])
        plot_dir = stage / "plots"
        plots = write_classical_plots(model, posterior, self.comparison, verdict.method, plot_dir)
        tables = {f"Posterior beside the {verdict.method} fit": self.comparison}
        return Section("classical", "Bayesian vs maximum likelihood", note, tables, plots)
