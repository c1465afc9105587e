"""Bad input through the real command line: exit code 2, one line on stderr, OUTDIR untouched.

Every ``fit`` case must fail before anything is compiled. As a guard, the runs ask for the cmdstan
backend with CMDSTAN pointing nowhere: a case that gets past its check ends with exit code 3 and
"backend cmdstan is not usable" instead of starting a compilation.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
SLEEP = str(SAMPLES / "sleepstudy.csv")
SLEEP_FORMULA = "Reaction ~ Days + (Days | Subject)"

DATA = """y,x,g,one,word,yn,cnt,neg,frac,k,n
1.5,0.1,a,u,red,0,1,1,1,1,5
2.5,0.2,a,u,green,1,2,-2,2.5,6,5
3.5,0.3,b,u,blue,2,3,3,3,2,5
4.5,0.4,b,u,red,1,4,4,4,3,5
"""


def mixfit(args: list[str], tmp_path: Path):
    env = {
        **os.environ,
        "MIXFIT_CACHE_DIR": str(tmp_path / "cache"),
        "CMDSTAN": str(tmp_path / "no-cmdstan"),
    }
    return subprocess.run(
        [sys.executable, "-m", "mixfit", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "data.csv").write_text(DATA)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("y,x,g\n")
    yaml = {
        "bad.yaml": "data: data.csv\nformula: [y ~ x\n",
        "unknown_key.yaml": "data: data.csv\nformula: y ~ x + (1 | g)\nchians: 2\n",
        "no_data.yaml": "data: missing/data.csv\nformula: y ~ x + (1 | g)\n",
        "bad_sampler.yaml": "data: data.csv\nformula: y ~ x + (1 | g)\nsampler: {warmup: 50, iter: 50}\n",
    }
    for name, text in yaml.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def fit(formula: str, *extra: str, data: str = "data.csv") -> list[str]:
    return ["fit", data, "-f", formula, *extra]


GOOD = "y ~ x + (1 | g)"
CASES = {
    "missing data file": (fit(GOOD, data="nope.csv"), "does not exist"),
    "empty csv": (fit(GOOD, data="empty.csv"), "empty"),
    "header-only csv": (fit(GOOD, data="header.csv"), "no rows"),
    "formula syntax error": (fit("y ~ x + * (1 | g)"), "formula"),
    "unbalanced parentheses": (fit("y ~ x + (1 | g"), "unbalanced parentheses"),
    "column not in data": (fit("y ~ xx + (1 | g)"), "'xx' is not in data.csv"),
    "text response gaussian": (fit("word ~ x + (1 | g)"), "must be numeric for family gaussian"),
    "text response poisson": (
        fit("word ~ x + (1 | g)", "--family", "poisson"),
        "must be numeric for family poisson",
    ),
    "bernoulli not 0/1": (fit("yn ~ x + (1 | g)", "--family", "bernoulli"), "must be 0/1"),
    "bernoulli three text levels": (
        fit("word ~ x + (1 | g)", "--family", "bernoulli"),
        "exactly two levels",
    ),
    "negative counts": (fit("neg ~ x + (1 | g)", "--family", "poisson"), "non-negative count"),
    "non-integer counts": (fit("frac ~ x + (1 | g)", "--family", "poisson"), "whole numbers"),
    "successes above trials": (
        fit("k | trials(n) ~ x + (1 | g)", "--family", "binomial"),
        "exceeds its trials",
    ),
    "binomial without trials": (fit("k ~ x + (1 | g)", "--family", "binomial"), "trials(n)"),
    "one-level group": (fit("y ~ x + (1 | one)"), "'one' has only one level"),
    "unknown family": (fit(GOOD, "--family", "gausian"), "unknown family 'gausian'"),
    "unknown link": (fit(GOOD, "--family", "poisson(link=sqrt)"), "no link 'sqrt'"),
    "bad yaml": (["fit", "bad.yaml"], "not valid YAML"),
    "yaml unknown key": (["fit", "unknown_key.yaml"], "unknown key 'chians'"),
    "yaml data path missing": (["fit", "no_data.yaml"], "does not exist"),
    "yaml bad sampler": (["fit", "bad_sampler.yaml"], "warmup must be"),
    "missing spec file": (["fit", "nope.yaml"], "cannot read spec"),
    "unknown prior distribution": (
        fit(GOOD, "--prior", "nromal(0, 1) : b"),
        "unknown prior distribution 'nromal'",
    ),
    "unknown prior class": (fit(GOOD, "--prior", "normal(0, 1) : beta"), "no class 'beta'"),
    "unknown coefficient": (
        fit(GOOD, "--prior", "normal(0, 1) : b : z"),
        "unknown coefficient 'z'",
    ),
    "unknown group": (fit(GOOD, "--prior", "exponential(1) : sd : h"), "unknown group 'h'"),
    "chains 0": (fit(GOOD, "--chains", "0"), "chains must be at least 1"),
    "warmup not below iter": (fit(GOOD, "--iter", "100", "--warmup", "100"), "warmup must be"),
    "adapt_delta 1.5": (fit(GOOD, "--adapt-delta", "1.5"), "adapt_delta must be between 0 and 1"),
    "unknown factor column": (fit(GOOD, "--factor", "zz"), "--factor 'zz' is not a column"),
    "dunder import in formula": (fit("y ~ __import__('os').system('touch X')"), "formula"),
    "os.system in formula": (fit('y ~ os.system("touch X")'), "not allowed"),
    "disallowed call in formula": (fit("y ~ system(x) + (1 | g)"), "'system' is not allowed"),
    "non-finite predictor": (fit("y ~ log(x - 0.25) + (1 | g)"), "not finite"),
    "no formula": (["fit", "data.csv"], "no formula given"),
    "flag value not a number": (fit(GOOD, "--iter", "abc"), "Invalid value for '--iter'"),
    "unknown flag": (fit(GOOD, "--chians", "2"), "No such option '--chians'"),
    "no output folder": (fit(GOOD), "no output folder"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_input_errors_exit_2_with_one_line_and_no_outdir(files, name):
    args, phrase = CASES[name]
    if name != "no output folder":
        args = [*args, "-o", "out"]
    result = mixfit([*args, "--backend", "cmdstan"], files)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("mixfit: error:"), result.stderr
    assert phrase in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (files / "out").exists()
    assert not (files / "X").exists() and not (files / "x").exists()


def test_existing_outdir_is_left_unchanged(files):
    out = files / "out"
    out.mkdir()
    (out / "marker.txt").write_text("earlier results")
    result = mixfit(fit("y ~ xx + (1 | g)", "-o", "out"), files)
    assert result.returncode == 2
    assert [p.name for p in out.iterdir()] == ["marker.txt"]
    assert (out / "marker.txt").read_text() == "earlier results"


def test_debug_shows_the_traceback(files):
    result = mixfit(fit("y ~ xx + (1 | g)", "-o", "out", "--debug"), files)
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("mixfit: error:")


@pytest.mark.parametrize("command", ["stancode", "standata"])
def test_stancode_and_standata_report_errors_the_same_way(files, command):
    result = mixfit([command, "data.csv", "-f", "y ~ xx + (1 | g)"], files)
    assert result.returncode == 2
    assert result.stderr.startswith("mixfit: error:") and len(result.stderr.splitlines()) == 1


def test_stancode_prints_the_program(tmp_path):
    result = mixfit(["stancode", SLEEP, "-f", SLEEP_FORMULA], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "normal_id_glm_lpdf" in result.stdout
    assert result.stderr == ""


def test_standata_prints_json(tmp_path):
    result = mixfit(["standata", SLEEP, "-f", SLEEP_FORMULA], tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["N"] == 180 and data["N_1"] == 18 and len(data["Y"]) == 180
