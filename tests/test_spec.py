"""The run spec: YAML file and flags merged, paths resolved, settings checked."""

from pathlib import Path

import pytest

from mixfit.errors import InputError
from mixfit.spec import SamplerSettings, build_spec, load_spec_file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def flags(**values) -> dict:
    sampler = values.pop("sampler", {})
    return {
        "formula": None,
        "family": None,
        "factors": (),
        "priors": (),
        "sampler": sampler,
        **values,
    }


def test_paths_are_relative_to_the_file(tmp_path):
    values = load_spec_file(write(tmp_path, "data: d/x.csv\noutput: out\nformula: y ~ x\n"))
    assert values["data"] == tmp_path / "d" / "x.csv"
    assert values["output"] == tmp_path / "out"


def test_flags_override_the_file_and_add_priors_and_factors(tmp_path):
    values = load_spec_file(
        write(
            tmp_path,
            "data: x.csv\nformula: y ~ x\nfamily: poisson\nfactors: YEAR\n"
            "priors: ['normal(0, 1) : b']\nsampler: {chains: 2, iter: 500, adapt_delta: 0.9}\n",
        )
    )
    spec = build_spec(
        values,
        flags(
            family="gaussian",
            factors=("site",),
            priors=("exponential(1) : sd",),
            sampler={"chains": 3, "iter": None},
        ),
    )
    assert spec.family == "gaussian" and spec.formula == ("y ~ x",)
    assert spec.factors == ("YEAR", "site")
    assert spec.priors == ("normal(0, 1) : b", "exponential(1) : sd")
    assert (spec.sampler.chains, spec.sampler.iter, spec.sampler.adapt_delta) == (3, 500, 0.9)


def test_sampler_defaults():
    settings = SamplerSettings()
    assert (settings.chains, settings.iter, settings.num_warmup, settings.num_samples) == (
        4,
        2000,
        1000,
        1000,
    )
    assert SamplerSettings(iter=300, warmup=100).num_samples == 200


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("data: x.csv\nformula: [unclosed\n", "not valid YAML at line"),
        ("data: x.csv\nformla: y ~ x\n", "unknown key 'formla'"),
        ("data: x.csv\nsampler: {chain: 2}\n", "unknown key 'chain'"),
        ("data: x.csv\nsampler: {chains: two}\n", "'sampler.chains' must be a whole number"),
        ("- just\n- a list\n", "must be a mapping"),
        ("data: 3\n", "'data' must be text"),
        ("priors: normal(0, 1)\n", "'priors' must be a list"),
    ],
)
def test_bad_spec_files(tmp_path, text, phrase):
    with pytest.raises(InputError, match=phrase.replace("[", r"\[")):
        load_spec_file(write(tmp_path, text))


def test_missing_spec_file(tmp_path):
    with pytest.raises(InputError, match="cannot read spec"):
        load_spec_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "sampler, phrase",
    [
        ({"chains": 0}, "chains must be at least 1"),
        ({"iter": 100, "warmup": 100}, "warmup must be at least 0 and below iter"),
        ({"warmup": -1}, "warmup must be"),
        ({"adapt_delta": 1.5}, "adapt_delta must be between 0 and 1"),
        ({"max_treedepth": 0}, "max_treedepth must be at least 1"),
        ({"parallel_chains": 0}, "parallel_chains must be at least 1"),
        ({"seed": -1}, "seed must be between"),
    ],
)
def test_bad_sampler_settings(sampler, phrase):
    with pytest.raises(InputError, match=phrase):
        build_spec({}, flags(data=Path("x.csv"), formula="y ~ x", sampler=sampler))


def test_missing_formula_and_unknown_backend():
    with pytest.raises(InputError, match="no formula given"):
        build_spec({}, flags(data=Path("x.csv")))
    with pytest.raises(InputError, match="unknown backend 'stan'"):
        build_spec({"backend": "stan"}, flags(data=Path("x.csv"), formula="y ~ x"))


def test_yaml_names_keep_the_text_written(tmp_path):
    """YAML 1.1 reads no, yes, on and off as booleans and 01 as 1: level and column names stay
    as the user wrote them."""
    values = load_spec_file(
        write(
            tmp_path,
            "data: x.csv\nformula: y ~ x\nlevels: [no, perhaps, yes, 01]\nfactors: [on, 1.0]\n"
            "priors: [{prior: 'normal(0, 1)', class: b, coef: off}]\nsample_prior: no\n",
        )
    )
    assert values["levels"] == ("no", "perhaps", "yes", "01")
    assert values["factors"] == ("on", "1.0")
    assert values["priors"] == ({"prior": "normal(0, 1)", "class": "b", "coef": "off"},)
    assert values["sample_prior"] == "no"


def test_yaml_levels_as_one_string(tmp_path):
    values = load_spec_file(write(tmp_path, "levels: no, perhaps ,yes\n"))
    assert values["levels"] == ("no", "perhaps", "yes")


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("a: &a [1, 2]\nb: &b [*a, *a]\nlevels: *b\n", None),  # a few aliases are fine
        (
            "l0: &l0 ["
            + ", ".join(["lol"] * 9)
            + "]\n"
            + "".join(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]\n" for k in range(1, 8))
            + "levels: *l7\n",
            "expands to more than 1,000,000",
        ),
        ("formula: &f [*f]\n", "an alias that contains itself"),
        ("formula: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
        ("output: ''\ndata: x.csv\n", "output is empty"),
    ],
)
def test_yaml_that_would_exhaust_memory_is_refused(tmp_path, text, phrase):
    path = write(tmp_path, text)
    if phrase is None:
        with pytest.raises(InputError, match="unknown key 'a'"):  # read fine, then checked
            load_spec_file(path)
    else:
        with pytest.raises(InputError, match=phrase):
            load_spec_file(path)


def test_spec_larger_than_the_limit(tmp_path, monkeypatch):
    from mixfit import spec

    monkeypatch.setattr(spec, "SPEC_BYTES", 100)
    with pytest.raises(InputError, match="larger than"):
        load_spec_file(write(tmp_path, "data: x.csv\n#" + "x" * 200 + "\n"))


def test_sampler_counts_past_stans_integers():
    with pytest.raises(InputError, match="iter must be below 2"):
        build_spec({}, flags(data=Path("x.csv"), formula="y ~ x", sampler={"iter": 2**31}))


def test_yaml_levels_as_a_mapping_of_columns(tmp_path):
    """levels: {column: [...]} orders each column (mo() of a text column, issue 24), a list or
    "a, b" each, names as written; a flag's order of a column replaces the file's."""
    values = load_spec_file(
        write(
            tmp_path,
            "data: x.csv\nformula: y ~ mo(dose)\nlevels: {dose: [no, 01, yes], y: 'a, b'}\n",
        )
    )
    assert values["column_levels"] == (("dose", ("no", "01", "yes")), ("y", ("a", "b")))
    assert "levels" not in values
    spec = build_spec(values, flags(column_levels=(("dose", ("x", "y")), ("z", ("p", "q")))))
    assert spec.column_levels == (("dose", ("x", "y")), ("y", ("a", "b")), ("z", ("p", "q")))
    assert spec.levels == ()


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("levels: {dose: [low, [mid]]}\n", "'levels.dose' must be text"),
        ("levels: {dose: 3}\n", "the levels of 'dose' must be at least two distinct names"),
        ("levels: {dose: [low, low]}\n", "at least two distinct names"),
        ("levels: {dose: {low: 1}}\n", "'levels.dose' must be a list"),
        ("levels: {'': [a, b]}\n", "must map column names to their levels"),
        ("levels: {[a]: [a, b]}\n", "found unhashable key"),
    ],
)
def test_bad_yaml_levels_mappings(tmp_path, text, phrase):
    with pytest.raises(InputError, match=phrase.replace("[", r"\[")):
        load_spec_file(write(tmp_path, text))


def test_levels_flags():
    from mixfit.spec import parse_levels_flags

    assert parse_levels_flags(("a, b", "dose = low,mid , high")) == {
        "levels": ("a", "b"),
        "column_levels": (("dose", ("low", "mid", "high")),),
    }
    assert parse_levels_flags(()) == {"levels": (), "column_levels": ()}
    for texts, phrase in (
        (("a,b", "c,d"), "orders the response: give it once"),
        (("x=a,b", "x=b,a"), "the order of 'x' twice"),
        (("=a,b",), "no column before"),
        (("x=",), "at least two distinct names"),
    ):
        with pytest.raises(InputError, match=phrase):
            parse_levels_flags(texts)


def test_column_levels_survive_the_job_records(tmp_path):
    """A chain job's shard and a SLURM task's spec.yaml keep the columns' orders (and the
    response's, under its name in YAML's mapping)."""
    import yaml

    from mixfit.hpc.shards import spec_from_record, spec_record
    from mixfit.hpc.submit import spec_yaml

    spec = build_spec(
        {},
        flags(
            data=tmp_path / "x.csv",
            formula="y ~ mo(dose)",
            output=tmp_path / "out",
            levels=("a", "b"),
            column_levels=(("dose", ("low", "high")),),
        ),
    )
    back = spec_from_record(json_round_trip(spec_record(spec)))
    assert (back.levels, back.column_levels) == (spec.levels, spec.column_levels)
    text = spec_yaml(spec)
    assert yaml.safe_load(text)["levels"] == {"dose": ["low", "high"], "y": ["a", "b"]}
    (tmp_path / "spec.yaml").write_text(text)
    values = load_spec_file(tmp_path / "spec.yaml")
    assert values["column_levels"] == (("dose", ("low", "high")), ("y", ("a", "b")))


def json_round_trip(value):
    import json

    return json.loads(json.dumps(value))
