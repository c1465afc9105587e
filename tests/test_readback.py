"""What mixfit reads back is untrusted input (issue 26): results folders, chain shards, job and
K-fold folders, cache manifests. A hostile or corrupted file is one line and exit 2; no code runs
from it; nothing outside OUTDIR is written; outputs never replace what they must not.

Each case runs the command line in a process of its own, forked from a server that imported
mixfit once (tests/test_cli_errors.py's machinery), in a folder of its own; the folders it read
are compared byte for byte before and after. Fits: the session's sleepstudy fit, and two tiny
ones here (a binomial fit and one chain's shard), about 15 s together.
Runtime: about 45 s on 2 cores.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DATA
from test_cli_errors import command_line_in_child

SLEEP = SAMPLE_DATA / "sleepstudy.csv"
FAST = ["--chains", "2", "--iter", "40", "--seed", "1", "--no-plots", "--quiet"]
PAYLOAD_FILES = ("PWNED", "x")


def _mount_point() -> str | None:
    return next((p for p in ("/dev/shm", "/proc", "/sys") if os.path.ismount(p)), None)


@pytest.fixture(scope="module")
def fits(sleepstudy_fit, run_mixfit, tmp_path_factory) -> dict[str, Path]:
    """The session's sleepstudy fit, a tiny binomial fit and chain 1 of a 2-chain run."""
    root = tmp_path_factory.mktemp("readback-fits")
    binomial = root / "binomial"
    shard_out = root / "sharded"
    runs = [
        [
            "fit",
            SAMPLE_DATA / "family_binomial_cloglog.csv",
            "-f",
            "k | trials(n) ~ x + (1 | g)",
            "--family",
            "binomial",
            "-o",
            binomial,
            *FAST,
        ],
        [
            "fit",
            SLEEP,
            "-f",
            "Reaction ~ Days + (1 | Subject)",
            "-o",
            shard_out,
            "--chain",
            "1",
            *FAST,
        ],
    ]
    with ThreadPoolExecutor(2) as pool:
        for done in pool.map(lambda args: run_mixfit(*args), runs):
            assert done.returncode == 0, done.stderr
    return {"FIT": sleepstudy_fit[0], "BINOMIAL": binomial, "SHARD": shard_out}


# -- corrupted results folders: each a copy of the fit with one file changed ---------------------


def _json_edit(change):
    def edit(path: Path) -> None:
        value = json.loads(path.read_text())
        change(value)
        path.write_text(json.dumps(value))

    return edit


def _set(*keys, value):
    def change(record):
        for key in keys[:-1]:
            record = record[key]
        record[keys[-1]] = value

    return change


def _write(text: str | bytes):
    return lambda path: path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _other_draws(path: Path) -> None:
    """draws.nc of another fit (the intercept-only one), design.json left as it is."""
    import xarray as xr

    with xr.open_dataset(path, group="posterior", engine="h5netcdf") as posterior:
        other = posterior.load().drop_vars(["b_Days", "sd_Subject__Days"])
    path.unlink()
    other.to_netcdf(path, group="posterior", engine="h5netcdf")


def _payload_population(value):
    value["population"]["formula"] = "Days + np.savetxt('PWNED', Days)"


def _payload_group(value):
    value["groups"][0]["blocks"][0]["formula"] = "Days + pd.io.common.os.system('touch x')"


CORRUPTIONS = {
    "draws.nc replaced by text": ("draws.nc", _write("not netCDF\n")),
    "draws.nc truncated": ("draws.nc", _truncate),
    "draws.nc empty": ("draws.nc", _write(b"")),
    "draws.nc of another fit": ("draws.nc", _other_draws),
    "design.json not JSON": ("design.json", _write("{")),
    "design.json a list": ("design.json", _write("[]")),
    "design.json without population": ("design.json", _json_edit(lambda d: d.pop("population"))),
    "design.json unknown family": ("design.json", _json_edit(_set("family", value="weird"))),
    "design.json unknown link": ("design.json", _json_edit(_set("link", value="sqrt"))),
    "design.json family edited": (
        "design.json",
        _json_edit(lambda d: d.update(family="poisson", link="log")),
    ),
    "design.json nested 100,000 deep": ("design.json", _write("[" * 100_000 + "]" * 100_000)),
    "design.json coefs not text": (
        "design.json",
        _json_edit(_set("population", "coefs", value=[1])),
    ),
    "design.json a transform's __class__": (
        "design.json",
        _json_edit(_set("population", "state", 0, "transforms", value=[{"__class__": 1}])),
    ),
    "design.json a mean that is text": (
        "design.json",
        _json_edit(_set("variables", "Days", "mean", value="4.5")),
    ),
    "design.json se not a column name": (
        "design.json",
        _json_edit(_set("response", "se", value=3)),
    ),
    "design.json weights_scale not a flag": (
        "design.json",
        _json_edit(_set("response", "weights_scale", value="yes")),
    ),
    "design.json payload in the population": ("design.json", _json_edit(_payload_population)),
    "design.json payload in a group block": ("design.json", _json_edit(_payload_group)),
    "run.json not JSON": ("run.json", _write("{")),
    "run.json a list": ("run.json", _write("[]")),
    "r2.csv empty": ("r2.csv", _write("")),
    "fixef.csv empty": ("fixef.csv", _write("")),
    "varcorr.csv of other columns": ("varcorr.csv", _write("a,b\n1,2\n")),
    "diagnostics.json not JSON": ("diagnostics.json", _write("{")),
    "summary.txt not UTF-8": ("summary.txt", _write(b"\xff\xfe\x00")),
}
COMMANDS = {
    "predict": ["predict", "BAD", "new.csv"],
    "effects": ["effects", "BAD", "--effect", "Days", "-o", "e.csv"],
    "hypothesis": ["hypothesis", "BAD", "Days > 5"],
    "loo": ["loo", "BAD"],
    "r2": ["r2", "BAD", "--json"],
    "summary": ["summary", "BAD", "--json"],
    "summary text": ["summary", "BAD"],
}
# which commands read which file: predict, effects and hypothesis read the folder through one
# loader, so predict stands for the three (the fuzz test in test_property.py runs them all)
READS = {
    "draws.nc": {"predict", "loo"},
    "design.json": {"predict"},
    "run.json": {"predict"},
    "r2.csv": {"r2"},
    "fixef.csv": {"summary"},
    "varcorr.csv": {"summary"},
    "diagnostics.json": {"summary"},
    "summary.txt": {"summary text"},
}
FOLDER_CASES = {
    f"{command}: {name}": (name, command)
    for name, (file, _) in CORRUPTIONS.items()
    for command in sorted(READS[file])
    if not (name == "draws.nc of another fit" and command == "loo")  # no log_lik: its own case
} | {
    "effects: design.json payload in the population": (
        "design.json payload in the population",
        "effects",
    ),
    "hypothesis: design.json payload in a group block": (
        "design.json payload in a group block",
        "hypothesis",
    ),
}


# -- everything else a hostile user tries ----------------------------------------------------------

NUL_DATA = "y,x,g\n" + "".join(f"{i % 5 * 0.7:.2f},{i * 0.3:.2f},g{i % 4}\n" for i in range(11))
DATA_FILES = {
    "new.csv": "Subject,Days\n308,1\n",
    "huge_days.csv": "Subject,Days\n308,1e308\n",
    "trials_1e300.csv": "x,g,n\n0.1,g01,1e300\n",
    "trials_2_63.csv": "x,g,n\n0.1,g01,9223372036854775808\n",
    "nul.csv": NUL_DATA + "1.0,0.5,a\0b\n",
    "cc.csv": "c,x\n" + "".join(f"{i % 3},{i * 0.3:.2f}\n" for i in range(12)),
    **{
        f"resp_{name}.csv": f"{name},x,g\n" + NUL_DATA.split("\n", 1)[1]
        for name in ("b", "sigma", "Intercept", "sd_1")
    },
}


def _fit(data: str, formula: str, *extra: str) -> list[str]:
    return ["fit", data, "-f", formula, "-o", "out", "--backend", "cmdstan", *extra]


CASES = {
    # options and expressions
    "predict --prob nan": (["predict", "FIT", "new.csv", "--prob", "nan"], "not strictly between"),
    "predict --seed -1": (["predict", "FIT", "new.csv", "--seed", "-1"], "'--seed'"),
    "hypothesis --alpha nan": (["hypothesis", "FIT", "Days > 5", "--alpha", "nan"], "'--alpha'"),
    "hypothesis 10^400 > 0": (["hypothesis", "FIT", "10^400 > 0"], "not a finite number"),
    "hypothesis 1/0 > 0": (["hypothesis", "FIT", "1/0 > 0"], "not a finite number"),
    "hypothesis 300 nested parentheses": (
        ["hypothesis", "FIT", "(" * 300 + "Days" + ")" * 300 + " > 0"],
        "nests more than 50",
    ),
    "hypothesis 500 chained powers": (
        ["hypothesis", "FIT", "^".join(["2"] * 500) + " > 0"],
        "nests more than 50",
    ),
    "hypothesis 600 signs": (["hypothesis", "FIT", "0 " + "- " * 600 + "Days > 0"], "nests"),
    "loo of a fit of two draws": (["loo", "TWO_DRAWS"], "needs at least 10"),
    "predict: x = 1e308": (["predict", "FIT", "huge_days.csv"], "overflow"),
    "predict: trials 1e300": (["predict", "BINOMIAL", "trials_1e300.csv"], "up to 2,147,483,647"),
    "predict: trials 2**63": (["predict", "BINOMIAL", "trials_2_63.csv"], "up to 2,147,483,647"),
    # outputs onto what must not be replaced
    "predict -o NEWDATA": (["predict", "FIT", "new.csv", "-o", "new.csv"], "is the new data file"),
    "predict -o OUTDIR/draws.nc": (
        ["predict", "FIT", "new.csv", "-o", "FIT/draws.nc"],
        "draws.nc",
    ),
    "predict --draws OUTDIR/draws.nc": (
        ["predict", "FIT", "new.csv", "--draws", "FIT/draws.nc"],
        "draws.nc",
    ),
    "effects -o OUTDIR/fixef.csv": (
        ["effects", "FIT", "--effect", "Days", "-o", "FIT/fixef.csv"],
        "a file of the results",
    ),
    "predict -o an unwritable folder": (
        ["predict", "FIT", "new.csv", "-o", "/proc/p.csv"],
        "can't be written",
    ),
    # job folders
    "combine: a shard that is not a zip": (["combine", "SHARD_GARBAGE"], "cannot be read"),
    "combine: shard metadata not JSON": (["combine", "SHARD_META"], "not JSON"),
    "combine: shard chain as text": (["combine", "SHARD_CHAIN"], "must be a whole number"),
    "combine: shard spec with a payload": (["combine", "SHARD_PAYLOAD"], "not allowed"),
    "combine: shard arrays of another shape": (["combine", "SHARD_SHAPE"], "not one chain of"),
    "combine: submission record a list": (["combine", "SUBMISSION"], "not a mixfit submission"),
    "kfold-collect: plan not JSON": (["kfold-collect", "KFOLD_PLAN"], "not a mixfit K-fold"),
    "kfold-collect: a fold's elpd changed": (["kfold-collect", "KFOLD_ELPD"], "run the fold"),
    # job scripts
    "submit: output with a newline": (
        ["submit", str(SLEEP), "-f", "Reaction ~ Days", "-o", "bad\nline", "--dry-run"],
        "control character",
    ),
    "submit --time garbage": (
        [
            "submit",
            str(SLEEP),
            "-f",
            "Reaction ~ Days",
            "-o",
            "sub",
            "--time",
            "garbage",
            "--dry-run",
        ],
        "--time 'garbage'",
    ),
    "submit --mem -1": (
        ["submit", str(SLEEP), "-f", "Reaction ~ Days", "-o", "sub", "--mem", "-1", "--dry-run"],
        "--mem '-1'",
    ),
    "submit --partition with a newline": (
        [
            "submit",
            str(SLEEP),
            "-f",
            "Reaction ~ Days",
            "-o",
            "sub",
            "--partition",
            "a\nb",
            "--dry-run",
        ],
        "--partition",
    ),
    # before sampling (the cmdstan guard: a case past its check exits 3, compiling nothing)
    **{
        f"fit: a response named {name}": (
            _fit(f"resp_{name}.csv", f"{name} ~ x + (1 | g)"),
            "mixfit's Stan variables",
        )
        for name in ("b", "sigma", "Intercept", "sd_1")
    },
    "fit: a NUL in a level": (_fit("nul.csv", "y ~ x + (1 | g)"), "NUL character"),
    "fit: the response its own grouping factor": (
        _fit("cc.csv", "c ~ x + (1 | c)"),
        "also the grouping factor",
    ),
    "fit --chain: OUTDIR.jobs a file": (
        _fit("cc.csv", "c ~ x", "--chains", "2", "--seed", "1", "--chain", "1"),
        "is a file",
    ),
}
if _mount_point():
    CASES["fit: -o a mount point"] = (
        ["fit", "cc.csv", "-f", "c ~ x", "-o", _mount_point(), "--force", "--backend", "cmdstan"],
        "mount point",
    )


def _shard(folder: Path) -> Path:
    return folder.parent / f"{folder.name}.jobs" / "shards" / "chain-1.npz"


def _edit_shard(path: Path, change) -> None:
    arrays = dict(np.load(path))
    meta = json.loads(str(arrays["meta"]))
    replaced = change(meta, arrays)
    arrays["meta"] = np.array(replaced if isinstance(replaced, str) else json.dumps(meta))
    np.savez(path, **arrays)


def _copy_run(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    shutil.copytree(source.parent / f"{source.name}.jobs", target.parent / f"{target.name}.jobs")
    return target


def _kfold(target: Path, elpd_rows=None) -> Path:
    """A K-fold run's job folder, written by hand: its plan and each fold's held-out elpd."""
    folds = target.parent / f"{target.name}.jobs" / "folds"
    fold_of_row = [1, 2] * 90
    spec = {
        "data": str(SLEEP),
        "formula": "Reaction ~ Days",
        "family": "gaussian",
        "factors": [],
        "priors": [],
        "sampler": {
            "chains": 1,
            "iter": 40,
            "warmup": None,
            "seed": 1,
            "adapt_delta": 0.8,
            "max_treedepth": 10,
            "parallel_chains": None,
            "threads_per_chain": 1,
            "chain": None,
        },
        "backend": "auto",
        "output": str(target),
        "marginal": True,
        "levels": [],
        "sample_prior": "no",
        "classical": None,
        "force": False,
    }
    plan = {
        "folds": 2,
        "group": None,
        "seed": 1,
        "rows": 180,
        "fold_of_row": fold_of_row,
        "spec": spec,
    }
    folds.mkdir(parents=True)
    (folds / "kfold.json").write_text(json.dumps(plan))
    for k in (1, 2):
        (folds / f"fold-{k}").mkdir()
        rows = np.flatnonzero(np.array(fold_of_row) == k) + 1
        table = pd.DataFrame({"row": rows, "fold": k, "elpd_kfold": -4.5})
        if elpd_rows is not None and k == 2:
            table = table.iloc[:elpd_rows]
        table.to_csv(folds / f"fold-{k}" / "elpd.csv", index=False)
    return target


def _folders(fits: dict[str, Path], root: Path, run_mixfit) -> dict[str, Path]:
    folders = dict(fits)
    variants = {
        "SHARD_GARBAGE": lambda p: p.write_bytes(b"garbage"),
        "SHARD_META": lambda p: _edit_shard(p, lambda m, a: "{"),
        "SHARD_CHAIN": lambda p: _edit_shard(p, lambda m, a: m.update(chain="1")),
        "SHARD_PAYLOAD": lambda p: _edit_shard(
            p, lambda m, a: m["spec"].update(formula="y ~ np.savetxt('PWNED', y)")
        ),
        "SHARD_SHAPE": lambda p: _edit_shard(
            p, lambda m, a: a.update({"posterior:sigma": np.zeros((1, 3))})
        ),
        "SUBMISSION": lambda p: (p.parent.parent / "submission.json").write_text("[]"),
    }
    for name, change in variants.items():
        target = _copy_run(fits["SHARD"], root / name)
        change(_shard(target))
        folders[name] = target
    folders["KFOLD_PLAN"] = _kfold(root / "kfold_plan")
    (root / "kfold_plan.jobs" / "folds" / "kfold.json").write_text("{")
    folders["KFOLD_ELPD"] = _kfold(root / "kfold_elpd", elpd_rows=10)
    two = root / "two_draws"
    done = run_mixfit(
        "fit",
        SLEEP,
        "-f",
        "Reaction ~ Days",
        "-o",
        two,
        "--chains",
        "1",
        "--iter",
        "4",
        "--warmup",
        "2",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    folders["TWO_DRAWS"] = two
    for name, (file, change) in CORRUPTIONS.items():
        target = root / f"bad-{len(folders)}"
        shutil.copytree(fits["FIT"], target)
        change(target / file)
        folders[name] = target
    return folders


def snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def catalogue(fits, run_mixfit, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("readback-folders")
    folders = _folders(fits, root, run_mixfit)
    before = snapshot(root)
    jobs, cwds = [], {}
    for name in [*FOLDER_CASES, *CASES]:
        cwd = tmp_path_factory.mktemp("readback-case")
        for file, text in DATA_FILES.items():
            (cwd / file).write_text(text)
        (cwd / "out.jobs").write_text("a file where the job folder goes\n")
        if name in FOLDER_CASES:
            corruption, command = FOLDER_CASES[name]
            args = [str(folders[corruption]) if a == "BAD" else a for a in COMMANDS[command]]
        else:
            args = [str(folders[a]) if a in folders else a for a in CASES[name][0]]
            args = [a.replace("FIT/", f"{folders['FIT']}/") for a in args]
        cwds[name] = cwd
        jobs.append((args, str(cwd)))
    start = {name: snapshot(cwd) for name, cwd in cwds.items()}
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["mixfit.cli", "mixfit.analysis.saved_fit", "mixfit.pipeline"])
    with context.Pool(processes=2, maxtasksperchild=1) as pool:
        results = pool.starmap(command_line_in_child, jobs, chunksize=1)
    assert snapshot(root) == before  # no folder that was read changed
    return {
        name: (result, start[name], snapshot(cwds[name]) if cwds[name].exists() else None)
        for name, result in zip(cwds, results)
    }


def _check_one_line_exit_2(result, phrase: str | None = None) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("mixfit: error:"), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(lines[0]) < 1000
    if phrase is not None:
        assert phrase in lines[0], lines[0]


@pytest.mark.parametrize("name", list(FOLDER_CASES))
def test_a_corrupted_results_folder_is_one_line_and_exit_2(catalogue, name):
    result, before, after = catalogue[name]
    _check_one_line_exit_2(result)
    assert after == before  # nothing written in the working folder (no payload file either)


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_one_line_and_exit_2(catalogue, name):
    result, before, after = catalogue[name]
    _check_one_line_exit_2(result, CASES[name][1])
    assert after == before


def test_a_planted_payload_runs_nothing(catalogue):
    """The two payloads of the issue, planted in design.json, reach no Python namespace: the
    commands refuse the folder, and no file appears anywhere they could write."""
    for name in FOLDER_CASES:
        if "payload" in name:
            result, _, after = catalogue[name]
            assert "is not allowed" in result.stderr, result.stderr
            assert not any(Path(k).name in PAYLOAD_FILES for k in after)


def test_formulae_sees_no_python_namespace():
    """Past the parser too: formulae evaluates in an empty environment, so the payloads find
    neither np nor pd (mixfit/model/formula_env.py)."""
    from mixfit.model import formulae_state

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    for rhs in ("x + np.savetxt('PWNED', x)", "pd.io.common.os.system('touch x')"):
        with pytest.raises(KeyError):
            formulae_state.build(rhs, frame)
    assert formulae_state.build("log(x) + scale(x)", frame) is not None


def in_a_process_of_its_own(args: list[str], folder: Path):
    """command_line_in_child in a fresh process: it moves into ``folder``, sets variables and
    points file descriptors 1 and 2 at files, which must not happen to the test's own process."""
    with multiprocessing.get_context("forkserver").Pool(1) as pool:
        return pool.apply(command_line_in_child, (args, str(folder)))


def test_outputs_are_written_through_fifos_devices_and_links(fits, tmp_path):
    """A FIFO or /dev/null is written into, a link's file replaced with the link kept; none of
    them becomes a regular file of mixfit's."""
    import threading

    (tmp_path / "new.csv").write_text(DATA_FILES["new.csv"])
    (tmp_path / "real.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    os.mkfifo(tmp_path / "fifo")
    received = []
    reader = threading.Thread(target=lambda: received.append((tmp_path / "fifo").read_text()))
    reader.start()
    fit = str(fits["FIT"])
    for target in ("fifo", "link.csv", os.devnull):
        result = in_a_process_of_its_own(["predict", fit, "new.csv", "-o", target], tmp_path)
        assert result.returncode == 0, result.stderr
    reader.join(timeout=60)
    assert received and received[0].startswith("Subject,Days,Estimate")
    assert (tmp_path / "link.csv").is_symlink()
    assert (tmp_path / "real.csv").read_text().startswith("Subject,Days,Estimate")
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_cache_clear_removes_nothing_a_manifest_names_outside_its_entry(tmp_path):
    cache = tmp_path / "cache"
    entry = cache / "models" / "abc"
    entry.mkdir(parents=True)
    (tmp_path / "victim").write_text("the user's\n")
    (cache / "victim").write_text("the user's\n")
    files = {"../../../victim": "0" * 64, str(tmp_path / "victim"): "0" * 64, "../../victim": "0"}
    (entry / "manifest.json").write_text(json.dumps({"files": files, "backend": "pystan"}))
    result = in_a_process_of_its_own(["cache", "clear"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "victim").read_text() == "the user's\n"
    assert (cache / "victim").read_text() == "the user's\n"
    assert (entry / "manifest.json").exists()  # not an entry mixfit wrote: left alone


def test_json_output_is_standard_json(fits):
    from mixfit.commands.common import json_text

    assert json.loads(json_text({"a": float("nan"), "b": [np.float64("inf"), 1.5]})) == {
        "a": None,
        "b": [None, 1.5],
    }
