"""``mixfit submit``: a run's chains as one SLURM job array (a chain per task), and a job that
combines their shards into OUTDIR once every task has ended.

Everything goes into the run's job folder beside OUTDIR (``OUTDIR.jobs``): the resolved spec the
tasks read (paths absolute, the seed fixed), the two batch scripts, the tasks' logs and a record
of the submission. Submitting again runs only the chains that have no shard yet, with the seed
of the first submission.
"""

from __future__ import annotations

import json
import random
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from mixfit.errors import InputError
from mixfit.hpc import slurm
from mixfit.hpc.script_values import check_path, check_resources
from mixfit.hpc.shards import SUBMISSION, identity, jobs_dir, read_shards, write_file
from mixfit.pipeline import load_engine, prepare
from mixfit.readback import records
from mixfit.spec import RunSpec


@dataclass(frozen=True)
class Resources:
    """What each task asks SLURM for; None leaves the cluster's default."""

    partition: str | None = None
    time: str | None = None  # e.g. "2:00:00"
    mem: str | None = None  # e.g. "4G"
    cpus_per_chain: int = 1
    account: str | None = None

    def __post_init__(self) -> None:
        check_resources(self.partition, self.time, self.mem, self.account)

    def directives(self) -> list[str]:
        lines = [f"#SBATCH --cpus-per-task={self.cpus_per_chain}"]
        for flag, value in (
            ("partition", self.partition),
            ("time", self.time),
            ("mem", self.mem),
            ("account", self.account),
        ):
            if value is not None:
                lines.append(f"#SBATCH --{flag}={value}")
        return lines


@dataclass
class Plan:
    """What a submission will run: the scripts, the chains, and the run's seed."""

    jobs: Path
    spec_file: str
    chain_script: str | None  # None: every chain has its shard, only the combine job runs
    combine_script: str
    chains: list[int]
    seed: int
    run: dict  # the run's identity (mixfit/hpc/shards.py)


@dataclass
class Submitted:
    array_job: str | None
    combine_job: str
    chains: list[int]
    jobs: Path


def plan(spec: RunSpec, resources: Resources, report_flags: list[str], marginal_flag: bool) -> Plan:
    """Check the model and the earlier submission, and write nothing: the submission to make."""
    if spec.output is None:
        raise InputError("no output folder given: use -o OUTDIR (or 'output' in the spec)")
    if resources.cpus_per_chain < 1:
        raise InputError(f"--cpus-per-chain must be at least 1 (got {resources.cpus_per_chain})")
    jobs = jobs_dir(spec.output)
    check_path(str(jobs), "the job folder")
    previous = _previous(jobs)
    prepared = prepare(spec)  # a bad model stops here, before anything is submitted
    seed = spec.sampler.seed
    if seed is None:
        same = previous and _without_seed(previous["identity"]) == _without_seed(identity(prepared))
        seed = previous["seed"] if same else random.randrange(2**31)
    spec = replace(spec, sampler=replace(spec.sampler, seed=seed))
    prepared = replace(prepared, spec=spec)
    # an engine that cannot run the model stops it too (loading it here also fills the cache)
    load_engine(prepared, lambda *_: None).backend.close()
    run = identity(prepared)
    shards = read_shards(spec.output)
    foreign = {c: s for c, s in shards.items() if s.identity != run}
    if foreign:
        listed = ", ".join(map(str, sorted(foreign)))
        raise InputError(
            f"{str(jobs / 'shards')!r} holds chain shards of another run (chains {listed}: "
            "another model, data, seed or settings): remove them, or use another -o"
        )
    if previous:
        still = slurm.active([j for j in (previous["array_job"], previous["combine_job"]) if j])
        if still:
            raise InputError(
                f"the earlier submission for {str(spec.output)!r} is still queued or running "
                f"(jobs {', '.join(still)}): wait for it, or cancel it with scancel"
            )
    chains = [k for k in range(1, spec.sampler.chains + 1) if k not in shards]
    flags = ["--no-marginal"] if marginal_flag else []
    chain_script, combine_script = array_scripts(
        jobs,
        Path(spec.output).resolve().name,
        resources,
        "chain",
        chains,
        ["fit", str(jobs / "spec.yaml"), "--chain", "array", *flags],
        ["combine", str(Path(spec.output).resolve()), *report_flags],
    )
    return Plan(jobs, spec_yaml(spec), chain_script, combine_script, chains, seed, run)


def submit(planned: Plan) -> Submitted:
    """Write the plan's files into the job folder and submit: the array, then the combine job."""
    jobs = planned.jobs
    jobs.mkdir(parents=True, exist_ok=True)
    write_file(jobs / "spec.yaml", planned.spec_file)
    array_job, combine_job = submit_scripts(
        jobs, "chain", planned.chain_script, planned.combine_script
    )
    record = {
        "seed": planned.seed,
        "identity": planned.run,
        "array_job": array_job,
        "combine_job": combine_job,
        "chains": planned.chains,
    }
    write_file(jobs / SUBMISSION, json.dumps(record, indent=2) + "\n")
    return Submitted(array_job, combine_job, planned.chains, jobs)


def array_scripts(
    jobs: Path,
    name: str,
    resources: Resources,
    task: str,
    tasks: list[int],
    task_args: list[str],
    final_args: list[str],
) -> tuple[str | None, str]:
    """The array job's script, one ``task`` (chain, fold) per number in ``tasks`` (None when
    there are none), and the script of the job that runs once they have all ended."""
    array = None
    if tasks:
        array = job_script(
            f"mixfit-{name}",
            resources,
            [
                f"#SBATCH --array={_ranges(tasks)}",
                f"#SBATCH --output={jobs}/logs/{task}-%a.%A.log",
                "# At the time limit SLURM sends SIGTERM: mixfit stops, writes nothing half-way and",
                f"# exits 143; the {task} then has no result and submitting again runs it again.",
            ],
            task_args,
        )
    final = job_script(
        f"mixfit-{name}-{final_args[0]}",
        replace(resources, cpus_per_chain=1),
        [
            f"#SBATCH --output={jobs}/logs/{final_args[0]}.%j.log",
            "# Submitted with --dependency=afterany:<the array job>: it runs once every task has",
            f"# ended, and fails naming the {task}s to run again if any has no result.",
        ],
        final_args,
    )
    return array, final


def submit_scripts(
    jobs: Path, task: str, array_script: str | None, final_script: str
) -> tuple[str | None, str]:
    """Write the scripts into the job folder and submit them; returns the two job ids."""
    (jobs / "logs").mkdir(parents=True, exist_ok=True)
    (jobs / "scripts").mkdir(exist_ok=True)
    array_job = None
    options: list[str] = []
    if array_script is not None:
        write_file(jobs / "scripts" / f"{task}s.sbatch", array_script)
        array_job = slurm.submit(jobs / "scripts" / f"{task}s.sbatch")
        # afterany, not afterok: the final job then also runs after a failed or cancelled task,
        # and fails naming the tasks to run again, rather than waiting forever
        options = [f"--dependency=afterany:{array_job}"]
    write_file(jobs / "scripts" / f"{task}s-final.sbatch", final_script)
    final_job = slurm.submit(jobs / "scripts" / f"{task}s-final.sbatch", *options)
    return array_job, final_job


def spec_yaml(spec: RunSpec) -> str:
    """The spec as the tasks read it: the file's keys, paths absolute, every sampler setting."""
    s = spec.sampler
    sampler = {
        "chains": s.chains,
        "iter": s.iter,
        "warmup": s.warmup,
        "seed": s.seed,
        "adapt_delta": s.adapt_delta,
        "max_treedepth": s.max_treedepth,
        "parallel_chains": s.parallel_chains,
        "threads_per_chain": s.threads_per_chain,
        "thin": s.thin,
        "init": s.init,
        "refresh": s.refresh,
    }
    values = {
        "data": str(Path(spec.data).resolve()),
        "formula": list(spec.formula) if len(spec.formula) > 1 else spec.formula[0],
        "family": spec.family,
        "factors": list(spec.factors),
        "priors": list(spec.priors),
        "levels": _levels(spec),
        "sample_prior": spec.sample_prior,
        "backend": spec.backend,
        "output": str(Path(spec.output).resolve()),
        "sampler": {k: v for k, v in sampler.items() if v is not None},
    }
    return yaml.safe_dump(values, sort_keys=False)


def _levels(spec: RunSpec) -> list | dict:
    """YAML's levels: the response's list, or with columns' orders a mapping of column -> list
    (the response's under its name)."""
    if not spec.column_levels:
        return list(spec.levels)
    out = {name: list(levels) for name, levels in spec.column_levels}
    if spec.levels:
        from mixfit.model.formulas import parse_formulas

        out[parse_formulas(spec.formula).mu.response] = list(spec.levels)
    return out


def job_script(name: str, resources: Resources, directives: list[str], args: list[str]) -> str:
    """A batch script running one mixfit command with the given #SBATCH lines."""
    command = shlex.join([sys.executable, "-m", "mixfit", *args])
    return "\n".join(
        [
            "#!/bin/bash",
            f"#SBATCH --job-name={name}",
            *resources.directives(),
            *directives,
            f"exec {command}",  # bash's exec of the one shlex-quoted command: no text is run
            "",
        ]
    )


def _ranges(numbers: list[int]) -> str:
    """1,2,3,5 -> "1-3,5": SLURM's --array syntax."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _previous(jobs: Path) -> dict | None:
    path = jobs / SUBMISSION
    return records.submission(path) if path.is_file() else None  # untrusted: checked


def _without_seed(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "seed"}
