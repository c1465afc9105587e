"""What a fit imports: ArviZ (and matplotlib with it) and the classical fit's modules cost a warm
fit more than its sampling, so a fit that uses none of them loads none of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parents[1] / "sample_data" / "sleepstudy.csv"
HEAVY = ("arviz", "matplotlib", "mixfit.classical")

# runs a fit in this process, then prints the heavy packages (mixfit's: subpackages) it loaded;
# run_command_line is what ``mixfit`` runs, less the signal handling and the os._exit after it
PROGRAM = """
import json, sys
from mixfit.cli import run_command_line
arguments, heavy = json.loads(sys.argv[1]), tuple(json.loads(sys.argv[2]))
try:
    run_command_line(arguments)
except SystemExit as stop:
    assert not stop.code, stop.code
loaded = {".".join(m.split(".")[:2]) if m.startswith("mixfit") else m.split(".")[0]
          for m in sys.modules if m.startswith(heavy)}
print(json.dumps(sorted(loaded)))
"""


def _heavy_imports(tmp_path: Path, *flags: str, heavy=HEAVY, plots=False) -> list[str]:
    arguments = ["fit", str(DATA), "-f", "Reaction ~ Days + (1 | Subject)", "-o"]
    arguments += [str(tmp_path / "out"), "--chains", "2", "--iter", "300", *flags]
    arguments += [] if plots else ["--no-plots"]
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(arguments), json.dumps(heavy)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_fit_without_plots_or_a_classical_fit_imports_neither(tmp_path):
    assert _heavy_imports(tmp_path) == []
    assert (tmp_path / "out" / "draws.nc").is_file()


def test_a_fit_with_plots_imports_matplotlib_but_neither_arviz_nor_scipy_stats(tmp_path):
    # the plots' densities are R's density() in numpy, the priors' over scipy.special
    loaded = _heavy_imports(tmp_path, heavy=("arviz", "matplotlib", "scipy.stats"), plots=True)
    assert loaded == ["matplotlib"]  # "scipy" would be there for any scipy.stats module
    assert (tmp_path / "out" / "plots" / "sd_prior.png").is_file()


def test_a_classical_fit_imports_its_modules(tmp_path):
    assert "mixfit.classical" in _heavy_imports(tmp_path, "--classical")


# formulae, imported through mixfit.model, with scipy.interpolate left until a spline needs it
SPLINE = """
import sys
import numpy as np, pandas as pd
import scipy.sparse
linalg_by_sparse = "scipy.sparse.linalg" in sys.modules  # scipy 1.15's sparse loads it itself
import mixfit.model
import formulae
assert "scipy.interpolate" not in sys.modules
assert linalg_by_sparse or "scipy.sparse.linalg" not in sys.modules
frame = pd.DataFrame({"y": np.arange(40.0), "x": np.linspace(0, 1, 40) ** 2})
basis = np.asarray(formulae.design_matrices("y ~ bs(x, df=4)", frame).common)
assert basis.shape == (40, 5) and np.isfinite(basis).all() and np.ptp(basis[:, 1:]) > 0.1
assert hasattr(sys.modules["scipy.interpolate"], "BSpline")  # scipy's own, loaded on first use
"""


def test_formulae_loads_scipy_interpolate_only_when_a_spline_is_evaluated():
    subprocess.run([sys.executable, "-c", SPLINE], check=True)


# a formulae that asks scipy.interpolate for a name the stand-in lacks (here: CubicSpline) is
# imported with scipy's own modules instead
ASKS_FOR_MORE = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("deferred", sys.argv[1])
deferred = importlib.util.module_from_spec(spec)
spec.loader.exec_module(deferred)
deferred.DEFERRED = {"scipy.interpolate": ("splev",)}
deferred.import_formulae()
import formulae, numpy as np, pandas as pd
assert sys.modules["scipy.interpolate"].__name__ == "scipy.interpolate"
assert hasattr(sys.modules["scipy.interpolate"], "BSpline")
frame = pd.DataFrame({"y": np.arange(40.0), "x": np.linspace(0, 1, 40) ** 2})
assert np.asarray(formulae.design_matrices("y ~ bs(x, df=4)", frame).common).shape == (40, 5)
"""


def test_a_formulae_that_imports_more_of_scipy_is_imported_as_it_is():
    module = Path(__file__).parents[1] / "mixfit" / "model" / "deferred_scipy.py"
    subprocess.run([sys.executable, "-c", ASKS_FOR_MORE, str(module)], check=True)
