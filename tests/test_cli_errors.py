"""Bad input through the real command line: exit code 2, one line on stderr, OUTDIR untouched.

Each catalogue case runs the command line in a process of its own, forked from a server process
that has imported mixfit once (what a fresh interpreter spends most of its second on): the same
code from argv to exit code, with stdout and stderr captured at the file descriptors.
Runtime: about 50 s on 2 cores: the ~175 cases take about 20 s; the other tests here start real
interpreters.

Every ``fit`` case must fail before anything is compiled. As a guard, the runs ask for the cmdstan
backend with CMDSTAN pointing nowhere: a case that gets past its check ends with exit code 3 and
"backend cmdstan is not usable" instead of starting a compilation.
"""

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
SLEEP = str(SAMPLES / "sleepstudy.csv")
SLEEP_FORMULA = "Reaction ~ Days + (Days | Subject)"

DATA = """y,x,g,one,word,yn,cnt,neg,frac,k,n,c5,zero,sep,id,pos,ja,jb,fv,huge,ms,abc,thou,big,Subject ID,a.b,ans
1.5,0.1,a,u,red,0,1,1,1,1,5,5,0,0,1,0.5,p,q_r,a[1],1e300,n/a,1,"1,052.0",9223372036854775808,s1,1,no
2.5,0.2,a,u,green,1,2,-2,2.5,6,5,5,0,0,2,1.5,p_q,r,a1,2e300,245.3 ms,2,"2,104.5",1,s1,2,maybe
3.5,0.3,b,u,blue,2,3,3,3,2,5,5,0,1,3,-1,p,q_r,a(1),3e300,250.1,abc,"3,001.0",2,s2,3,yes
4.5,0.4,b,u,red,1,4,4,4,3,5,5,0,1,4,2,p_q,r,b,4e300,251.0,4,"4,200.0",3,s2,4,perhaps
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
    "gzipped.csv": bytes.fromhex(
        "1f8b0800000000000003abd4a9b0e232d431e232d631e10200b2a6a1e50f000000"
    ),
    "cr_only.csv": b"y,x,g\r1,0.1,a\r2,0.2,b\r3,0.3,a\r",
    "wide.csv": (
        ",".join(f"c{i}" for i in range(20_000)) + "\n" + ",".join(["1"] * 20_000) + "\n"
    ).encode(),
    "too_many_columns.csv": (",".join(["c"] * 100_001) + "\n").encode(),
    "decimal_comma.csv": b'y,x,g\n1,"0,5",a\n2,"1,5",b\n3,"2,5",a\n4,"3,25",b\n',
    "ordinal_span.csv": b"y,x,g\n0,0.1,a\n5000,0.2,b\n3,0.3,a\n",
    "intercept.csv": b"y,Intercept,g\n1,0.5,a\n2,0.1,b\n3,0.7,a\n4,0.2,b\n",
    "gap_w.csv": b"y,x,g,w\n1,0.1,a,1\n2,0.2,b,\n3,0.3,a,2\n4,0.4,b,1\n",
    "cens.csv": b"y,x,c,y2\n1,0.1,none,1\n2,0.2,interval,1.5\n3,0.3,right,3\n4,0.4,left,4\n",
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
        "specs/output_dot.yaml": "data: ../data.csv\nformula: y ~ x + (1 | g)\noutput: .\n",
        "output_empty.yaml": "data: data.csv\nformula: y ~ x + (1 | g)\noutput: ''\n",
        "laughs.yaml": BILLION_LAUGHS,
        "recursive.yaml": "data: data.csv\nformula: &f [*f]\n",
        "deep.yaml": "data: data.csv\nformula: " + "[" * 5000 + "]" * 5000 + "\n",
        "levels_map.yaml": (
            "data: data.csv\nformula: y ~ mo(word)\nlevels: {word: [red, [green], blue]}\n"
        ),
        "levels_bool.yaml": (
            "data: data.csv\nformula: ans ~ x\nfamily: cumulative\nlevels: [no, perhaps, yes]\n"
        ),
    }
    (tmp_path / "specs").mkdir()
    for name, text in yaml.items():
        (tmp_path / name).write_text(text)
    for name, raw in CSV_FILES.items():
        (tmp_path / name).write_bytes(raw)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's notes\n")
    (tmp_path / "mine" / "data.csv").write_text(DATA)
    (tmp_path / "loop_a").symlink_to("loop_b")
    (tmp_path / "loop_b").symlink_to("loop_a")
    return tmp_path


def write_large_files(tmp_path: Path, name: str) -> None:
    """Files of megabytes, written only into the folder of the case that reads them."""
    if name == "header longer than 4 MB":
        with open(tmp_path / "no_newlines.csv", "wb") as fh:
            fh.truncate(5 << 20)  # zero bytes, and no line end
    elif name == "line longer than 16 MB":
        with open(tmp_path / "long_line.csv", "wb") as fh:
            fh.write(b"y,x,g\n1,0.1,")
            fh.truncate(17 << 20)
    elif name == "spec larger than 1 MB":
        (tmp_path / "large.yaml").write_text("data: data.csv\n#" + "x" * (1 << 20) + "\n")


BILLION_LAUGHS = (
    "data: data.csv\nformula: y ~ x\nl0: &l0 ["
    + ", ".join(["lol"] * 9)
    + "]\n"
    + "".join(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]\n" for k in range(1, 10))
    + "levels: *l9\n"
)


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
    "binomial on a 0/1 response": (
        fit("sep ~ x + (1 | g)", "--family", "binomial"),
        "'sep | trials(n) ~ ...'; for a 0/1 response use --family bernoulli",
    ),
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
    "gzip-compressed csv": (
        fit(GOOD, data="gzipped.csv"),
        "is gzip-compressed: decompress it first",
    ),
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
        fit("y ~ __import__('os').system('touch X') + (1 | g)"),
        "formula",
    ),
    "eval in formula": (fit('y ~ eval("open(1)") + (1 | g)'), "formula"),
    "open() in formula": (fit("y ~ open(x) + (1 | g)"), "'open' is not allowed"),
    "attribute access": (fit("y ~ np.log(x) + (1 | g)"), "not allowed"),
    "dunder attribute": (fit("y ~ x.__class__ + (1 | g)"), "not allowed"),
    "subscript": (fit("y ~ globals()[x] + (1 | g)"), "not allowed"),
    "call inside I()": (fit("y ~ I(exec(x)) + (1 | g)"), "'exec' is not allowed"),
    "call in group term": (fit("y ~ x + (system(x) | g)"), "'system' is not allowed"),
    "call in trials": (
        fit("k | trials(getattr(n)) ~ x", "--family", "binomial"),
        "not allowed",
    ),
    # addition terms (issue 23): checked before anything is compiled
    "negative weights": (fit("y | weights(neg) ~ x + (1 | g)"), "weights column 'neg' is negative"),
    "weights all zero": (fit("y | weights(zero) ~ x"), "is 0 in every row"),
    "text weights": (fit("y | weights(word) ~ x"), "weights column 'word' must be numeric"),
    "missing weights": (fit("y | weights(w) ~ x", data="gap_w.csv"), "'w' of gap_w.csv is missing"),
    "se zero": (fit("y | se(zero) ~ x + (1 | g)"), "se column 'zero' must be above 0"),
    "se negative": (fit("y | se(neg) ~ x"), "must be above 0"),
    "missing se": (fit("y | se(w) ~ x", data="gap_w.csv"), "'w' of gap_w.csv is missing"),
    "se with poisson": (
        fit("cnt | se(c5) ~ x", "--family", "poisson"),
        "se() (known standard errors) belongs to families gaussian and student, not poisson",
    ),
    "se with bernoulli": (fit("yn | se(c5) ~ x", "--family", "bernoulli"), "not bernoulli"),
    "unknown addition term": (fit("y | cens2(x) ~ x"), "unknown addition term cens2()"),
    "addition term twice": (fit("y | weights(x) + weights(c5) ~ x"), "weights() is given twice"),
    "addition term on the right": (fit("y ~ x + weights(x)"), "an addition term of the response"),
    "se flag not logical": (fit("y | se(c5, sigma = 2) ~ x"), "se() takes sigma = TRUE"),
    "se fixes sigma, sigma has a formula": (
        fit("y | se(c5) ~ x", "-f", "sigma ~ x"),
        "se(c5) fixes sigma at 0",
    ),
    "se model has no sigma prior": (
        fit("y | se(c5) ~ x", "--prior", "normal(0, 1) : sigma"),
        "no class 'sigma'",
    ),
    "weights with threads": (
        fit("y | weights(c5) ~ x", "--threads-per-chain", "2"),
        "threads do not take weights(), se() or cens()",
    ),
    "trials with gaussian": (fit("y | trials(n) ~ x"), "trials() belongs to family binomial"),
    "classical of se with sigma": (
        fit("y | se(c5, sigma = TRUE) ~ x + (1 | g)", "--classical"),
        "does not take se(..., sigma = TRUE)",
    ),
    "censoring code not brms's": (fit("y | cens(c5) ~ x"), "holds 5: its codes are -1 (left)"),
    "censoring word not brms's": (fit("y | cens(word) ~ x"), "holds 'blue': its codes are left"),
    "interval without y2": (fit("y | cens(c) ~ x", data="cens.csv"), "go in cens(c, y2)"),
    "y2 below y": (fit("y | cens(c, y2) ~ x", data="cens.csv"), "is not above the response"),
    "cens with poisson": (
        fit("cnt | cens(zero) ~ x", "--family", "poisson"),
        "cens() needs the family's CDF",
    ),
    # trunc() and rate()
    "response outside trunc bounds": (
        fit("y | trunc(lb = 2) ~ x"),
        "the response is outside the trunc() bounds in 1 rows (first: row 1, 1.5",
    ),
    "trunc lb not below ub": (fit("y | trunc(lb = 5, ub = 1) ~ x"), "trunc() needs lb below ub"),
    "trunc with bernoulli": (
        fit("yn | trunc(ub = 1) ~ x", "--family", "bernoulli"),
        "trunc() needs the family's CDF",
    ),
    "trunc bound column missing": (fit("y | trunc(lb = nothere) ~ x"), "nothere"),
    "trunc count bound not whole": (
        fit("cnt | trunc(lb = 0.5) ~ x", "--family", "poisson"),
        "trunc(lb = ) must be a whole number",
    ),
    "trunc unknown argument": (fit("y | trunc(lo = 0) ~ x"), "trunc() takes lb = and ub ="),
    "trunc with threads": (
        fit("y | trunc(lb = 0) ~ x", "--threads-per-chain", "2"),
        "threads do not take trunc() or rate()",
    ),
    "classical of trunc": (
        fit("y | trunc(lb = 0) ~ x + (1 | g)", "--classical"),
        "no classical fit for a model with trunc()",
    ),
    "rate with gaussian": (fit("y | rate(n) ~ x"), "rate() belongs to the count families"),
    "rate not above 0": (
        fit("cnt | rate(zero) ~ x", "--family", "poisson"),
        "rate column 'zero' must be above 0",
    ),
    # family and response
    "binomial trials not a count": (
        fit("k | trials(frac) ~ x + (1 | g)", "--family", "binomial"),
        "whole numbers",
    ),
    "bernoulli negative": (fit("neg ~ x", "--family", "bernoulli"), "must be 0/1"),
    "poisson text": (fit("word ~ x", "--family", "poisson"), "must be numeric"),
    # priors
    "negative prior scale": (fit(GOOD, "--prior", "normal(0, -1) : b"), "sigma must be positive"),
    "zero exponential rate": (
        fit(GOOD, "--prior", "exponential(0) : sd"),
        "lambda must be positive",
    ),
    "prior excludes b's support": (
        fit(GOOD, "--prior", "exponential(1) : b"),
        "excludes part of b's support",
    ),
    "prior bounds exclude sigma's support": (
        fit(GOOD, "--prior", "uniform(1, 10) : sigma"),
        "excludes part of sigma's support",
    ),
    "prior bounds exclude sd's support": (
        fit(GOOD, "--prior", "beta(1, 1) : sd"),
        "excludes part of sd's support",
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
        fit("zero ~ x + (1 | g)", "--family", "bernoulli"),
        "is constant",
    ),
    "all-zero counts": (fit("zero ~ x + (1 | g)", "--family", "poisson"), "all counts are zero"),
    "binomial no successes": (
        fit("zero | trials(n) ~ x", "--family", "binomial"),
        "no successes in every row",
    ),
    "perfect separation in bernoulli": (
        fit("sep ~ x + (1 | g)", "--family", "bernoulli"),
        "separates the response completely",
    ),
    "a group level per row": (fit("y ~ x + (1 | id)"), "has a level for every row"),
}

# Hostile but realistic input (issue 11): each once broke the contract, now refused up front.
DEEP = "(" * 100 + "x" + ")" * 100
CASES.update(
    {
        # OUTDIR: nothing of the user's is ever replaced (the runner adds -o out only where none is)
        "-o the data file": (fit(GOOD, "-o", "data.csv"), "is the data file"),
        "-o another existing file": (fit(GOOD, "-o", "empty.csv"), "is an existing file"),
        "-o an existing file with --force": (
            fit(GOOD, "-o", "empty.csv", "--force"),
            "existing file",
        ),
        "-o the current folder": (fit(GOOD, "-o", "."), "is the current folder"),
        "-o the current folder with --force": (fit(GOOD, "-o", ".", "--force"), "current folder"),
        "-o an empty name": (fit(GOOD, "-o", ""), "an empty name (an unset variable?)"),
        "-o the folder above": (fit(GOOD, "-o", ".."), "holds the current folder"),
        "-o a folder of the user's files": (
            fit(GOOD, "-o", "mine"),
            "(it holds data.csv, notes.txt)",
        ),
        "-o below a file": (fit(GOOD, "-o", "data.csv/out"), "is a file"),
        "-o a folder holding the data": (
            fit(GOOD, "-o", "mine", "--force", data="mine/data.csv"),
            "holds the data file",
        ),
        "-o a loop of symbolic links": (
            fit(GOOD, "-o", "loop_a"),
            "can't be used: a loop of symbolic links",
        ),
        "-o a name too long": (fit(GOOD, "-o", "n" * 250), "too long a name for this file system"),
        "-o below a name too long": (fit(GOOD, "-o", "n" * 300 + "/out"), "File name too long"),
        "a data path too long": (fit(GOOD, data="d" * 300 + ".csv"), "File name too long"),
        "yaml output: .": (
            ["fit", "specs/output_dot.yaml"],
            "holds the spec 'specs/output_dot.yaml'",
        ),
        "yaml output empty": (["fit", "output_empty.yaml"], "output is empty"),
        # resources
        "yaml billion laughs": (["fit", "laughs.yaml"], "expands to more than 1,000,000"),
        "yaml recursive alias": (["fit", "recursive.yaml"], "an alias that contains itself"),
        "yaml nested 5000 deep": (["fit", "deep.yaml"], "nested too deeply"),
        "spec larger than 1 MB": (["fit", "large.yaml"], "larger than 1 MB"),
        "I(x * 10**100000000)": (fit("y ~ I(x * 10**100000000) + (1 | g)"), "overflows"),
        "I(x * 2**99999999999)": (fit("y ~ I(x * 2**99999999999) + (1 | g)"), "overflows"),
        "braces {x * 10**10**10}": (fit("y ~ {x * 10**10**10}"), "overflows"),
        "interaction power 10**9": (fit("y ~ (x + g)**1000000000"), "interaction power"),
        "header longer than 4 MB": (fit(GOOD, data="no_newlines.csv"), "longer than 4 MB"),
        "line longer than 16 MB": (fit(GOOD, data="long_line.csv"), "line 2 is longer than 16 MB"),
        "100,001 columns": (fit(GOOD, data="too_many_columns.csv"), "at most 100,000"),
        "100 nested parentheses": (fit(f"y ~ {DEEP}"), "nests brackets more than 32 deep"),
        "1,100 terms": (fit("y ~ " + " + ".join(["x"] * 1100)), "at most 2,000"),
        "formula of 30,000 characters": (fit("y ~ " + "x" * 30_000), "at most 20,000"),
        # silently wrong models
        "one 'abc' in a numeric column": (fit("y ~ abc + (1 | g)"), "'abc' (row 3)"),
        "thousands separators": (fit("y ~ thou + (1 | g)"), "without thousands separators"),
        "decimal commas": (fit(GOOD, data="decimal_comma.csv"), "write decimals with a point"),
        "trials() with poisson": (
            fit("k | trials(n) ~ x", "--family", "poisson"),
            "trials() belongs to family binomial",
        ),
        "trials() with gaussian": (fit("k | trials(5) ~ x"), "not gaussian"),
        "trials() on the right": (fit("y ~ x + trials(n)"), "belongs in a binomial response"),
        "trials past 2^31": (
            fit("k | trials(99999999999) ~ x", "--family", "binomial"),
            "below 2^31",
        ),
        "a count of 2**63": (
            fit("big ~ x", "--family", "poisson"),
            "too large for Stan's integers",
        ),
        "ordinal span of 5001 categories": (
            fit("y ~ x", "--family", "cumulative", data="ordinal_span.csv"),
            "at most 1,000",
        ),
        # the other ordinal families take cumulative's checks of the response and its levels
        "sratio, a single category": (
            fit("c5 ~ x + (1 | g)", "--family", "sratio"),
            "has a single category (5) for family sratio",
        ),
        "cratio, a level the response lacks": (
            fit("ans ~ x + (1 | g)", "--family", "cratio", "--levels", "no,perhaps,yes"),
            "has values not among the levels no, perhaps, yes (found: 'maybe')",
        ),
        "acat, numbers the levels don't name": (
            fit("cnt ~ x + (1 | g)", "--family", "acat", "--levels", "1,2,3"),
            "not among the levels 1, 2, 3 (found: '4')",
        ),
        "acat, one level given": (
            fit("ans ~ x", "--family", "acat", "--levels", "yes"),
            "at least two distinct categories",
        ),
        "sratio, text without levels": (
            fit("word ~ x", "--family", "sratio"),
            "give the order of its categories for family sratio",
        ),
        "cratio, a link brms's cratio has but mixfit not": (
            fit("cnt ~ x", "--family", "cratio(link=cauchit)"),
            "links: logit, probit, cloglog",
        ),
        # brms's special terms with no term kind yet: refused, never dropped from the model
        # smooth terms (mixfit/model/terms/smooth.py) the data can't support
        "a smooth of a factor": (fit("y ~ x + s(word)"), "s(word): 'word' is a factor"),
        "a t2 of a factor": (fit("y ~ t2(x, word)"), "t2(x, word): 'word' is a factor"),
        "a smooth's k above its unique values": (
            fit("y ~ s(x, k = 10)"),
            "s(x, k = 10): a smooth has 4 unique covariate values, fewer than its basis dimension",
        ),
        "a smooth's by not a factor": (
            fit("y ~ s(x, by = frac)"),
            "by = frac must be a factor",
        ),
        "an unknown smooth basis": (
            fit('y ~ s(x, bs = "ps")'),
            'unknown smooth basis bs = "ps" (one of tp, cr, cs, cc)',
        ),
        "an unknown argument of s()": (fit("y ~ s(x, fx = TRUE)"), "unknown argument 'fx' of s()"),
        # Gaussian process terms (mixfit/model/terms/gp.py): what the data or brms can't support
        "gp: a constant covariate": (fit("y ~ gp(zero)"), "gp(zero): the covariate is constant"),
        "gp: a text covariate": (fit("y ~ gp(word)"), "gp(word): 'word' is a factor"),
        "gp: k below 1": (fit("y ~ gp(x, k = 0, c = 5/4)"), "k must be a whole number >= 1"),
        "gp: c not positive": (fit("y ~ gp(x, k = 5, c = 0)"), "c must be positive"),
        "gp: k without c": (fit("y ~ gp(x, k = 5)"), "an approximate GP (k = ...) needs c"),
        "gp: by not a factor": (fit("y ~ gp(x, by = frac)"), "by = frac must be a factor"),
        "gp: the matern kernel": (
            fit('y ~ gp(x, cov = "matern32")'),
            "cov = 'matern32' is not supported; brms 2.18's gp() has the exp_quad kernel only",
        ),
        "gp: iso = FALSE": (fit("y ~ gp(x, c5, iso = FALSE)"), "iso = FALSE (a length-scale"),
        "gp: an option not built": (
            fit("y ~ gp(x, cmc = FALSE)"),
            "unknown argument 'cmc' of gp()",
        ),
        "a smooth with --classical": (
            fit("y ~ s(x, k = 3) + (1 | g)", "--classical"),
            "no classical fit for a model with s(x, k = 3): lme4's models have no smooth terms",
        ),
        "gp: with --classical": (
            fit("y ~ gp(x)", "--classical"),
            "no classical fit for a model with gp(x): lme4's models have no Gaussian process",
        ),
        # monotonic effects (mixfit/model/terms/monotonic.py) the data can't support
        "mo() of a fractional column": (
            fit("y ~ mo(frac)"),
            "mo(frac): 'frac' has values that are not whole numbers",
        ),
        "mo() of a text column without --levels": (
            fit("y ~ x + mo(word)"),
            (
                "mo(word): 'word' is a text column (or --factor): give its levels' order, lowest "
                'first, e.g. --levels "word=low,mid,high" (its values: red, green, blue), or '
                "code them as whole numbers"
            ),
        ),
        # mo() of an ordered text column (issue 24): --levels "COLUMN=a,b,c"
        "mo() text, a value not among its --levels": (
            fit("y ~ x + mo(word)", "--levels", "word=red,green"),
            "mo(word): 'word': 'blue' is not among its levels red, green (as --levels gave them)",
        ),
        "mo() text, of one level": (
            fit("y ~ x + mo(one)", "--levels", "one=u,v"),
            "mo(one): 'one' takes one value only ('u')",
        ),
        "levels for a column mo() does not read": (
            fit("y ~ x + mo(k)", "--levels", "word=red,green,blue"),
            "'word' is neither the response nor the column of a mo() term",
        ),
        "levels for a column other terms read too": (
            fit("y ~ word + mo(word)", "--levels", "word=red,green,blue"),
            "'word' is read by other terms besides mo(word)",
        ),
        "levels of a column, one level": (
            fit("y ~ mo(word)", "--levels", "word=red"),
            "the levels of 'word' must be at least two distinct names, lowest first",
        ),
        "levels of a column, twice": (
            fit("y ~ mo(word)", "--levels", "word=red,green,blue", "--levels", "word=blue,red"),
            "--levels gives the order of 'word' twice",
        ),
        "levels with no column before =": (
            fit("y ~ mo(word)", "--levels", "=red,green"),
            'no column before "="',
        ),
        "levels of the response, twice": (
            fit("y ~ mo(k)", "--levels", "a,b", "--levels", "c,d"),
            "--levels without a column name orders the response: give it once",
        ),
        "levels of the response, with and without its name": (
            fit("ans ~ x", "--family", "cumulative", "--levels", "no,maybe,perhaps,yes")
            + ["--levels", "ans=no,maybe,perhaps,yes"],
            "the levels of the response 'ans' are given twice",
        ),
        "levels of the response by its name, checked as the response's": (
            fit("ans ~ x", "--family", "cumulative", "--levels", "ans=no,perhaps,yes"),
            "has values not among the levels no, perhaps, yes (found: 'maybe')",
        ),
        "yaml levels of a column not text": (
            ["fit", "levels_map.yaml"],
            "spec key 'levels.word' must be text (got ['green'])",
        ),
        "mo() of a column of one value": (fit("y ~ mo(c5)"), "mo(c5): 'c5' takes one value only"),
        "mo() in a group-level term without the population-level mo()": (
            fit("y ~ x + (mo(k) | g)"),
            "special group-level terms require corresponding population-level terms: add mo(k)",
        ),
        "mo() inside another call": (
            fit("y ~ x + log(mo(k))"),
            "mo() inside another call is not supported",
        ),
        "mo() in a group-level term of sigma's formula": (
            fit("y ~ mo(k)", "-f", "sigma ~ mo(k) + (mo(k) | g)"),
            "monotonic group-level terms are supported in mu's formula only",
        ),
        "mo() in an interaction": (fit("y ~ mo(k):x"), "mo(k) is a term of its own"),
        "mo() of two columns": (fit("y ~ mo(k, x)"), "mo() takes one column"),
        "a prior on a monotonic simplex": (
            fit("y ~ mo(k)", "--prior", "normal(0, 1) : simo"),
            "priors of class simo (a monotonic effect's simplex) are not supported",
        ),
        "mo() with --classical": (
            fit("y ~ mo(k)", "--classical"),
            "no classical fit for a model with mo(k): lme4's models have no monotonic effects",
        ),
        # autocorrelation terms (issue 24): what mixfit does not build, refused before compiling
        "autocor: a time that repeats within a group": (
            fit("y ~ x + ar(time = c5, gr = g)"),
            "time points within groups must be unique",
        ),
        "autocor: ar() with a count family": (
            fit("cnt ~ x + ar(time = k, gr = g)", "--family", "poisson"),
            "autocorrelation terms are supported with the gaussian and student families only",
        ),
        "autocor: a missing time column": (
            fit("y ~ x + ar(time = nope, gr = g)"),
            "column 'nope' is not in data.csv",
        ),
        "autocor: p below 1": (
            fit("y ~ x + ar(time = k, gr = g, p = 0)"),
            "'0' must be a whole number >= 1",
        ),
        "autocor: cov = TRUE": (
            fit("y ~ x + arma(time = k, gr = g, cov = TRUE)"),
            "cov = TRUE (the covariance-matrix form of ARMA) is not supported yet",
        ),
        "autocor: in a dpar formula": (
            ["fit", "data.csv", "-f", "y ~ x", "-f", "sigma ~ ma(time = k, gr = g)"],
            "belongs in the formula of the mean (mu), not of sigma",
        ),
        "autocor: two terms": (
            fit("y ~ x + ar(time = k, gr = g) + ma(time = k, gr = g)"),
            "one autocorrelation term per model",
        ),
        "autocor: with --classical": (
            fit("y ~ x + ar(time = k, gr = g)", "--classical"),
            "no classical fit for a model with ar(time = k, gr = g)",
        ),
        "autocor: with trunc()": (
            fit("y | trunc(lb = -100) ~ x + ar(time = k, gr = g)"),
            "autocorrelation terms do not take se(), cens(), weights(), trunc() or rate()",
        ),
        "autocor: cosy with a formula for nu": (
            fit("y ~ x + cosy(time = k, gr = g)", "-f", "nu ~ x", "--family", "student"),
            "cosy(time = k, gr = g): cosy() takes no formula for nu",
        ),
        "autocor: kfold": (
            [
                "kfold",
                "data.csv",
                "-f",
                "y ~ x + ar(time = k, gr = g)",
                "-o",
                "out",
                "--folds",
                "2",
            ],
            "kfold does not take ar(time = k, gr = g) yet",
        ),
        "autocor: a time that is text": (
            fit("y ~ x + cosy(time = word, gr = g)"),
            "the time 'word' must be numeric",
        ),
        "a smooth of a factor in a dpar formula": (
            ["fit", "data.csv", "-f", "y ~ x", "-f", "sigma ~ s(word)"],
            "s(word): 'word' is a factor",
        ),
        "cumulative with cs()": (
            fit("cnt ~ cs(x) + (1 | g)", "--family", "cumulative"),
            "cs(x): category-specific effects (cs()) need family sratio, cratio or acat",
        ),
        "cs() of a column the data lack": (
            fit("cnt ~ cs(nothere)", "--family", "sratio"),
            "column 'nothere' is not in",
        ),
        "a group-level cs() term": (
            fit("cnt ~ x + (cs(1) | g)", "--family", "acat"),
            "category-specific group-level terms",
        ),
        "cs() of a population-level predictor": (
            fit("cnt ~ x + cs(x)", "--family", "cratio"),
            "'x' is both a population-level and a category-specific effect",
        ),
        "acat with within-chain threads": (
            fit("cnt ~ x + (1 | g)", "--family", "acat", "--threads-per-chain", "2"),
            "the acat family does not have",
        ),
        # categorical: its response and its predictors mu<cat>, one per category but the first
        "categorical, a single category": (
            fit("c5 ~ x + (1 | g)", "--family", "categorical"),
            "has a single category (5) for family categorical",
        ),
        "categorical, a level the response lacks": (
            fit("ans ~ x", "--family", "categorical", "--levels", "no,perhaps,yes"),
            "has values not among the levels no, perhaps, yes (found: 'maybe')",
        ),
        "categorical, fractions": (
            fit("frac ~ x", "--family", "categorical"),
            "whole numbers (unordered categories) for family categorical",
        ),
        "categorical, a formula for the reference category": (
            ["fit", "data.csv", "-f", "ans ~ x", "-f", "mumaybe ~ x", "--family", "categorical"],
            "the reference 'maybe': muno, muperhaps, muyes)",
        ),
        "categorical, a formula for no category": (
            ["fit", "data.csv", "-f", "ans ~ x", "-f", "mufoo ~ x", "--family", "categorical"],
            "no parameter 'mufoo'",
        ),
        "categorical, a sigma formula": (
            ["fit", "data.csv", "-f", "ans ~ x", "-f", "sigma ~ x", "--family", "categorical"],
            "family categorical has no parameter 'sigma'",
        ),
        "categorical, a probit link": (
            fit("ans ~ x", "--family", "categorical(link=probit)"),
            "family categorical has no link 'probit' (links: logit)",
        ),
        "categorical with cens()": (
            fit("ans | cens(c5) ~ x", "--family", "categorical"),
            "not categorical",
        ),
        "categorical with within-chain threads": (
            fit("ans ~ x + (1 | g)", "--family", "categorical", "--threads-per-chain", "2"),
            "the categorical family does not have",
        ),
        "categorical, names that clash": (
            fit("fv ~ x", "--family", "categorical"),  # a[1], a1, a(1): mua1 each
            "do not give distinct names mu<category>",
        ),
        "iter past 2^31": (fit(GOOD, "--iter", "99999999999"), "below 2^31"),
        # failures that came after the whole fit
        "group labels collide once joined": (fit("y ~ x + (1 | ja:jb)"), "both named 'p_q_r'"),
        "levels a[1], a1, a(1)": (fit("y ~ fv"), "would all be named 'fva1'"),
        "predictors around 1e300": (fit("y ~ huge"), "too large for the model's arithmetic"),
        "a column named Intercept": (
            fit("y ~ Intercept + (1 | g)", data="intercept.csv"),
            "it is the intercept's name",
        ),
        "--prob nan": (fit(GOOD, "--prob", "nan"), "not a probability"),
        "--prob 1": (fit(GOOD, "--prob", "1"), "not a probability"),
        # internal errors before compiling
        "(0 | g)": (fit("y ~ x + (0 | g)"), "(0 | g) has no terms"),
        "(-1 | g)": (fit("y ~ x + (-1 | g)"), "has no terms"),
        # unidentifiable models
        "(1 | g) + (1 | g)": (fit("y ~ x + (1 | g) + (1 | g)"), "appears in two terms"),
        "(1 | g/g)": (fit("y ~ x + (1 | g/g)"), "names the grouping factor 'g' twice"),
        "(1 | g) + (x | g)": (fit("y ~ (1 | g) + (x | g)"), "'Intercept' of 'g' appears in two"),
        "constant predictor": (fit("y ~ x + c5 + (1 | g)"), "predictor 'c5' is constant"),
        "x beside I(2 * x)": (fit("y ~ x + I(2 * x)"), "is a linear combination of 'x'"),
        "more coefficients than rows": (
            fit("y ~ x + cnt + frac + pos"),
            "5 population-level coefficients for 4 rows",
        ),
        # unclear messages
        "20,000 columns, one missing": (fit("y ~ x", data="wide.csv"), "and 19,992 more"),
        "CR-only line ends": (fit(GOOD, data="cr_only.csv"), "CR alone"),
        "x^2 outside I()": (fit("y ~ x^2"), "write I(x ** 2) for the square"),
        "a power of the response": (fit("y^2 ~ x"), "a power of the response goes inside I()"),
        "column a.b without backticks": (fit("y ~ a.b"), "goes in backticks: `a.b`"),
        "x**2 outside I()": (fit("y ~ x**2"), "write I(x ** 2) for the square"),
        "a number as a term": (fit("y ~ 2 + x"), "the number 2 can't be a term"),
        "1e400 in a formula": (fit("y ~ I(x * 1e400)"), "the number 1e400 overflows"),
        "1e in a formula": (fit("y ~ I(x * 1e)"), "a number in powers of ten is written like 1e5"),
        # R's bases (mixfit/model/transforms.py), refused as R refuses them or where R guesses
        "poly(x, 5) of 4 unique values": (
            fit("y ~ poly(x, 5) + (1 | g)"),
            "'degree' must be less than number of unique points (degree 5, 4 unique values)",
        ),
        "poly() of a text column": (fit("y ~ poly(word, 2)"), "needs a numeric variable"),
        "poly() of two variables": (fit("y ~ poly(x, cnt, 2)"), "more than one variable"),
        "ns(x, df = 0)": (fit("y ~ ns(x, df = 0)"), "'df' must be a whole number from 1 to 1,000"),
        "bs(x, df = 2)": (fit("y ~ bs(x, df = 2)"), "'df' must be a whole number from 3"),
        "bs(x, degree = 0)": (fit("y ~ bs(x, degree = 0)"), "'degree' must be a whole number"),
        "ns() knot outside the data": (fit("y ~ ns(x, knots = 5)"), "the knot 5 is not inside"),
        "ns() of a constant": (fit("y ~ ns(c5)"), "its variable takes one value (5)"),
        "ns() unknown argument": (fit("y ~ ns(x, dfs = 3)"), "ns() has no argument 'dfs'"),
        "c() outside knots": (fit("y ~ I(c(1, 2))"), "c() gives the knots of ns() and bs()"),
        "two names without an operator": (fit("y ~ x g"), "needs an operator between 'x' and 'g'"),
        "--factor on the response": (fit(GOOD, "--factor", "y"), "names the response"),
        "interaction prior coefficient": (
            fit("y ~ x * word", "--prior", "normal(0, 1) : b : x:wordx"),
            "unknown coefficient 'x:wordx'",
        ),
        "text response quotes the failed values": (fit("ms ~ x"), "found text: '245.3 ms'"),
        "yaml levels stay the text written": (
            ["fit", "levels_bool.yaml"],
            "levels no, perhaps, yes",
        ),
        "summary of a file": (["summary", "data.csv"], "is a file"),
    }
)

# Distributional formulas (issue 22): each refused before anything runs, naming the problem.
CASES.update(
    {
        "dpar the family lacks": (
            ["fit", "data.csv", "-f", GOOD, "-f", "zi ~ x"],
            "family gaussian has no parameter 'zi'",
        ),
        "hu with a family without a hurdle": (
            fit("cnt ~ x", "-f", "hu ~ x", "--family", "zero_inflated_poisson"),
            "family zero_inflated_poisson has no parameter 'hu' (its parameters: zi)",
        ),
        "hurdle response not whole": (
            fit("frac ~ x", "--family", "hurdle_poisson"),
            "must hold whole numbers for family hurdle_poisson",
        ),
        "hurdle response never 0": (
            fit("cnt ~ x", "-f", "hu ~ x", "--family", "hurdle_poisson"),
            "response 'cnt' is never 0",
        ),
        "weibull response 0": (fit("sep ~ x", "--family", "weibull"), "must be above 0"),
        "zero_inflated_binomial without trials": (
            fit("k ~ x", "--family", "zero_inflated_binomial"),
            "family zero_inflated_binomial needs the number of trials: 'k | trials(n) ~ ...'",
        ),
        "beta_binomial without trials": (
            fit("k ~ x", "-f", "phi ~ x", "--family", "beta_binomial"),
            "family beta_binomial needs the number of trials",
        ),
        "zero_inflated_binomial successes above trials": (
            fit("k | trials(n) ~ x", "-f", "zi ~ x", "--family", "zero_inflated_binomial"),
            "response 'k' exceeds its trials in 1 rows (first: 6 successes of 5 trials)",
        ),
        "beta_binomial successes above trials": (
            fit("k | trials(3) ~ x", "--family", "beta_binomial"),
            "response 'k' exceeds its trials",
        ),
        "beta_binomial negative count": (
            fit("neg | trials(n) ~ x", "--family", "beta_binomial"),
            "'neg' must be a non-negative count for family beta_binomial (found -2)",
        ),
        "zero_inflated_binomial negative trials": (
            fit("k | trials(neg) ~ x", "--family", "zero_inflated_binomial"),
            "'trials' must be a non-negative count for family zero_inflated_binomial",
        ),
        "phi with zero_inflated_binomial": (
            fit("k | trials(n) ~ x", "-f", "phi ~ x", "--family", "zero_inflated_binomial"),
            "family zero_inflated_binomial has no parameter 'phi' (its parameters: zi)",
        ),
        "classical of beta_binomial": (
            fit("k | trials(10) ~ x + (1 | g)", "--family", "beta_binomial", "--classical"),
            "no classical fit for family 'beta_binomial'",
        ),
        "mixfit classical of zero_inflated_binomial": (
            [
                "classical",
                "data.csv",
                "-f",
                "k | trials(10) ~ x + (1 | g)",
                "--family",
                "zero_inflated_binomial",
                "-o",
                "out",
            ],
            "no classical fit for family 'zero_inflated_binomial'",
        ),
        "a prior past ndt's data bound": (
            fit("y ~ x", "--family", "shifted_lognormal", "--prior", "beta(1, 1) : ndt"),
            "excludes part of ndt's support (0, min_Y)",
        ),
        "the same dpar twice": (
            ["fit", "data.csv", "-f", GOOD, "-f", "sigma ~ x", "-f", "sigma ~ 1"],
            "'sigma' is given a formula twice",
        ),
        "a dpar formula with a response": (
            ["fit", "data.csv", "-f", GOOD, "-f", "sigma | trials(n) ~ x"],
            "with no addition terms",
        ),
        "a second formula for the response": (
            ["fit", "data.csv", "-f", GOOD, "-f", "y ~ x"],
            "a second formula for the response 'y'",
        ),
        "a prior on a dpar with no formula": (
            fit(GOOD, "--prior", "normal(0, 1) : b_sigma"),
            "class b has no elements for dpar 'sigma'",
        ),
        "a prior on a dpar that has a formula": (
            ["fit", "data.csv", "-f", GOOD, "-f", "sigma ~ x", "--prior", "normal(0, 1) : sigma"],
            "sigma has a formula in this model",
        ),
        "an ID with two grouping factors": (
            ["fit", "data.csv", "-f", "y ~ x + (1 | p | g)", "-f", "sigma ~ (1 | p | word)"],
            "joins group-level terms of two grouping factors",
        ),
        "bf() with an option": (fit("bf(y ~ x, sigma ~ x, nl = TRUE)"), "bf() options"),
        "classical with a dpar formula": (
            ["fit", "data.csv", "-f", GOOD, "-f", "sigma ~ x", "--classical"],
            "no classical fit for a model with a formula for a family parameter",
        ),
    }
)

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
    "sratio": ("frac ~ x + (1 | g)", "whole numbers (ordered categories)"),
    "weibull": ("neg ~ x + (1 | g)", "must be above 0"),
    "exponential": ("sep ~ x + (1 | g)", "must be above 0"),  # 0 is not a time
    "hurdle_poisson": ("neg ~ x + (1 | g)", "non-negative count"),
    "hurdle_negbinomial": ("frac ~ x + (1 | g)", "whole numbers"),
    "zero_inflated_binomial": ("frac | trials(n) ~ x + (1 | g)", "whole numbers"),
    "beta_binomial": ("word | trials(n) ~ x + (1 | g)", "must be numeric"),
    "hurdle_gamma": ("cnt ~ x + (1 | g)", "is never 0: a hurdle model's zeros"),
    "hurdle_lognormal": ("neg ~ x + (1 | g)", "must be 0 or above"),
    "zero_inflated_beta": ("sep ~ x + (1 | g)", "(0 allowed, 1 not)"),
    "zero_one_inflated_beta": ("pos ~ x + (1 | g)", "must be in [0, 1]"),
    "frechet": ("sep ~ x + (1 | g)", "must be above 0"),
    "skew_normal": ("word ~ x + (1 | g)", "must be numeric"),
    "shifted_lognormal": ("neg ~ x + (1 | g)", "must be above 0"),
    "exgaussian": ("word ~ x + (1 | g)", "must be numeric"),
    "categorical": ("c5 ~ x + (1 | g)", "single category"),
}


def _existing_families() -> set[str]:
    from mixfit.model.families import FAMILIES

    return set(FAMILIES)


for _family, (_formula, _phrase) in FAMILY_CASES.items():
    if _family in _existing_families():
        CASES[f"family {_family}: unsuitable response"] = (
            fit(_formula, "--family", _family),
            _phrase,
        )


OUTPUT_FROM_SPEC = {"no output folder", "yaml output: .", "yaml output empty"}


def command_line_in_child(args: list[str], folder: str) -> subprocess.CompletedProcess:
    """`mixfit ARGS` in FOLDER, run in this (forked, fresh) process; what it wrote and its code."""
    from mixfit.cli import run_command_line

    os.chdir(folder)
    os.environ.update(
        MIXFIT_CACHE_DIR=str(Path(folder) / "cache"), CMDSTAN=str(Path(folder) / "no-cmdstan")
    )
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            run_command_line(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:  # noqa: BLE001 (what the interpreter prints for an uncaught one)
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        out.seek(0)
        err.seek(0)
        text = [f.read().decode("utf-8", "replace") for f in (out, err)]
    return subprocess.CompletedProcess(["mixfit", *args], code, *text)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> dict:
    """Every case run once, two at a time, each in a process of its own."""
    folders = {
        name: write_files(tmp_path_factory.mktemp(f"case{i}")) for i, name in enumerate(CASES)
    }
    for name, folder in folders.items():
        write_large_files(folder, name)
    before = {name: snapshot(folder) for name, folder in folders.items()}
    jobs = []
    for name, (args, _) in CASES.items():
        if args[0] == "fit":
            if "-o" not in args and name not in OUTPUT_FROM_SPEC:
                args = [*args, "-o", "out"]
            args = [*args, "--backend", "cmdstan"]
        jobs.append((args, str(folders[name])))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["mixfit.cli", "mixfit.commands.fitting", "mixfit.pipeline"])
    with context.Pool(processes=2, maxtasksperchild=1) as pool:  # a new process for every case
        results = pool.starmap(command_line_in_child, jobs, chunksize=1)
    return {name: (result, folders[name], before[name]) for name, result in zip(CASES, results)}


@pytest.mark.parametrize("name", list(CASES))
def test_input_errors_exit_2_with_one_line_and_no_outdir(catalogue, name):
    _, phrase = CASES[name]
    result, files, before = catalogue[name]
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("mixfit: error:"), result.stderr
    assert phrase in lines[0]
    assert len(lines[0]) < 1000, lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (files / "out").exists()
    assert not (files / "X").exists() and not (files / "x").exists()
    assert snapshot(files) == before  # nothing in the working folder was created or changed


def snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
        if p.name != "__pycache__"
    }


def test_a_library_warning_is_one_line_of_mixfits(capsys):
    """A warning that got past the place mixfit calls a library is one line, like an error."""
    from mixfit.cli import _show_warning

    where = "/venv/lib/python3.12/site-packages/glmm/__init__.py"
    _show_warning(
        RuntimeWarning("invalid value encountered in scalar divide"), RuntimeWarning, where, 919
    )
    _show_warning(UserWarning("a note"), UserWarning, "/somewhere/tool.py", 3)
    assert capsys.readouterr().err.splitlines() == [
        "mixfit: warning: glmm: invalid value encountered in scalar divide (RuntimeWarning)",
        "mixfit: warning: tool: a note (UserWarning)",
    ]


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
    # the marginal program's data: the rows' statistics per level, not the rows
    assert data["N"] == 180 and data["N_1"] == 18 and len(data["ZtZ"]) == 18 and "Y" not in data
    result = mixfit(["standata", SLEEP, "-f", SLEEP_FORMULA, "--no-marginal"], tmp_path)
    assert len(json.loads(result.stdout)["Y"]) == 180


# Inputs that look odd but are fine: the model is built (standata, nothing compiled).
ACCEPTED = {
    "a BOM before the header": ("\ufeffy,x,g\n1,0.1,a\n2,0.2,b\n3,0.3,a\n4,0.5,b\n", GOOD),
    "CRLF line ends": ("y,x,g\r\n1,0.1,a\r\n2,0.2,b\r\n3,0.3,a\r\n4,0.5,b\r\n", GOOD),
    "quoted newlines and commas": (
        'y,x,g\n1,0.1,"a\nb"\n2,0.2,"c,d"\n3,0.3,"a\nb"\n4,0.5,"c,d"\n',
        GOOD,
    ),
    "blank lines": ("y,x,g\n\n1,0.1,a\n2,0.2,b\n\n3,0.3,a\n4,0.5,b\n\n", GOOD),
    "rows missing values are dropped": (
        ("y,x,g,other\n1,0.1,a,\n2,,b,\n3,0.3,a,\n4,0.5,b,\n5,0.6,b,\n"),
        GOOD,
    ),
    "observation-level effects for counts": (
        "c,x,obs\n1,0.1,a\n3,0.2,b\n0,0.3,c\n2,0.5,d\n",
        "c ~ x + (1 | obs)",
        "--family",
        "poisson",
    ),
    "a grouping column with a space, in backticks": (
        "y,x,Subject ID\n1,0.1,a\n2,0.2,b\n3,0.3,a\n4,0.5,b\n",
        "y ~ x + (1 | `Subject ID`)",
    ),
    "600 terms": ("y,x,g\n1,0.1,a\n2,0.2,b\n3,0.3,a\n4,0.5,b\n", "y ~ " + " + ".join(["x"] * 600)),
    "integer arithmetic in I()": (
        "y,x,g\n1,0.1,a\n2,0.2,b\n3,0.3,a\n4,0.5,b\n",
        "y ~ I(x * 10**3 + 2**-2)",
    ),
    "R's powers and numbers": (
        "y,x,g\n1,0.1,a\n2,0.2,b\n3,0.3,a\n4,0.5,b\n",
        "y ~ I(x^2) + I(x * 1e5 - 2.5E-3)",
    ),
    "R's poly(), ns(), bs()": (
        "y,x,g\n1,0.1,a\n2,0.2,b\n3,0.3,a\n4,0.5,b\n5,0.6,a\n",
        "y ~ poly(x, 2, raw = TRUE) + bs(x, degree = 1) + (ns(x, df = 1) | g)",
        "--prior",
        "normal(0, 1) : b",
    ),
    "a mostly numeric column made a factor on purpose": (
        "y,x,g\n1,1,a\n2,2,b\n3,3b,a\n4,2,b\n5,1,a\n",
        "y ~ x",
        "--factor",
        "x",
    ),
    "mo() of a text column ordered with --levels": (
        "y,dose\n1,low\n2,high\n3,mid\n4,low\n",
        "y ~ mo(dose)",
        "--levels",
        "dose=low,mid,high",
    ),
    "separation with a proper prior": (
        "y,x,g\n0,0.1,a\n0,0.2,b\n1,0.3,a\n1,0.5,b\n",
        "y ~ x + (1 | g)",
        "--family",
        "bernoulli",
        "--prior",
        "normal(0, 2.5) : b",
    ),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_odd_but_valid_inputs_are_accepted(tmp_path, name):
    text, formula, *extra = ACCEPTED[name]
    (tmp_path / "in.csv").write_bytes(text.encode())
    result = mixfit(["standata", "in.csv", "-f", formula, *extra], tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["N"] >= 4


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_stdout_is_one_line_and_exit_3(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "mixfit", "stancode", SLEEP, "-f", SLEEP_FORMULA],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    assert done.returncode == 3, done.stderr
    assert done.stderr.splitlines() == ["mixfit: error: could not write: No space left on device"]


def test_a_closed_pipe_ends_the_run_quietly(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixfit", "standata", SLEEP, "-f", SLEEP_FORMULA],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    proc.stdout.close()  # the reader goes away before a byte is read, as `| head -c 0` would
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 141, stderr
    assert stderr == b""


def test_a_factor_of_hundreds_of_levels_warns_in_one_line_and_goes_on(tmp_path):
    rows = "".join(f"{i % 7 * 0.5},{i * 0.01:.2f},s{i % 150}\n" for i in range(450))
    (tmp_path / "sites.csv").write_text("y,x,site\n" + rows)
    result = mixfit(["standata", "sites.csv", "-f", "y ~ x + site"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        (
            "mixfit: warning: the term 'site' brings 149 population-level coefficients with flat "
            "priors, which can take long to sample; if site groups the rows, write (1 | site) "
            'instead, or set a prior (--prior "normal(0, 1) : b")'
        )
    ]
    assert json.loads(result.stdout)["K"] == 150
