"""The classical verdict's wording (mixfit/classical/verdict.py), from the library's reports."""

import pandas as pd

from mixfit.classical.verdict import failed, judge


def varcorr(rows):
    return pd.DataFrame(rows, columns=["group", "param", "Estimate"])


SLOPE = varcorr(
    [
        ("g", "sd(Intercept)", 0.8),
        ("g", "sd(x)", 0.3),
        ("g", "cor(Intercept,x)", 0.2),
        ("Residual", "sigma", 1.0),
    ]
)


def verdict(**changes):
    clean = {"converged": True, "singular": False, "pinned": [], "varcorr": SLOPE, "scale": 1.0}
    return judge("REML", **{"aliased": [], "notes": [], **clean, **changes})


def test_a_clean_fit():
    clean = verdict()
    assert clean.headline == "converged, not singular"
    assert clean.messages == [] and clean.hessian_ok and clean.as_dict()["converged"]


def test_an_sd_at_zero_relative_to_sigma():
    rows = SLOPE.assign(Estimate=[0.8, 5e-5, 0.2, 1.0])
    at_zero = verdict(singular=True, pinned=[("g", "x")], varcorr=rows)
    assert at_zero.boundary == [{"group": "g", "param": "sd(x)", "at": "0"}]
    assert at_zero.headline == "converged, boundary (singular) fit: ~g: sd(x) = 0"
    # the same SD is not on the boundary when sigma is large: lme4 scales by sigma
    interior = verdict(singular=True, pinned=[], varcorr=rows, scale=0.01)
    assert interior.boundary == []


def test_a_correlation_at_minus_one_and_a_degenerate_block():
    rows = SLOPE.assign(Estimate=[0.8, 0.3, -1.0, 1.0])
    minus = verdict(singular=True, pinned=[("g", "x")], varcorr=rows)
    assert minus.boundary == [{"group": "g", "param": "cor(Intercept,x)", "at": "-1"}]
    # pinned, yet neither at 0 nor at +-1 (a 3 x 3 block of rank 2): said as such
    odd = verdict(singular=True, pinned=[("g", "x")])
    assert odd.boundary == [{"group": "g", "param": "sd(x)", "at": "singular"}]
    assert "sd(x) is a combination of the other terms" in odd.headline


def test_not_converged_hessian_and_dropped_columns_in_lme4s_words():
    notes = [
        {"kind": "search_limit", "message": "The search stopped at its step limit."},
        {"kind": "se_unavailable", "message": "Standard errors could not be computed."},
        {"kind": "pirls_exhausted", "message": "The final step ran out of iterations."},
    ]
    bad = verdict(converged=False, notes=notes, aliased=["Weeks", "Months"])
    assert bad.status == "not converged"
    assert bad.headline == "did not converge, not singular"
    assert bad.messages == [
        "Model failed to converge: The search stopped at its step limit.",
        (
            "fixed-effect model matrix is rank deficient so dropping 2 columns / coefficients "
            "(Weeks, Months)"
        ),
        "Hessian is not positive definite: Standard errors could not be computed.",
        "The final step ran out of iterations.",
    ]
    assert not bad.hessian_ok and bad.rank_deficient == ["Weeks", "Months"]


def test_a_failure_says_why():
    none = failed("Laplace ML", "glmm: the fitting algorithm failed")
    assert none.headline == "failed: glmm: the fitting algorithm failed"
    assert none.as_dict()["status"] == "failed" and not none.converged
