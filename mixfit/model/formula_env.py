"""The environment formulae evaluates a formula in: nothing but mixfit's whitelisted functions.

formulae looks a name up in the data, then in its ``env``; ``env=0`` would be the calling frame,
its locals and its module's globals (``np``, ``pd``, ``os`` through them), and a dotted call
``np.savetxt(...)`` follows attributes from there. mixfit/model/formula.py refuses such formulas
on the command line, but a formula read back from a results folder must be safe even if a check
is missed: so formulae gets an empty namespace, and mixfit's functions as its one outer namespace
(formulae's own transforms, C(), I(), scale(), center(), come first from formulae itself).
"""

from __future__ import annotations

from formulae.environment import Environment


def empty_environment() -> Environment:
    """A fresh environment that holds no names (formulae writes into its first namespace)."""
    return Environment([{}])
