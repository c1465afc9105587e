"""Bad input through the real command line: exit code 2, one line on stderr, OUTDIR untouched.

Runtime: about 70 s on 2 cores (the catalogue is ~110 subprocess runs of about 1 s each, 4 at a time).

Every ``fit`` case must fail before anything is compiled. As a guard, the runs ask for the cmdstan
backend with CMDSTAN pointing nowhere: a case that gets past its check ends with exit code 3 and
"backend cmdstan is not usable" instead of starting a compilation.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
SLEEP = str(SAMPLES / "sleepstudy.csv")
SLEEP_FORMULA = "Reaction ~ Days + (Days | Subject)"

DATA = """y,x,g,one,word,yn,cnt,neg,frac,k,n,c5,zero,sep,id,pos
1.5,0.1,a,u,red,0,1,1,1,1,5,5,0,0,1,0.5
2.5,0.2,a,u,green,1,2,-2,2.5,6,5,5,0,0,2,1.5
3.5,0.3,b,u,blue,2,3,3,3,2,5,5,0,1,3,-1
4.5,0.4,b,u,red,1,4,4,4,3,5,5,0,1,4,2
"""

# Files that are not what mixfit reads, or read in a way that must be caught.
CSV_FILES = {
    "ragged_long.csv": b"y,x,g\n1,0.1,a\n2,0.2,b,EXTRA\n3,0.3,a\n4,0.4,b\n",
    "ragged_short.csv": b"y,x,g\n1,0.1,a\n2,0.2\n3,0.3,a\n4,0.4,b\n",
    "semicolons.csv": b"y;x;g\n1;0.1;a\n2;0.2;b\n",
    "tabs.csv": b"y\tx\tg\n1\t0.1\ta\n2\t0.2\tb\n",
    "latin1.csv": "y,x,g\n1,0.1,a\n2,0.2,b\u00e9\n3,0.3,a\n".encode("latin-1"),
    "latin1_header.csv": "y,x,g\u00e9\n1,0.1,a\n2,0.2,b\n".encode("latin-1"),
    "dup_columns.csv": b"y,x,x,g\n1,0.1,0.2,a\n2,0.2,0.3,b\n",
    "one_row.csv": b"y,x,g\n1,0.1,a\n",
    "g_missing.csv": b"y,x,g\n1,0.1,\n2,0.2,\n3,0.3,\n",
    "open_quote.csv": b'y,x,g\n1,0.1,a\n2,0.2,"b\n3,0.3,a\n',
    "binary.csv": bytes(range(256)),
}


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
    return write_files(tmp_path)


def write_files(tmp_path: Path) -> Path:
    (tmp_path / "data.csv").write_text(DATA)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("y,x,g\n")
    yaml = {
        "bad.yaml": "data: data.csv\nformula: [y ~ x\n",
        "unknown_key.yaml": "data: data.csv\nformula: y ~ x + (1 | g)\nchians: 2\n",
        "no_data.yaml": "data: missing/data.csv\nformula: y ~ x + (1 | g)\n",
        "bad_sampler.yaml": "data: data.csv\nformula: y ~ x + (1 | g)\nsampler: {warmup: 50, iter: 50}\n",
        "wrong_type.yaml": "data: data.csv\nformula: 3\n",
        "sampler_type.yaml": "data: data.csv\nformula: y ~ x + (1 | g)\nsampler: {chains: two}\n",
        "priors_type.yaml": "data: data.csv\nformula: y ~ x + (1 | g)\npriors: normal(0, 1)\n",
        "list.yaml": "- data.csv\n- y ~ x\n",
        "python_tag.yaml": 'data: data.csv\nformula: !!python/object/apply:os.system ["touch X"]\n',
        "python_name.yaml": "data: !!python/name:os.system\nformula: y ~ x + (1 | g)\n",
    }
    for name, text in yaml.items():
        (tmp_path / name).write_text(text)
    for name, raw in CSV_FILES.items():
        (tmp_path / name).write_bytes(raw)
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
    # CSV
    "ragged row, extra field": (fit(GOOD, data="ragged_long.csv"), "line 3 has 4 field(s)"),
    "ragged row, missing field": (fit(GOOD, data="ragged_short.csv"), "line 3 has 2 field(s)"),
    "semicolon delimiter": (fit(GOOD, data="semicolons.csv"), "separated by ';'"),
    "tab delimiter": (fit(GOOD, data="tabs.csv"), "separated by tabs"),
    "latin-1 bytes in a row": (fit(GOOD, data="latin1.csv"), "not UTF-8 text (line 3"),
    "latin-1 bytes in the header": (fit(GOOD, data="latin1_header.csv"), "not UTF-8"),
    "binary file": (fit(GOOD, data="binary.csv"), "not UTF-8"),
    "duplicate column names": (fit(GOOD, data="dup_columns.csv"), "the column 'x' twice"),
    "one row": (fit("y ~ x", data="one_row.csv"), "only 1 complete row"),
    "grouping column all missing": (fit(GOOD, data="g_missing.csv"), "'g' of g_missing.csv has no"),
    "quote never closed": (fit(GOOD, data="open_quote.csv"), "never closed"),
    "data is a folder": (fit(GOOD, data="."), "is not a file"),
    # formula
    "no tilde": (fit("y x + (1 | g)"), "exactly one '~'"),
    "two tildes": (fit("y ~ x ~ g"), "more than one '~'"),
    "nothing after tilde": (fit("y ~"), "nothing after '~'"),
    "no response": (fit("~ x + (1 | g)"), "no response"),
    "empty formula": (fit(" "), "formula is empty"),
    "unmatched closing parenthesis": (fit("y ~ x) + (1 | g)"), "without a matching"),
    "empty group term": (fit("y ~ x + ( | g)"), "nothing before '|'"),
    "group term without factor": (fit("y ~ x + (1 | )"), "no grouping factor"),
    "bar outside parentheses": (fit("y ~ x + 1 | g"), "needs parentheses"),
    "response also a predictor": (fit("y ~ y + x + (1 | g)"), "is also a predictor"),
    "unknown grouping column": (fit("y ~ x + (1 | h)"), "'h' is not in data.csv"),
    "dunder import with group term": (
        fit("y ~ __import__('os').system('touch X') + (1 | g)"), "formula",
    ),
    "eval in formula": (fit('y ~ eval("open(1)") + (1 | g)'), "formula"),
    "open() in formula": (fit("y ~ open(x) + (1 | g)"), "'open' is not allowed"),
    "attribute access": (fit("y ~ np.log(x) + (1 | g)"), "not allowed"),
    "dunder attribute": (fit("y ~ x.__class__ + (1 | g)"), "not allowed"),
    "subscript": (fit("y ~ globals()[x] + (1 | g)"), "not allowed"),
    "call inside I()": (fit("y ~ I(exec(x)) + (1 | g)"), "'exec' is not allowed"),
    "call in group term": (fit("y ~ x + (system(x) | g)"), "'system' is not allowed"),
    "call in trials": (
        fit("k | trials(getattr(n)) ~ x", "--family", "binomial"), "not allowed",
    ),
    # family and response
    "binomial trials not a count": (
        fit("k | trials(frac) ~ x + (1 | g)", "--family", "binomial"), "whole numbers",
    ),
    "bernoulli negative": (fit("neg ~ x", "--family", "bernoulli"), "must be 0/1"),
    "poisson text": (fit("word ~ x", "--family", "poisson"), "must be numeric"),
    # priors
    "negative prior scale": (fit(GOOD, "--prior", "normal(0, -1) : b"), "sigma must be positive"),
    "zero exponential rate": (
        fit(GOOD, "--prior", "exponential(0) : sd"), "lambda must be positive",
    ),
    "prior excludes b's support": (
        fit(GOOD, "--prior", "exponential(1) : b"), "excludes part of b's support",
    ),
    "prior bounds exclude sigma's support": (
        fit(GOOD, "--prior", "uniform(1, 10) : sigma"), "excludes part of sigma's support",
    ),
    "prior bounds exclude sd's support": (
        fit(GOOD, "--prior", "beta(1, 1) : sd"), "excludes part of sd's support",
    ),
    "prior wrong argument count": (fit(GOOD, "--prior", "normal(0) : b"), "takes 2 arguments"),
    "prior not a number": (fit(GOOD, "--prior", "normal(0, x) : b"), "must be numbers"),
    # YAML
    "yaml wrong type": (["fit", "wrong_type.yaml"], "'formula' must be text"),
    "yaml sampler wrong type": (["fit", "sampler_type.yaml"], "must be a whole number"),
    "yaml priors not a list": (["fit", "priors_type.yaml"], "'priors' must be a list"),
    "yaml not a mapping": (["fit", "list.yaml"], "must be a mapping"),
    "yaml python object tag": (["fit", "python_tag.yaml"], "python/object/apply:os.system"),
    "yaml python name tag": (["fit", "python_name.yaml"], "is not allowed"),
    # sampler settings
    "negative chains": (fit(GOOD, "--chains", "-2"), "chains must be at least 1"),
    "iter 0": (fit(GOOD, "--iter", "0"), "iter must be at least 1"),
    "negative iter": (fit(GOOD, "--iter", "-5"), "iter must be at least 1"),
    "negative warmup": (fit(GOOD, "--warmup", "-1"), "warmup must be"),
    "adapt_delta 0": (fit(GOOD, "--adapt-delta", "0"), "adapt_delta must be between 0 and 1"),
    "adapt_delta 1": (fit(GOOD, "--adapt-delta", "1"), "adapt_delta must be between 0 and 1"),
    "max_treedepth 0": (fit(GOOD, "--max-treedepth", "0"), "max_treedepth must be at least 1"),
    "parallel chains 0": (fit(GOOD, "--parallel-chains", "0"), "parallel_chains must be at"),
    # data that can't be fitted
    "constant response": (fit("c5 ~ x + (1 | g)"), "is constant (5 in every row)"),
    "constant bernoulli response": (
        fit("zero ~ x + (1 | g)", "--family", "bernoulli"), "is constant",
    ),
    "all-zero counts": (fit("zero ~ x + (1 | g)", "--family", "poisson"), "all counts are zero"),
    "binomial no successes": (
        fit("zero | trials(n) ~ x", "--family", "binomial"), "no successes in every row",
    ),
    "perfect separation in bernoulli": (
        fit("sep ~ x + (1 | g)", "--family", "bernoulli"), "separates the response completely",
    ),
    "a group level per row": (fit("y ~ x + (1 | id)"), "has a level for every row"),
}

# Families added after the core four, with a response each can't take (kept if they exist).
FAMILY_CASES = {
    "student": ("word ~ x + (1 | g)", "must be numeric"),
    "lognormal": ("neg ~ x + (1 | g)", "must be above 0"),
    "Gamma": ("pos ~ x + (1 | g)", "must be above 0"),
    "beta": ("y ~ x + (1 | g)", "strictly between 0 and 1"),
    "negbinomial": ("neg ~ x + (1 | g)", "non-negative count"),
    "zero_inflated_poisson": ("frac ~ x + (1 | g)", "whole numbers"),
    "zero_inflated_negbinomial": ("word ~ x + (1 | g)", "must be numeric"),
    "cumulative": ("word ~ x + (1 | g)", "give the order of its categories"),
}


def _existing_families() -> set[str]:
    from mixfit.model.families import FAMILIES

    return set(FAMILIES)


for _family, (_formula, _phrase) in FAMILY_CASES.items():
    if _family in _existing_families():
        CASES[f"family {_family}: unsuitable response"] = (
            fit(_formula, "--family", _family), _phrase,
        )


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> dict:
    """Every case run once, a few at a time (each is a fresh interpreter, about a second)."""

    # folders made before the threads start: pytest's temporary-folder factory is not thread-safe
    folders = {name: write_files(tmp_path_factory.mktemp(f"case{i}")) for i, name in enumerate(CASES)}

    def run(name):
        args, _ = CASES[name]
        if name != "no output folder":
            args = [*args, "-o", "out"]
        return name, (mixfit([*args, "--backend", "cmdstan"], folders[name]), folders[name])

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize("name", list(CASES))
def test_input_errors_exit_2_with_one_line_and_no_outdir(catalogue, name):
    _, phrase = CASES[name]
    result, files = catalogue[name]
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
    assert "generated with mixfit" in result.stdout and "model {" in result.stdout
    assert result.stderr == ""


def test_standata_prints_json(tmp_path):
    result = mixfit(["standata", SLEEP, "-f", SLEEP_FORMULA], tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["N"] == 180 and data["N_1"] == 18 and len(data["Y"]) == 180


# Inputs that look odd but are fine: the model is built (standata, nothing compiled).
ACCEPTED = {
    "a BOM before the header": ("\ufeffy,x,g\n1,0.1,a\n2,0.2,b\n3,0.3,a\n4,0.5,b\n", GOOD),
    "CRLF line ends": ("y,x,g\r\n1,0.1,a\r\n2,0.2,b\r\n3,0.3,a\r\n4,0.5,b\r\n", GOOD),
    "quoted newlines and commas": (
        'y,x,g\n1,0.1,"a\nb"\n2,0.2,"c,d"\n3,0.3,"a\nb"\n4,0.5,"c,d"\n', GOOD,
    ),
    "blank lines": ("y,x,g\n\n1,0.1,a\n2,0.2,b\n\n3,0.3,a\n4,0.5,b\n\n", GOOD),
    "rows missing values are dropped": (("y,x,g,other\n1,0.1,a,\n2,,b,\n3,0.3,a,\n4,0.5,b,\n"
                                        "5,0.6,b,\n"), GOOD),
    "observation-level effects for counts": (
        "c,x,obs\n1,0.1,a\n3,0.2,b\n0,0.3,c\n2,0.5,d\n", "c ~ x + (1 | obs)", "--family", "poisson",
    ),
    "separation with a proper prior": (
        "y,x,g\n0,0.1,a\n0,0.2,b\n1,0.3,a\n1,0.5,b\n", "y ~ x + (1 | g)", "--family", "bernoulli",
        "--prior", "normal(0, 2.5) : b",
    ),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_odd_but_valid_inputs_are_accepted(tmp_path, name):
    text, formula, *extra = ACCEPTED[name]
    (tmp_path / "in.csv").write_bytes(text.encode())
    result = mixfit(["standata", "in.csv", "-f", formula, *extra], tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["N"] >= 4
