"""formulae, imported with the two scipy modules only its rarer transforms use loaded on first use.

formulae's transforms module imports ``CubicSpline`` and ``splev`` from scipy.interpolate and
``eigsh`` from scipy.sparse.linalg, for its spline and smooth transforms (``bs()``, ``ns()``,
``cr()``, ...), which few models have: loading both took a quarter of a second of every warm fit.
While formulae is imported, each module is a stand-in whose functions import the real module and
call its function; the stand-ins are removed afterwards, so any later import gets scipy's own. A
formulae that imports more of them than these names is imported again with scipy's own modules.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable

DEFERRED = {"scipy.interpolate": ("CubicSpline", "splev"), "scipy.sparse.linalg": ("eigsh",)}


def import_formulae() -> None:
    if "formulae" in sys.modules:
        return
    # scipy.sparse first, as it is: scipy 1.15's imports scipy.sparse.linalg itself (through
    # csgraph), which then needs the real module, and mixfit uses scipy.sparse anyway
    importlib.import_module("scipy.sparse")
    stand_ins = {
        module: _stand_in(module, names)
        for module, names in DEFERRED.items()
        if module not in sys.modules
    }
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("formulae")
    except ImportError:  # a formulae that asks these modules for more: imported as it is
        for name in [m for m in sys.modules if m == "formulae" or m.startswith("formulae.")]:
            del sys.modules[name]
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]
    importlib.import_module("formulae")


def _stand_in(module: str, names: tuple[str, ...]) -> types.ModuleType:
    stand_in = types.ModuleType(module, f"stands in for {module} while formulae is imported")
    for name in names:
        setattr(stand_in, name, _on_first_call(module, name))
    return stand_in


def _on_first_call(module: str, name: str) -> Callable:
    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call
