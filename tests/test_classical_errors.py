"""Bad input to ``mixfit classical`` (and to ``fit --classical``): exit code 2, one line on stderr
starting ``mixfit: error:``, and nothing written, OUTDIR included.

The ``fit`` cases ask for the cmdstan backend with CMDSTAN pointing nowhere: a case that got past
its check would end with exit code 3 instead of sampling.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
SLEEP = str(SAMPLES / "sleepstudy.csv")
FORMULA = "Reaction ~ Days + (Days | Subject)"

DATA = "y,x,g,id,c\n1.5,0.1,a,1,1\n2.5,0.2,a,2,2\n3.5,0.3,b,3,3\n4.5,0.4,b,4,1\n"
SPECS = {
    "maybe.yaml": f"data: {SLEEP}\nformula: {FORMULA}\nclassical: maybe\n",
    "number.yaml": f"data: {SLEEP}\nformula: {FORMULA}\nclassical: 1\n",
    "typo.yaml": f"data: {SLEEP}\nformula: {FORMULA}\nclasical: true\n",
    "prior_only.yaml": f"data: {SLEEP}\nformula: {FORMULA}\nclassical: true\nsample_prior: only\n",
}

CASES = {
    "no output folder": (["classical", SLEEP, "-f", FORMULA], "no output folder"),
    "no formula": (["classical", SLEEP, "-o", "out"], "no formula"),
    "no such data file": (["classical", "missing.csv", "-f", FORMULA, "-o", "out"], "missing.csv"),
    "formula syntax": (["classical", SLEEP, "-f", "Reaction ~ (Days |", "-o", "out"], "formula"),
    "unknown column": (["classical", SLEEP, "-f", "Reaction ~ Nights", "-o", "out"], "Nights"),
    "family without a classical fit": (
        ["classical", "data.csv", "-f", "y ~ x + (1 | g)", "--family", "student", "-o", "out"],
        "no classical fit for family 'student'",
    ),
    "ordinal family": (
        ["classical", "data.csv", "-f", "c ~ x", "--family", "cumulative", "-o", "out"],
        "no classical fit for family 'cumulative'",
    ),
    "unknown family": (
        ["classical", SLEEP, "-f", FORMULA, "--family", "gausian", "-o", "out"],
        "gausian",
    ),
    "a level for every row": (
        ["classical", "data.csv", "-f", "y ~ x + (1 | id)", "-o", "out"],
        "a level for every row",
    ),
    "prob out of range": (["classical", SLEEP, "-f", FORMULA, "-o", "out", "--prob", "2"], "prob"),
    "a sampler flag": (["classical", SLEEP, "-f", FORMULA, "-o", "out", "--chains", "2"], "chains"),
    "a prior": (
        ["classical", SLEEP, "-f", FORMULA, "-o", "out", "--prior", "normal(0, 1) : b"],
        "prior",
    ),
    "classical: maybe": (["classical", "maybe.yaml", "-o", "out"], "true, false, REML or ML"),
    "classical: 1": (["classical", "number.yaml", "-o", "out"], "true, false, REML or ML"),
    "misspelt key": (["classical", "typo.yaml", "-o", "out"], "unknown key 'clasical'"),
    "fit --classical, family without one": (
        ["fit", "data.csv", "-f", "y ~ x + (1 | g)", "--family", "student", "--classical",
         "-o", "out", "--backend", "cmdstan"],
        "no classical fit for family 'student'",
    ),
    "fit --ml, ordinal family": (
        ["fit", "data.csv", "-f", "c ~ x", "--family", "cumulative", "--ml", "-o", "out",
         "--backend", "cmdstan"],
        "no classical fit for family 'cumulative'",
    ),
    "fit --classical with sample_prior only": (
        ["fit", SLEEP, "-f", FORMULA, "--classical", "--sample-prior", "only", "-o", "out",
         "--backend", "cmdstan"],
        "sample_prior only",
    ),
    "fit with classical and sample_prior only in the spec": (
        ["fit", "prior_only.yaml", "-o", "out", "--backend", "cmdstan"],
        "sample_prior only",
    ),
    "fit, classical: maybe": (
        ["fit", "maybe.yaml", "-o", "out", "--backend", "cmdstan"],
        "true, false, REML or ML",
    ),
}  # fmt: skip


def mixfit(args: list[str], folder: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MIXFIT_CACHE_DIR": str(folder / "cache"),
        "CMDSTAN": str(folder / "no-cmdstan"),
    }
    return subprocess.run(
        [sys.executable, "-m", "mixfit", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=120,
    )


@pytest.mark.parametrize("name", CASES)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, name):
    (tmp_path / "data.csv").write_text(DATA)
    for file, text in SPECS.items():
        (tmp_path / file).write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    args, expected = CASES[name]
    done = mixfit(args, tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mixfit: error:"), done.stderr
    assert expected in lines[0]
    assert "Traceback" not in done.stderr
    # no OUTDIR, no staging folder, no cache: the folder is as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == before
