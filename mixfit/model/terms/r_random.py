"""R's `set.seed(seed); sample(n, size)` (R >= 3.6: Mersenne-Twister, "Rejection" sampling), for
the one place brms's data depends on R's random numbers: mgcv's thin plate basis draws its knots
with `sample` under seed 1 when a smooth has more than 2000 unique covariate values.

From R's src/main/RNG.c (`RNG_Init`, `MT_genrand`, `fixup`, `rbits`, `R_unif_index`) and
src/main/random.c (`do_sample` without replacement). The Mersenne-Twister itself is numpy's
MT19937, given R's seeded state.
"""

from __future__ import annotations

import math

import numpy as np

_MASK32 = 0xFFFFFFFF
_I2_32M1 = 2.328306437080797e-10  # 1 / (2^32 - 1), R's fixup bound
_MT_SCALE = 2.3283064365386963e-10  # 2^-32, MT_genrand's scaling


class RUniform:
    """R's unif_rand() under set.seed(seed) with the default Mersenne-Twister."""

    def __init__(self, seed: int):
        s = seed & _MASK32
        for _ in range(50):  # RNG_Init's initial scrambling
            s = (69069 * s + 1) & _MASK32
        words = []
        for _ in range(625):
            s = (69069 * s + 1) & _MASK32
            words.append(s)
        # words[0] is mti, which FixupSeeds sets to 624: the first call regenerates the state
        self._bits = np.random.MT19937()
        self._bits.state = {
            "bit_generator": "MT19937",
            "state": {"key": np.array(words[1:], dtype=np.uint32), "pos": 624},
        }

    def __call__(self) -> float:
        value = float(self._bits.random_raw()) * _MT_SCALE
        if value <= 0.0:
            return 0.5 * _I2_32M1
        if 1.0 - value <= 0.0:
            return 1.0 - 0.5 * _I2_32M1
        return value


def _rbits(unif: RUniform, bits: int) -> int:
    value = 0
    for _ in range(0, bits + 1, 16):
        value = 65536 * value + math.floor(unif() * 65536)
    return value & ((1 << bits) - 1)


def _unif_index(unif: RUniform, n: int) -> int:
    """R_unif_index: a uniform integer in [0, n) by rejection sampling."""
    if n <= 0:
        return 0
    bits = math.ceil(math.log2(n))
    while True:
        value = _rbits(unif, bits)
        if value < n:
            return value


def r_sample(n: int, size: int, seed: int) -> np.ndarray:
    """R's `set.seed(seed); sample(n, size)`: size of 1..n without replacement, in R's order."""
    unif = RUniform(seed)
    pool = list(range(n))
    out = np.empty(size, dtype=int)
    for i in range(size):
        j = _unif_index(unif, n)
        out[i] = pool[j] + 1
        n -= 1
        pool[j] = pool[n]
    return out
