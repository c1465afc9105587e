"""The embedded backend: PyStan 3, whose httpstan wheel ships stanc and Stan's C++ libraries.

httpstan keeps compiled models and finished fits in one cache folder
(``httpstan.cache.cache_directory``). Each run gets a private such folder, in which the compiled
model is linked from mixfit's own cache; httpstan's fit files stay private and vanish with the run,
so concurrent runs never read each other's half-written files. (Not through XDG_CACHE_HOME, which
would also move the cache of whatever else the process imports meanwhile, matplotlib's included,
into a folder about to be removed.) Temporary files of the run (httpstan's sockets, the C++
compiler's scratch files through TMPDIR, setuptools' object files) go into that folder too, so an
interrupted run leaves nothing behind once the folder is removed, and nothing in the current folder.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import types
import zlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from mixfit import interrupt
from mixfit.engines.cache import CacheEntry, model_key
from mixfit.engines.protocol import (
    SAMPLE_STATS,
    STANC_OPTIONS,
    Compiled,
    Draws,
    Meanwhile,
    Progress,
    start_thread,
)
from mixfit.errors import ToolchainError
from mixfit.spec import SamplerSettings
from mixfit.wording import counted


def unavailable() -> str | None:
    """Why this backend can't run here, or None."""
    try:
        version("pystan")
        version("httpstan")
    except PackageNotFoundError:
        return "PyStan is not installed (pip install pystan)"
    return None


def compiler() -> str | None:
    cxx = (os.environ.get("CXX") or sysconfig.get_config_var("CXX") or "c++").split()[0]
    return shutil.which(cxx)


class PyStanBackend:
    name = "pystan"

    def __init__(self) -> None:
        self._home = Path(tempfile.mkdtemp(prefix=f"mixfit-httpstan-{os.getpid()}-"))
        interrupt.register_temporary(self._home)
        # httpstan's process pool for the chains (an executor of functions, not of text)
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._saved_tmpdir_env = os.environ.get("TMPDIR")
        self._saved_tempdir = tempfile.tempdir
        (self._home / "tmp").mkdir()
        os.environ["TMPDIR"] = tempfile.tempdir = str(self._home / "tmp")

    @staticmethod
    def version() -> str:
        return f"pystan {version('pystan')}, httpstan {version('httpstan')}"

    def compile(self, code: str, data: dict, seed: int, progress: Progress) -> Compiled:
        import httpstan.cache
        import httpstan.models

        httpstan.cache.cache_directory = lambda: self._home
        model_name = httpstan.models.calculate_model_name(code)
        workdir = httpstan.cache.model_directory(model_name)
        # a built model links to the libraries of the httpstan it was built with, by path
        build_env = f"{self.version()} {httpstan.models.PACKAGE_DIR} {sys.version} {STANC_OPTIONS}"
        entry = CacheEntry(model_key(code, self.name, build_env))
        start = time.perf_counter()
        with entry.locked():
            artefacts = entry.files()
            from_cache = artefacts is not None
            if from_cache:
                workdir.mkdir(parents=True, exist_ok=True)
                for artefact in artefacts:
                    (workdir / artefact.name).symlink_to(artefact)
                progress("compile", None, "Loading the compiled model from the cache")
            else:
                if compiler() is None:
                    raise ToolchainError(
                        "no C++ compiler found: install one (e.g. 'apt-get install g++') or set CXX"
                    )
                progress("compile", None, "Compiling the Stan program (about a minute)")
            model = self._build(code, data, seed)
            if not from_cache:
                built = [p for p in workdir.iterdir() if p.is_file() and p.suffix != ".cpp"]
                entry.store(built, {"backend": self.version(), "model": model_name})
        return Compiled(model, from_cache, time.perf_counter() - start)

    def sample(
        self,
        compiled: Compiled,
        data: dict,
        settings: SamplerSettings,
        progress: Progress,
        meanwhile: Meanwhile = None,
    ) -> Draws:
        import httpstan.services_stub

        # httpstan runs each chain in a process of this pool; its size bounds parallel chains
        self._executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=settings.num_parallel,
            mp_context=multiprocessing.get_context("fork"),
            initializer=interrupt.init_worker,
        )
        # fork the workers before another thread starts: a child forked mid-import could inherit
        # a lock that nobody in it will release
        self._executor.submit(int).result()
        start_thread(meanwhile)
        httpstan.services_stub.executor = self._executor
        # httpstan gzips every message of the chains in this process's event loop before storing
        # them in its private fit file, read back once and deleted with the run: at level 0 (still
        # gzip, stored blocks) that costs a copy instead of most of a core for large outputs
        httpstan.services_stub.zlib = types.SimpleNamespace(
            compressobj=zlib.compressobj,
            Z_BEST_SPEED=zlib.Z_NO_COMPRESSION,
            MAX_WBITS=zlib.MAX_WBITS,
        )
        message = f"Sampling {counted(settings.run_chains, 'chain')}"
        stream = _ProgressStream(lambda fraction: progress("sample", fraction, message))
        progress("sample", 0.0, message)
        start = time.perf_counter()
        with contextlib.redirect_stderr(stream), contextlib.redirect_stdout(stream):
            fit = compiled.handle.sample(
                num_chains=settings.run_chains,
                num_samples=settings.num_samples,
                num_warmup=settings.num_warmup,
                num_thin=settings.thin,
                delta=settings.adapt_delta,
                max_depth=settings.max_treedepth,
                **_optional(init_radius=settings.init, refresh=settings.refresh or None),
            )
        seconds = time.perf_counter() - start
        if fit is None:  # PyStan swallows KeyboardInterrupt and returns nothing
            raise KeyboardInterrupt
        return _draws(fit, settings.run_chains, settings.draws_kept, seconds, stream.messages())

    def close(self) -> None:
        if self._executor is not None:
            if interrupt.received():  # the workers are stopped; don't wait for their chains
                interrupt.stop_children()
                self._executor.shutdown(wait=False, cancel_futures=True)
            else:
                self._executor.shutdown(wait=True)
            self._executor = None
        if self._saved_tmpdir_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = self._saved_tmpdir_env
        tempfile.tempdir = self._saved_tempdir
        shutil.rmtree(self._home, ignore_errors=True)
        interrupt.unregister_temporary(self._home)

    def _build(self, code: str, data: dict, seed: int):
        import aiohttp.client
        import httpstan.build_ext
        import httpstan.compile
        import stan

        # httpstan runs stanc without options: add ours to its command line
        httpstan.compile.subprocess = types.SimpleNamespace(run=_run_stanc)
        # setuptools' build_ext puts its object files (60-90 MB) in ./build of the current folder
        httpstan.build_ext.build_ext = types.SimpleNamespace(
            build_ext=_build_ext_into(self._home / "build")
        )

        # PyStan waits for the build through aiohttp, whose default 5-minute limit a compile on a
        # loaded machine can pass; the build has no deadline of its own, so neither does the wait
        aiohttp.client.DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30)

        captured = _ProgressStream(None)
        with tempfile.TemporaryFile(mode="w+") as compiler_output:
            try:
                with (
                    _fds_to(compiler_output),
                    contextlib.redirect_stderr(captured),
                    contextlib.redirect_stdout(captured),
                ):
                    model = stan.build(code, data=data, random_seed=seed)
            except (ValueError, RuntimeError) as exc:
                compiler_output.seek(0)
                output = captured.text() + compiler_output.read()
                cause = _import_failure(code)
                if cause is not None:  # built, but the compiled model does not load here
                    raise ToolchainError(
                        f"PyStan's compiled model does not load here: {_one_line(cause)}"
                    ) from cause
                raise ToolchainError(_build_failure(str(exc), output)) from exc
        if model is None:
            raise KeyboardInterrupt
        return model


def _build_ext_into(folder: Path) -> type:
    """setuptools' build_ext command, with its object files in ``folder`` instead of ./build."""
    import setuptools.command.build_ext

    class BuildExt(setuptools.command.build_ext.build_ext):
        def finalize_options(self) -> None:
            self.build_temp = str(folder)  # finalize_options fills in only what is unset
            super().finalize_options()

    return BuildExt


@contextlib.contextmanager
def _fds_to(sink):
    """Send this process's stdout and stderr file descriptors to ``sink``: the C++ compiler,
    run by httpstan in a subprocess, writes straight to them."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _run_stanc(args: list, **kwargs) -> subprocess.CompletedProcess:
    # httpstan gives stanc one second, which a busy machine exceeds (TimeoutExpired, a failed
    # build); stanc ends on its own, and an interrupted fit stops it with its other children
    kwargs.pop("timeout", None)
    return subprocess.run([args[0], *STANC_OPTIONS, *args[1:]], check=False, **kwargs)


def _optional(**settings) -> dict:
    """The settings given, for a call whose own defaults stand for the others."""
    return {name: value for name, value in settings.items() if value is not None}


def _draws(fit, chains: int, draws: int, seconds: float, messages: list[str]) -> Draws:
    def by_chain(values: np.ndarray, dims: list[int]) -> np.ndarray:
        # PyStan puts draws last, the chains of each draw together; mixfit wants (chain, draw, *dims)
        values = values.reshape(*dims, draws, chains)  # sizes given: a parameter may be empty
        return np.moveaxis(values, [-1, -2], [0, 1])

    posterior = {
        name: by_chain(np.asarray(fit[name]), list(dims))
        for name, dims in zip(fit.param_names, fit.dims)
    }
    stats = {ours: by_chain(np.asarray(fit[stan]), []) for stan, ours in SAMPLE_STATS.items()}
    stats["diverging"] = stats["diverging"].astype(bool)
    return Draws(posterior, stats, seconds, messages)


def _import_failure(code: str) -> Exception | None:
    """Why httpstan could not import the model it built, if that was what failed: httpstan then
    answers PyStan with a page PyStan can't read ("unexpected content after document"), and the
    real cause (e.g. ``undefined symbol: _PyThreadState_UncheckedGet``) is lost."""
    import httpstan.models

    try:
        httpstan.models.import_services_extension_module(httpstan.models.calculate_model_name(code))
    except KeyError:  # nothing was built: the build itself failed
        return None
    except Exception as exc:  # noqa: BLE001  (whatever the import raised is the cause)
        return exc
    return None


def _one_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _build_failure(error: str, output: str) -> str:
    if "Syntax error" in error or "Semantic error" in error:
        detail = " ".join(line.strip() for line in output.splitlines() if line.strip())
        return f"Stan could not compile the program ({error}): {detail[-400:]}"
    if "error:" in error and ("g++" in error or "gcc" in error or ".cpp" in error):
        first = next((ln for ln in error.splitlines() if "error:" in ln), error.splitlines()[0])
        return f"the C++ compiler failed to build the Stan program: {first.strip()}"
    built = re.search(r"Exception while building model extension module: `(.*?)`", error)
    if built:  # httpstan's message ends in a traceback: keep the exception it names
        return f"the C++ build of the Stan program failed: {built.group(1)}"
    lines = [ln for ln in error.splitlines() if ln.strip()]
    return f"Stan failed: {lines[-1] if lines else error}"


class _ProgressStream(io.TextIOBase):
    """Stands in for stdout/stderr while PyStan talks: keeps its messages, reports its progress."""

    _percent = re.compile(r"Sampling:\s+(\d+)%")

    def __init__(self, report):
        self._report = report
        self._chunks: list[str] = []

    def write(self, text: str) -> int:
        self._chunks.append(text)
        match = self._percent.search(text)
        if match and self._report:
            self._report(int(match.group(1)) / 100)
        return len(text)

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        return "".join(self._chunks)

    def messages(self) -> list[str]:
        return [ln.strip() for ln in self.text().splitlines() if ln.strip()]
