"""The classical fit on its own (``mixfit classical``): the spec's model prepared as a Bayesian fit
would prepare it (the same rows, coding and checks), fitted by the library, its files written into
OUTDIR at once; nothing is sampled."""

from __future__ import annotations

from mixfit.classical.fit import check_supported, fit_classical, method_of
from mixfit.classical.report import ClassicalReport
from mixfit.pipeline import prepare
from mixfit.results.outdir import staged
from mixfit.spec import RunSpec


def fit_alone(spec: RunSpec, prob: float = 0.95) -> ClassicalReport:
    """Fit ``spec``'s model classically and write ``classical/`` into ``spec.output``."""
    design = prepare(spec).model.design
    check_supported(design)
    fit = fit_classical(design, method_of(design, spec.classical == "ML"))
    report = ClassicalReport(fit, design, str(spec.data), prob)
    with staged(spec.output) as stage:
        report.write(stage)
    return report
