"""Seed derivation: every random stream of a run is a child of the user's one ``seed``.

A stream is named by integers (a constant per use, then indices); children of one seed are
independent (numpy's :class:`~numpy.random.SeedSequence` hashing), so no two uses of a seed
share random numbers and ``seed + 1`` is not the stream of anything.
"""

from __future__ import annotations

import numpy as np


def generator(seed: int, *stream: int) -> np.random.Generator:
    """A numpy generator for stream ``stream`` of ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, stream)]))


def derive_seed(seed: int, *stream: int) -> int:
    """An integer seed in ``[0, 2**63)`` for stream ``stream`` of ``seed`` (for torch
    generators and libraries that take an int)."""
    state = np.random.SeedSequence([int(seed), *map(int, stream)]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def legacy_offset(seed: int, k: int) -> int:
    """``2 * seed + k``: the torch seeds of the held-out permutation null (``k = 1``) and
    bootstrap (``k = 2``). Not independent streams (``legacy_offset(s, 2) ==
    legacy_offset(s + 1, 0)``); kept so that published reports reproduce."""
    return 2 * int(seed) + int(k)
