"""Random CSV bytes and random formulas thrown at `mixfit fit` and `mixfit stancode`, in-process.

The only outcomes allowed: a result, or a clean error (one line, exit 2; for `fit`, the stand-in
backend's exit 3, which is raised where compiling would start, so nothing is ever compiled).
Runtime: about 35 s (4 properties, 60-120 examples each).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixfit import pipeline
from mixfit.cli import cli
from mixfit.errors import ToolchainError

NO_BACKEND = "no backend in the property tests"
FAST = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(autouse=True)
def no_compiling(monkeypatch):
    def refuse(*_args):
        raise ToolchainError(NO_BACKEND)

    monkeypatch.setattr(pipeline, "choose_backend", refuse)


def run(args: list[str], csv: bytes, workdir: Path):
    (workdir / "data.csv").write_bytes(csv)
    return CliRunner().invoke(cli, args, catch_exceptions=True)


def check_outcome(result, command: str, workdir: Path) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # an exception that escaped the CLI's error handling: a bug
    allowed = {0, 2} if command == "stancode" else {2, 3}
    assert result.exit_code in allowed, result.output
    errors = result.stderr.splitlines()
    if result.exit_code:
        assert len(errors) == 1 and errors[0].startswith("mixfit: error:"), result.stderr
        assert "internal error" not in errors[0]
        if result.exit_code == 3:
            assert NO_BACKEND in errors[0]
    assert "Traceback" not in result.output
    assert not (workdir / "out").exists()
    assert not (workdir / "X").exists()


NAMES = st.sampled_from(["y", "x", "g", "h", "n", "y", "x", "g", "", "a b", "é", "y"])
CELLS = st.one_of(
    st.integers(-3, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NA", "a", "b", "c", "true", '"q,uoted"', '"new\nline"', '"', " ", "1e400"]),
    st.text(max_size=4),
)


@st.composite
def csv_texts(draw) -> bytes:
    """Mostly CSV-shaped text (a header of likely names, cells of many kinds), sometimes noise."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=200))
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    header = draw(st.lists(NAMES, min_size=1, max_size=5))
    rows = draw(
        st.lists(
            st.lists(CELLS, min_size=max(0, len(header) - 1), max_size=len(header) + 1),
            max_size=12,
        )
    )
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in rows]
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    prefix = draw(st.sampled_from(["", "\ufeff"]))
    return (prefix + text).encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-16"])), "replace")


GOOD_CSV = (
    "y,x,g,h,n\n" + "".join(f"{i % 3},{i * 0.37 % 2:.2f},g{i % 4},h{i % 2},3\n" for i in range(16))
).encode()

TOKENS = [
    "y", "x", "g", "h", "n", "~", "+", "-", "*", ":", "/", "|", "||", "(", ")", "1", "0", "2.5",
    "log", "exp", "I", "C", "scale", "offset", "trials", "**", " ", ".", "_", "__import__",
    "'os'", '"touch X"', "system", "[", "]", "=", ",", "lambda", "x.y", "%", "^", "{", "}",
]
FORMULAS = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=14).map("".join),
    st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join),
    st.text(max_size=30),
    st.builds(
        "{} ~ {} + ({} | {})".format,
        st.sampled_from(["y", "n", "y | trials(n)", "log(y)", "x"]),
        st.sampled_from(["x", "x * h", "log(x)", "I(x ** 2)", "C(g)", "0", "1", "x:h", "y"]),
        st.sampled_from(["1", "x", "0 + x", "1 + x"]),
        st.sampled_from(["g", "h", "g:h", "g/h", "x", "g/"]),
    ),
)
FAMILIES = st.sampled_from(["gaussian", "bernoulli", "poisson", "binomial"])


@FAST
@given(csv=csv_texts())
def test_random_csv_stancode(csv):
    with tempfile.TemporaryDirectory() as folder:
        result = run(["stancode", f"{folder}/data.csv", "-f", "y ~ x + (1 | g)"], csv, Path(folder))
        check_outcome(result, "stancode", Path(folder))


@FAST
@given(csv=csv_texts(), family=FAMILIES)
def test_random_csv_fit(csv, family):
    with tempfile.TemporaryDirectory() as folder:
        args = ["fit", f"{folder}/data.csv", "-f", "y ~ x + (1 | g)", "--family", family,
                "-o", f"{folder}/out"]
        check_outcome(run(args, csv, Path(folder)), "fit", Path(folder))


@settings(FAST, max_examples=400)
@given(formula=FORMULAS, family=FAMILIES)
def test_random_formula_stancode(formula, family):
    with tempfile.TemporaryDirectory() as folder:
        args = ["stancode", f"{folder}/data.csv", "-f", formula, "--family", family]
        check_outcome(run(args, GOOD_CSV, Path(folder)), "stancode", Path(folder))


@FAST
@given(formula=FORMULAS, family=FAMILIES)
def test_random_formula_fit(formula, family):
    with tempfile.TemporaryDirectory() as folder:
        args = ["fit", f"{folder}/data.csv", "-f", formula, "--family", family,
                "-o", f"{folder}/out"]
        check_outcome(run(args, GOOD_CSV, Path(folder)), "fit", Path(folder))
