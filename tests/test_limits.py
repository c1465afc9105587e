"""Small inputs that ask for huge resources fail fast, with one line, under a memory limit.

Each case runs `mixfit stancode` in a subprocess limited to 2 GB of address space and 60 s: a
YAML "billion laughs", integer arithmetic in I() that would need gigabytes of digits, a 3 GB file
without line ends (sparse: it takes no disk), a line of 20 MB, 100,001 columns, 100 nested
parentheses and 1,100 terms. Runtime: about 10 s on 2 cores.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

MEMORY = 2 << 30
SECONDS = 60


def billion_laughs(depth: int = 10) -> str:
    """Ten lines, each a list of nine aliases of the one before: 9**10 strings when expanded."""
    lines = ["data: data.csv", "formula: y ~ x", "l0: &l0 [" + ", ".join(["lol"] * 9) + "]"]
    for k in range(1, depth):
        lines.append(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]")
    return "\n".join([*lines, f"levels: *l{depth - 1}", ""])


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (SECONDS, SECONDS))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("limits")
    rows = "".join(f"{i % 3},{i * 0.1:.1f},g{i % 4}\n" for i in range(20))
    (path / "data.csv").write_text("y,x,g\n" + rows)
    (path / "laughs.yaml").write_text(billion_laughs())
    with open(path / "no_newlines.csv", "wb") as fh:  # 3 GB of zero bytes, allocated lazily
        fh.truncate(3 << 30)
    with open(path / "long_line.csv", "wb") as fh:
        fh.write(b"y,x,g\n1,2,")
        fh.truncate(20 << 20)
    (path / "columns.csv").write_text(",".join(f"c{i}" for i in range(100_001)) + "\n1\n")
    return path


CASES = {
    "billion laughs": (["laughs.yaml"], "expands to more than"),
    "10**100000000 in I()": (["data.csv", "-f", "y ~ I(x * 10**100000000)"], "overflows"),
    "2**99999999999 in I()": (["data.csv", "-f", "y ~ I(x * 2**99999999999)"], "overflows"),
    "tower of powers in braces": (["data.csv", "-f", "y ~ {x * 10**10**10}"], "overflows"),
    "interaction power": (["data.csv", "-f", "y ~ (x + g)**1000000000"], "interaction power"),
    "3 GB without newlines": (["no_newlines.csv", "-f", "y ~ x"], "longer than 4 MB"),
    "a 20 MB line": (["long_line.csv", "-f", "y ~ x"], "longer than 16 MB"),
    "100,001 columns": (["columns.csv", "-f", "c1 ~ c2"], "at most 100,000"),
    "100 nested parentheses": (
        ["data.csv", "-f", "y ~ " + "(" * 100 + "x" + ")" * 100],
        "more than 32 deep",
    ),
    "1,100 terms": (["data.csv", "-f", "y ~ " + " + ".join(["x"] * 1100)], "at most 2,000"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_huge_demands_fail_fast_in_little_memory(folder, name):
    args, phrase = CASES[name]
    done = subprocess.run(
        [sys.executable, "-m", "mixfit", "stancode", *args],
        check=False,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=SECONDS,
        preexec_fn=limited,
    )
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("mixfit: error:"), done.stderr[-2000:]
    assert phrase in lines[0] and len(lines[0]) < 500, lines[0]
    assert done.stdout == ""


def test_many_terms_within_the_limit_are_parsed(folder):
    """600 terms need more recursion than Python's default allows formulae's parser."""
    columns = [f"x{i}" for i in range(600)]
    rows = "".join(
        f"{i % 3}," + ",".join(f"{(i * (j + 1)) % 7}" for j in range(600)) + "\n" for i in range(5)
    )
    (folder / "wide.csv").write_text("y," + ",".join(columns) + "\n" + rows)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mixfit",
            "priors",
            "wide.csv",
            "-f",
            "y ~ " + " + ".join(columns),
            "--prior",
            "normal(0, 1) : b",
        ],
        check=False,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=SECONDS,
        preexec_fn=limited,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "x599" in done.stdout
