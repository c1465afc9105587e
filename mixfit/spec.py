"""The run specification: a YAML file and/or command-line flags, merged and checked.

Flags given on the command line override the file's values; ``priors`` and ``factors`` from flags
are added to the file's, and a flag prior for the same target as a file prior replaces it; a
flag's order of a column (``--levels "dose=low,mid,high"``) replaces the file's for that column.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from mixfit.errors import InputError

TOP_KEYS = {
    "data",
    "formula",
    "family",
    "factors",
    "priors",
    "sampler",
    "backend",
    "output",
    "levels",
    "sample_prior",
    "classical",
    "algorithm",
}
# as brms's algorithm =: NUTS, or a normal approximation (mixfit/engines/approximate.py, stanli only)
ALGORITHMS = ("sampling", "pathfinder", "laplace")
APPROXIMATING_BACKENDS = ("auto", "stanli")
SAMPLE_PRIOR = ("no", "only")
CLASSICAL = {"reml": "REML", "ml": "ML"}  # YAML classical: true (REML), reml or ml
SAMPLER_KEYS = {
    "chains",
    "iter",
    "warmup",
    "seed",
    "adapt_delta",
    "max_treedepth",
    "parallel_chains",
    "threads_per_chain",
    "thin",
    "init",
    "refresh",
}
BACKENDS = ("auto", "stanli", "cmdstan", "pystan", "nutpie")
STAN_INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class SamplerSettings:
    chains: int = 4
    iter: int = 2000  # warmup included, as in brms
    warmup: int | None = None  # default iter // 2
    seed: int | None = None
    adapt_delta: float = 0.8
    max_treedepth: int = 10
    parallel_chains: int | None = None  # default: the cores available
    threads_per_chain: int = 1  # within-chain threads (reduce_sum), where the engine has them
    chain: int | None = None  # run only this chain (1..chains) of the run, as an HPC job does
    thin: int = 1  # keep every thin-th draw after warmup, as brms's thin
    init: float | None = None  # inits uniform in (-init, init) unconstrained; 0: all zero (Stan: 2)
    refresh: int | None = None  # iterations between progress reports (0: none; default ~200 each)

    @property
    def num_warmup(self) -> int:
        return self.iter // 2 if self.warmup is None else self.warmup

    @property
    def num_samples(self) -> int:
        return self.iter - self.num_warmup

    @property
    def draws_kept(self) -> int:
        """Draws each chain keeps after warmup: every ``thin``-th, the first included."""
        return -(-self.num_samples // self.thin)

    @property
    def run_chains(self) -> int:
        """The chains this process samples: all of them, or the one chain of a chain job."""
        return self.chains if self.chain is None else 1

    @property
    def stream_seed(self) -> int | None:
        """The seed for an engine that cannot choose a chain's random stream: the run's seed, or
        for one chain alone a seed of its own drawn from (seed, chain): chains never share one."""
        if self.chain is None or self.seed is None:
            return self.seed
        import numpy as np

        return int(np.random.SeedSequence([self.seed, self.chain]).generate_state(1)[0] >> 1)

    @property
    def num_parallel(self) -> int:
        return max(1, min(self.run_chains, self.parallel_chains or available_cores()))

    def check(self) -> None:
        for name in ("chains", "iter", "warmup", "max_treedepth", "parallel_chains", "thin"):
            value = getattr(self, name)
            if value is not None and value > STAN_INT_MAX:
                raise InputError(f"{name} must be below 2^31 (Stan's integers; got {value})")
        for name in ("chains", "iter", "max_treedepth"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if self.thin < 1:
            raise InputError(f"thin must be at least 1 (got {self.thin})")
        if self.init is not None and not 0 <= self.init < float("inf"):
            raise InputError(f"init must be 0 or a positive radius (got {self.init})")
        if self.refresh is not None and self.refresh < 0:
            raise InputError(f"refresh must be at least 0 (got {self.refresh})")
        if self.threads_per_chain < 1:
            raise InputError(f"threads_per_chain must be at least 1 (got {self.threads_per_chain})")
        if self.chain is not None and not 1 <= self.chain <= self.chains:
            raise InputError(f"chain must be between 1 and {self.chains} (got {self.chain})")
        if self.parallel_chains is not None and self.parallel_chains < 1:
            raise InputError(f"parallel_chains must be at least 1 (got {self.parallel_chains})")
        if self.warmup is not None and not 0 <= self.warmup < self.iter:
            raise InputError(
                f"warmup must be at least 0 and below iter (got warmup {self.warmup}, "
                f"iter {self.iter})"
            )
        if not 0 < self.adapt_delta < 1:
            raise InputError(f"adapt_delta must be between 0 and 1 (got {self.adapt_delta})")
        if self.seed is not None and not 0 <= self.seed < 2**31:
            raise InputError(f"seed must be between 0 and 2^31 - 1 (got {self.seed})")


def available_cores() -> int:
    """The cores this process may use: a SLURM job's allocation (SLURM_CPUS_PER_TASK) where there
    is one, since a job without CPU binding still sees every core of the node."""
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


@dataclass(frozen=True)
class RunSpec:
    data: Path
    formula: tuple[str, ...]  # the mean's formula, then one per family parameter with a formula
    family: str | dict = "gaussian"
    factors: tuple[str, ...] = ()
    priors: tuple = ()  # strings ("normal(0, 5) : b") or mappings, read by mixfit.model.priors
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    backend: str = "auto"
    output: Path | None = None
    marginal: bool = True  # integrate group-level effects out where the model allows it
    levels: tuple[str, ...] = ()  # ordinal response: its categories, lowest first
    # --levels "dose=low,mid,high": a text column's order, lowest first, for mo(dose)
    column_levels: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sample_prior: str = "no"  # "only": sample from the priors alone (a prior predictive check)
    classical: str | None = None  # "REML" or "ML": also fit the model as lme4 does
    force: bool = False  # write into an OUTDIR that is not a results folder (keeping its files)
    algorithm: str = "sampling"  # or "pathfinder", "laplace": an approximate posterior

    @property
    def approximate(self) -> bool:
        return self.algorithm != "sampling"

    def __post_init__(self) -> None:
        if isinstance(self.formula, str):  # one formula, as before distributional formulas
            object.__setattr__(self, "formula", (self.formula,))


# A spec is a few lines; these bound what a hostile one can make mixfit read or build.
SPEC_BYTES = 1 << 20
SPEC_WEIGHT = 1_000_000  # characters plus nodes, with every alias expanded


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's booleans: only true and false are, so a level or a
    column named no, yes, on or off stays that text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _read_yaml(path: Path) -> tuple[object, dict]:
    """The document, and each top-level key's value with every scalar as the text written."""
    try:
        with path.open("rb") as fh:
            data = fh.read(SPEC_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read spec {str(path)!r}: {exc.strerror}") from None
    if len(data) > SPEC_BYTES:
        raise InputError(
            f"spec {str(path)!r} is larger than {SPEC_BYTES >> 20} MB: not a spec file"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"spec {str(path)!r} is not UTF-8 text") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_weight(node, path)
        return loader.construct_document(node), _written(node)
    except RecursionError:
        raise InputError(f"spec {str(path)!r} is nested too deeply") from None
    finally:
        loader.dispose()


def _check_weight(root: yaml.Node, path: Path) -> None:
    """Aliases let a few lines stand for billions of values ("billion laughs"): add up what the
    document holds with every alias expanded, and stop at SPEC_WEIGHT."""
    weight: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if id(node) in weight:
            continue
        children = _children(node)
        if children_done or not children:
            open_nodes.discard(id(node))
            own = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
            weight[id(node)] = 1 + own + sum(weight[id(c)] for c in children)
            if weight[id(node)] > SPEC_WEIGHT:
                raise InputError(
                    f"spec {str(path)!r} expands to more than {SPEC_WEIGHT:,} values and "
                    "characters (through its aliases): not a spec file"
                )
            continue
        if id(node) in open_nodes:
            raise InputError(f"spec {str(path)!r} has an alias that contains itself")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in weight)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _written(root: yaml.Node) -> dict:
    """Top-level keys' values with scalars as written (``01`` stays ``01``, ``no`` stays ``no``)."""

    def text(node):
        if isinstance(node, yaml.SequenceNode):
            return [text(n) for n in node.value]
        if isinstance(node, yaml.MappingNode):
            return {
                k.value if isinstance(k, yaml.ScalarNode) else "": text(v) for k, v in node.value
            }
        return node.value

    if not isinstance(root, yaml.MappingNode):
        return {}
    return {k.value: text(v) for k, v in root.value if isinstance(k, yaml.ScalarNode)}


def load_spec_file(path: Path) -> dict:
    """Read a YAML spec safely (no Python objects) and resolve its paths against its folder."""
    try:
        raw, written = _read_yaml(path)
    except yaml.constructor.ConstructorError as exc:
        tag = re.search(r"tag '([^']*)'", str(exc.problem))
        if tag is None:  # not a tag: a mapping key that is a list or a mapping, say
            raise InputError(f"spec {str(path)!r}: {exc.problem}") from None
        raise InputError(
            f"spec {str(path)!r}: the tag {tag.group(1) if tag else '?'!r} is not allowed "
            "(mixfit reads plain YAML: no tags that build Python objects)"
        ) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"spec {str(path)!r} is not valid YAML{line}: {problem}") from None
    if not isinstance(raw, dict):
        raise InputError(f"spec {str(path)!r} must be a mapping of keys such as data and formula")
    unknown = sorted(set(map(str, raw)) - TOP_KEYS)
    if unknown:
        raise InputError(
            f"spec {str(path)!r}: unknown key {unknown[0]!r} (known: {', '.join(sorted(TOP_KEYS))})"
        )
    values: dict = {}
    for key in ("data", "output"):
        if key in raw:
            if not _typed(raw[key], str, key).strip():
                raise InputError(f"spec {str(path)!r}: {key} is empty")
            if "\x00" in raw[key]:
                raise InputError(f"spec {str(path)!r}: {key} holds a NUL character")
            values[key] = path.parent / raw[key]
    if "formula" in raw:  # one formula, or a list: the mean's, then each family parameter's
        formulas = raw["formula"]
        formulas = [formulas] if isinstance(formulas, str) else formulas
        if not isinstance(formulas, list):
            raise InputError(
                f"spec key 'formula' must be text, or a list of texts (got {formulas!r})"
            )
        if not formulas:
            raise InputError(f"spec {str(path)!r}: formula is an empty list")
        values["formula"] = tuple(_typed(f, str, "formula") for f in formulas)
    if "family" in raw:
        values["family"] = _typed(raw["family"], (str, dict), "family")
    if "backend" in raw:
        values["backend"] = _typed(raw["backend"], str, "backend")
    # column names, priors' targets and levels are names: the text written, never a YAML number
    if "factors" in raw:
        _typed(raw["factors"], (str, list), "factors")
        factors = written["factors"]
        factors = factors if isinstance(factors, list) else [factors]
        values["factors"] = tuple(_typed(f, str, "factors") for f in factors)
    if "priors" in raw:
        _typed(raw["priors"], list, "priors")
        values["priors"] = tuple(_typed(p, (str, dict), "priors") for p in written["priors"])
    if "sampler" in raw:
        values["sampler"] = _sampler(_typed(raw["sampler"], dict, "sampler"))
    if "levels" in raw:
        values |= _levels(written["levels"])
    if "sample_prior" in raw:
        values["sample_prior"] = _typed(raw["sample_prior"], str, "sample_prior")
    if "classical" in raw:
        values["classical"] = _classical(raw["classical"])
    if "algorithm" in raw:
        values["algorithm"] = _typed(raw["algorithm"], str, "algorithm")
    return values


def _levels(written) -> dict:
    """YAML ``levels``: a list (or "a,b,c") orders the response; a mapping of column -> list (or
    "a,b,c") orders each column, as ``--levels "dose=low,mid,high"`` does."""
    if not isinstance(written, dict):
        return {"levels": _level_list(written, "levels")}
    columns = []
    for name, levels in written.items():
        if not name.strip():
            raise InputError("spec key 'levels' must map column names to their levels")
        columns.append((name.strip(), _level_list(levels, f"levels.{name.strip()}")))
    return {"column_levels": check_column_levels(tuple(columns))}


def _level_list(written, name: str) -> tuple[str, ...]:
    levels = written.split(",") if isinstance(written, str) else written
    levels = _typed(levels, list, name)
    return tuple(_typed(v, str, name).strip() for v in levels)


def parse_levels_flags(texts: tuple[str, ...]) -> dict:
    """``--levels`` (repeatable): "a,b,c" orders the response, "COLUMN=a,b,c" a column."""
    response: tuple[str, ...] = ()
    columns = []
    for text in texts:
        name, sep, rest = text.partition("=")
        levels = tuple(v.strip() for v in (rest if sep else text).split(","))
        if sep:
            if not name.strip():
                raise InputError(
                    f'--levels {text[:100]!r}: no column before "=" (--levels "dose=low,mid,high")'
                )
            columns.append((name.strip(), levels))
        elif response:
            raise InputError(
                "--levels without a column name orders the response: give it once "
                '(a column\'s order as --levels "dose=low,mid,high")'
            )
        else:
            response = levels
    return {"levels": response, "column_levels": check_column_levels(tuple(columns))}


def check_column_levels(
    columns: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each column once, with at least two distinct levels, none empty."""
    names = [name for name, _ in columns]
    for name, levels in columns:
        if names.count(name) > 1:
            raise InputError(f"--levels gives the order of {name!r} twice: give it once")
        if len(levels) < 2 or len(set(levels)) != len(levels) or "" in levels:
            raise InputError(
                f"the levels of {name!r} must be at least two distinct names, lowest first "
                f"(got {', '.join(levels)[:200]!r})"
            )
    return columns


def build_spec(file_values: dict, flags: dict) -> RunSpec:
    """Merge a spec file's values with flags (flags win) into a checked RunSpec."""
    sampler_flags = {k: v for k, v in flags.pop("sampler", {}).items() if v is not None}
    sampler = file_values.pop("sampler", {})
    merged = {**file_values}
    if flags.get("classical") is True:  # --classical: on, by the spec's method or REML
        flags["classical"] = merged.get("classical") or "REML"
    for key, value in flags.items():
        if value is None or value == ():
            continue
        if key in {"factors", "priors"}:
            merged[key] = tuple(merged.get(key, ())) + tuple(value)
        elif key == "column_levels":  # per column: a flag's order replaces the file's
            merged[key] = tuple((dict(merged.get(key, ())) | dict(value)).items())
        else:
            merged[key] = value
    for key in ("data", "formula"):
        if key not in merged:
            raise InputError(f"no {key} given (a spec file key or a command-line argument)")
    if merged.get("sample_prior", "no") not in SAMPLE_PRIOR:
        raise InputError(
            f"sample_prior must be one of {', '.join(SAMPLE_PRIOR)} (got {merged['sample_prior']!r})"
        )
    if merged.get("classical") and merged.get("sample_prior") == "only":
        raise InputError("a classical fit has no posterior to compare with under sample_prior only")
    if merged.get("backend", "auto") not in BACKENDS:
        raise InputError(f"unknown backend {merged['backend']!r} (choose: {', '.join(BACKENDS)})")
    settings = replace(SamplerSettings(), **{**sampler, **sampler_flags})
    settings.check()
    _check_algorithm(merged, settings)
    return RunSpec(sampler=settings, **merged)


def _check_algorithm(merged: dict, settings: SamplerSettings) -> None:
    algorithm = merged.get("algorithm", "sampling")
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r} (choose: {', '.join(ALGORITHMS)})")
    if algorithm == "sampling":
        return
    backend = merged.get("backend", "auto")
    if backend not in APPROXIMATING_BACKENDS:
        raise InputError(
            f"--algorithm {algorithm} runs on the stanli backend only ({backend} samples with NUTS)"
        )
    if settings.num_samples < 10:
        raise InputError(
            f"--algorithm {algorithm} draws iter - warmup times: {settings.num_samples} is too few "
            "(at least 10)"
        )


def _sampler(raw: dict) -> dict:
    unknown = sorted(set(map(str, raw)) - SAMPLER_KEYS)
    if unknown:
        raise InputError(
            f"sampler: unknown key {unknown[0]!r} (known: {', '.join(sorted(SAMPLER_KEYS))})"
        )
    return {
        key: _typed(value, float if key in {"adapt_delta", "init"} else int, f"sampler.{key}")
        for key, value in raw.items()
    }


def _classical(value) -> str | None:
    if isinstance(value, bool):
        return "REML" if value else None
    if not isinstance(value, str) or value.lower() not in CLASSICAL:
        raise InputError(f"spec key 'classical' must be true, false, REML or ML (got {value!r})")
    return CLASSICAL[value.lower()]


def _typed(value, kind, name: str):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, kind):
        wanted = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        wanted = {
            "str": "text",
            "dict": "a mapping",
            "list": "a list",
            "int": "a whole number",
            "float": "a number",
        }.get(wanted, wanted)
        raise InputError(f"spec key {name!r} must be {wanted} (got {value!r})")
    return value
