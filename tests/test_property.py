"""Random CSV bytes, formulas, specs and output folders thrown at the CLI, in-process.

The only outcomes allowed: a result, or a clean error (one line, exit 2; for `fit`, the stand-in
backend's exit 3, which is raised where compiling would start, so nothing is ever compiled).
Whatever happens, nothing outside OUTDIR changes: the working folder, with a user's files, a data
file and a spec in it, is compared byte for byte before and after every run. A last property lets
a few fits run for real (stanli) into random output folders.
Runtime: about 15 s (7 properties, 12-400 examples each; most examples fail in milliseconds).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mixfit import pipeline
from mixfit.cli import run_command_line
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


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def cli(args) -> None:
    """`mixfit ARGS` as the installed script runs it (one-line usage errors included)."""
    run_command_line(list(args))


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
    st.sampled_from(
        ["", "NA", "a", "b", "c", "true", '"q,uoted"', '"new\nline"', '"', " ", "1e400"]
    ),
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
    "y",
    "x",
    "g",
    "h",
    "n",
    "~",
    "+",
    "-",
    "*",
    ":",
    "/",
    "|",
    "||",
    "(",
    ")",
    "1",
    "0",
    "2.5",
    "log",
    "exp",
    "I",
    "C",
    "scale",
    "offset",
    "trials",
    "**",
    " ",
    ".",
    "_",
    "__import__",
    "'os'",
    '"touch X"',
    "system",
    "[",
    "]",
    "=",
    ",",
    "lambda",
    "x.y",
    "%",
    "^",
    "{",
    "}",
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
        args = [
            "fit",
            f"{folder}/data.csv",
            "-f",
            "y ~ x + (1 | g)",
            "--family",
            family,
            "-o",
            f"{folder}/out",
        ]
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
        args = [
            "fit",
            f"{folder}/data.csv",
            "-f",
            formula,
            "--family",
            family,
            "-o",
            f"{folder}/out",
        ]
        check_outcome(run(args, GOOD_CSV, Path(folder)), "fit", Path(folder))


# Specs and output folders: a working folder holds the user's files, and the run is started in it.

SCALARS = [
    "yes",
    "no",
    "on",
    "off",
    "~",
    "''",
    "1",
    "01",
    "-3",
    "1.5e3",
    ".",
    "..",
    "/",
    "data.csv",
    "spec.yaml",
    "mine",
    "mine/sub",
    "new",
    "report.pdf",
    "y ~ x + (1 | g)",
    "[no, perhaps, yes]",
    "{name: poisson}",
    "{chains: two}",
    "{iter: 99999999999}",
    "[normal(0, 1) : b]",
    "[{prior: 'normal(0, 1)', class: b, coef: on}]",
    "!!python/name:os.system",
    "&a [1, 2]",
    "*a",
    "gaussian",
    "cumulative",
    "only",
    "stanli",
    '"a\\x00b"',
    "[*a, *a]",
]
SPEC_KEYS = [
    "data",
    "formula",
    "family",
    "levels",
    "factors",
    "priors",
    "sampler",
    "output",
    "backend",
    "sample_prior",
    "chians",
]


@st.composite
def specs(draw) -> str:
    """A YAML spec: usually data and a formula, then keys with odd values, aliases among them."""
    lines = []
    if draw(st.integers(0, 4)):
        lines.append("data: data.csv")
    if draw(st.integers(0, 4)):
        lines.append(f"formula: {draw(st.sampled_from(['y ~ x + (1 | g)', 'y ~ x', 'n ~ x']))}")
    for key in draw(st.lists(st.sampled_from(SPEC_KEYS), max_size=4)):
        lines.append(f"{key}: {draw(st.sampled_from(SCALARS))}")
    if draw(st.integers(0, 6)) == 0:
        lines.insert(0, "a: &a [x, x, x]")
    return "\n".join(lines) + "\n"


OUTDIRS = st.sampled_from(
    [
        None,
        "",
        ".",
        "..",
        "/",
        "data.csv",
        "spec.yaml",
        "mine",
        "mine/sub",
        "report.pdf",
        "report.pdf/out",
        "new",
        "new/deeper",
        "results",
    ]
)


def working_folder(folder: Path) -> Path:
    """The user's files around a run: data, a report, a folder of notes, an earlier result."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.csv").write_bytes(GOOD_CSV)
    (folder / "report.pdf").write_bytes(b"%PDF- the user's report")
    (folder / "mine" / "sub").mkdir(parents=True)
    (folder / "mine" / "notes.txt").write_text("notes\n")
    (folder / "mine" / "sub" / "fixef.csv").write_text("the user's own table\n")
    (folder / "results").mkdir()
    (folder / "results" / "fixef.csv").write_text("an earlier fit\n")
    (folder / "results" / ".mixfit-results").write_text('{"files": ["fixef.csv"]}\n')
    (folder / "results" / "kept.txt").write_text("added by the user\n")
    return folder


def snapshot(folder: Path, outdir: Path | None = None) -> dict:
    found = {}
    for path in sorted(folder.rglob("*")):
        if outdir is not None and (path == outdir or outdir in path.parents):
            continue
        found[str(path.relative_to(folder))] = path.read_bytes() if path.is_file() else None
    return found


@contextlib.contextmanager
def inside(folder: Path):
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


def outdir_args(outdir: str | None, force: bool) -> list[str]:
    return ([] if outdir is None else ["-o", outdir]) + (["--force"] if force else [])


@settings(FAST, max_examples=300)
@given(spec=specs(), outdir=OUTDIRS, force=st.booleans())
def test_random_specs_and_outdirs_touch_nothing(spec, outdir, force):
    with tempfile.TemporaryDirectory() as name:
        folder = working_folder(Path(name) / "work")
        home = working_folder(Path(name) / "home")
        (folder / "spec.yaml").write_text(spec)
        before, home_before = snapshot(folder), snapshot(home)
        with inside(folder):
            result = CliRunner().invoke(
                cli,
                ["fit", "spec.yaml", *outdir_args(outdir, force)],
                catch_exceptions=True,
                env={"HOME": str(home)},
            )
        check_outcome(result, "fit", folder)
        assert snapshot(folder) == before
        assert snapshot(home) == home_before


@settings(FAST, max_examples=150)
@given(csv=csv_texts(), formula=FORMULAS, outdir=OUTDIRS, force=st.booleans())
def test_random_data_formulas_and_outdirs_touch_nothing(csv, formula, outdir, force):
    with tempfile.TemporaryDirectory() as name:
        folder = working_folder(Path(name))
        (folder / "data.csv").write_bytes(csv)
        before = snapshot(folder)
        with inside(folder):
            result = CliRunner().invoke(
                cli,
                ["fit", "data.csv", "-f", formula, *outdir_args(outdir, force)],
                catch_exceptions=True,
            )
        check_outcome(result, "fit", folder)
        assert snapshot(folder) == before


@pytest.fixture
def real_backend(monkeypatch):
    monkeypatch.undo()  # this property samples for real, with the fast engine


@settings(FAST, max_examples=12)
@given(outdir=OUTDIRS, force=st.booleans())
def test_real_fits_write_only_into_outdir(real_backend, outdir, force):
    pytest.importorskip("stanli")
    with tempfile.TemporaryDirectory() as name:
        folder = working_folder(Path(name))
        target = None if outdir in (None, "") else (folder / outdir).resolve()
        before = snapshot(folder)
        ours = target is not None and target.is_dir() and target.is_relative_to(folder.resolve())
        in_outdir = snapshot(target) if ours else {}  # ("/" and ".." are refused, not read)
        with inside(folder):
            result = CliRunner().invoke(
                cli,
                [
                    "fit",
                    "data.csv",
                    "-f",
                    "y ~ x + (1 | g)",
                    "--chains",
                    "1",
                    "--iter",
                    "100",
                    "--seed",
                    "1",
                    "--no-plots",
                    "--quiet",
                    "--backend",
                    "stanli",
                    *outdir_args(outdir, force),
                ],
                catch_exceptions=True,
            )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code in {0, 2}, result.output
        event(f"exit {result.exit_code}")
        if result.exit_code == 2:
            errors = result.stderr.splitlines()
            assert len(errors) == 1 and errors[0].startswith("mixfit: error:"), result.stderr
            assert snapshot(folder) == before
            return
        # a success: OUTDIR (and the folders made to hold it) changed, nothing else did
        outside = {k: v for k, v in snapshot(folder, target).items() if v is not None}
        assert outside == {
            k: v
            for k, v in before.items()
            if v is not None and not (folder / k).resolve().is_relative_to(target)
        }
        owned = json.loads((target / ".mixfit-results").read_text())["files"]
        assert "fixef.csv" in owned and "draws.nc" in owned
        after = snapshot(target)
        for key, value in in_outdir.items():  # the user's files in OUTDIR stay, byte for byte
            if key.split("/")[0] not in {*owned, ".mixfit-results"}:
                assert after.get(key) == value, key


# Corrupted results folders and hostile hypothesis expressions (issue 26): what the analysis
# commands and combine read back is untrusted. A fit and one chain's shard are made once, here,
# on the fast engine; each example corrupts a copy and runs a command on it in-process.

READ_BACK = [
    "design.json",
    "run.json",
    "draws.nc",
    "r2.csv",
    "fixef.csv",
    "varcorr.csv",
    "diagnostics.json",
    "summary.txt",
    "shard",
]
ANALYSIS = {
    "predict": ["predict", "FIT", "new.csv", "-o", "p.csv", "--draws", "p.nc"],
    "effects": ["effects", "FIT", "--effect", "Days", "-o", "e.csv"],
    "loo": ["loo", "FIT"],
    "r2": ["r2", "FIT", "--json"],
    "hypothesis": ["hypothesis", "FIT", "Days > 5", "Intercept + 10 * Days > 300"],
    "summary": ["summary", "FIT"],
    "summary --json": ["summary", "FIT", "--json"],
    "combine": ["combine", "FIT", "--no-plots", "--quiet"],
}
OUTPUTS = {"p.csv", "p.nc", "e.csv"}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(
        [
            "np.savetxt('PWNED', Days)",
            "pd.io.common.os.system('touch X')",
            "../x",
            "/etc/passwd",
            "gaussian",
            "log",
            "\x00",
            "Days",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def saved_fit(tmp_path_factory):
    """A small fit and chain 1 of a 2-chain run of it (before no_compiling: a real engine)."""
    pytest.importorskip("stanli")
    root = tmp_path_factory.mktemp("readback-fuzz")
    common = [
        "sample_data/sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "--iter",
        "100",
        "--seed",
        "1",
        "--no-plots",
        "--quiet",
        "--backend",
        "stanli",
    ]
    here = os.getcwd()
    os.chdir(Path(__file__).resolve().parent.parent)
    try:
        for args in (
            ["fit", *common, "--chains", "2", "-o", str(root / "fit")],
            ["fit", *common, "--chains", "2", "--chain", "1", "-o", str(root / "fit")],
        ):
            result = CliRunner().invoke(cli, args, catch_exceptions=False)
            assert result.exit_code == 0, result.output
    finally:
        os.chdir(here)
    return root / "fit"


def _json_paths(value, path=()):
    yield path
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        yield from _json_paths(child, (*path, key))


def corrupt(path: Path, data) -> str:
    """Damage ``path`` one way, drawn by hypothesis; returns how (for the report of a failure)."""
    raw = path.read_bytes()
    how = data.draw(st.sampled_from(["truncate", "bytes", "empty", "delete", "json"]))
    if how == "truncate":
        path.write_bytes(raw[: data.draw(st.integers(0, max(0, len(raw) - 1)))])
    elif how == "bytes":
        at = data.draw(st.integers(0, max(0, len(raw) - 1)))
        noise = data.draw(st.binary(min_size=1, max_size=64))
        path.write_bytes(raw[:at] + noise + raw[at + len(noise) :])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "delete":
        path.unlink()
    else:
        try:
            value = json.loads(raw)
        except ValueError:
            return corrupt(path, data)
        where = data.draw(st.sampled_from(list(_json_paths(value))))
        new = data.draw(JSON_VALUES)
        if not where:
            value = new
        else:
            parent = value
            for key in where[:-1]:
                parent = parent[key]
            parent[where[-1]] = new
        path.write_text(json.dumps(value))
        return f"json {where} = {new!r}"
    return how


def _copy_fit(source: Path, folder: Path) -> Path:
    import shutil

    target = folder / "fit"
    shutil.copytree(source, target)
    shutil.copytree(source.parent / "fit.jobs", folder / "fit.jobs")
    (folder / "new.csv").write_text("Subject,Days\n308,1\n330,9.5\n")
    return target


def check_read_back(result, folder: Path, before: dict) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in {0, 2}, result.output
    if result.exit_code:
        errors = result.stderr.splitlines()
        assert len(errors) == 1 and errors[0].startswith("mixfit: error:"), result.stderr
        assert "internal error" not in errors[0]
    after = snapshot(folder)
    for name in OUTPUTS:  # the outputs asked for may appear; nothing else outside OUTDIR
        after.pop(name, None)
    assert after == before
    assert not (folder / "PWNED").exists() and not (folder / "X").exists()


@settings(FAST, max_examples=60)
@given(data=st.data(), command=st.sampled_from(sorted(ANALYSIS)), file=st.sampled_from(READ_BACK))
def test_corrupted_results_folders_are_one_line_or_a_result(saved_fit, data, command, file):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        fit = _copy_fit(saved_fit, folder)
        target = folder / "fit.jobs" / "shards" / "chain-1.npz" if file == "shard" else fit / file
        if file == "shard" and data.draw(st.booleans()):  # the shard's metadata, as JSON
            import numpy as np

            arrays = dict(np.load(target))
            (folder / "meta.json").write_text(str(arrays["meta"]))
            event(corrupt(folder / "meta.json", data))
            meta = folder / "meta.json"
            # corrupt() may write bytes that are no UTF-8: the metadata is text in the shard
            text = meta.read_bytes().decode("utf-8", "replace") if meta.exists() else ""
            arrays["meta"] = np.array(text)
            meta.unlink(missing_ok=True)
            np.savez(target, **arrays)
        else:
            event(corrupt(target, data))
        before = snapshot(folder)
        args = [str(fit) if a == "FIT" else a for a in ANALYSIS[command]]
        with inside(folder):
            result = CliRunner().invoke(cli, args, catch_exceptions=True)
        check_read_back(result, folder, before)


NUMBERS = st.sampled_from(["0", "1", "2.5", ".5", "10", "400", "1e400", "1e-400", "1e308", "0.0"])
NAMES_IN_FIT = st.sampled_from(
    [
        "Days",
        "Intercept",
        "b_Days",
        "b_Intercept",
        "Dayz",
        "sigma",
        "x.y",
        "__import__",
        "Intercept[1]",
        "os",
        "Days:Days",
    ]
)
EXPRESSIONS = st.recursive(
    NUMBERS | NAMES_IN_FIT,
    lambda inner: st.one_of(
        inner.map("({})".format),
        inner.map("-{}".format),
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "^", " ", ""]), inner).map("".join),
        st.integers(0, 400).map(lambda n: "(" * n + "Days" + ")" * n),
        st.integers(1, 600).map(lambda n: "^".join(["2"] * n)),
    ),
    max_leaves=12,
)
HYPOTHESES = st.one_of(
    st.tuples(
        EXPRESSIONS, st.sampled_from([" > ", " < ", " = ", "", " >< ", "=="]), EXPRESSIONS
    ).map("".join),
    st.text(max_size=40),
)


@settings(FAST, max_examples=100)
@given(expression=HYPOTHESES, alpha=st.sampled_from(["0.05", "nan", "0", "0.5", "-1", "inf"]))
def test_hostile_hypothesis_expressions_are_one_line_or_a_result(saved_fit, expression, alpha):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        before = snapshot(folder)
        with inside(folder):
            result = CliRunner().invoke(
                cli,
                ["hypothesis", str(saved_fit), expression, "--alpha", alpha, "--json"],
                catch_exceptions=True,
            )
        check_read_back(result, folder, before)
        if result.exit_code == 0:
            json.loads(result.stdout)  # standard JSON: no NaN or Infinity
