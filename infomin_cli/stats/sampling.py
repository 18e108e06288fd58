"""Seeded row selection: the one random row sample, and the fit/eval split by row hash.

* :func:`sample_rows` -- a seeded sample of row positions. Every consumer (the calibration
  sample of the standardiser, ``--max-rows``, the rows of rho*) draws through it, so one seed
  gives one sample whether an estimator is called directly or through the audit.
* :func:`split_roles` -- each global row index is hashed with the seed to a uniform number
  ``u``; ``u < p_eval`` puts it in the eval split, and the next ``p_fit`` of the unit interval in
  the fit split. The assignment depends on the seed, the row index and the probabilities only,
  never on batch boundaries, so streaming, in-memory and merged runs agree row for row.
"""

from __future__ import annotations

import numpy as np

from infomin_cli.stats.seeds import generator

_SAMPLE_STREAM = 0x5A3F


def sample_rows(n_rows: int, k: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded random sample of ``min(k, n_rows)`` of ``n_rows`` rows."""
    if k >= n_rows:
        return np.arange(n_rows)
    rng = generator(seed, _SAMPLE_STREAM)
    return np.sort(rng.choice(n_rows, size=k, replace=False))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def row_uniform(rows: np.ndarray, seed: int) -> np.ndarray:
    """A uniform [0, 1) number per global row index, from a hash of ``(seed, row)``."""
    key = _splitmix64(np.asarray([seed], dtype=np.uint64))[0]
    h = _splitmix64(np.asarray(rows, dtype=np.uint64) ^ key)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def eval_probability(n_total: int, fit_fraction: float, max_eval_rows: int | None) -> float:
    """Chance that a row goes to the eval split: ``min(1 - fit_fraction, max_eval_rows / n)``."""
    p = 1.0 - fit_fraction
    if max_eval_rows is not None and n_total > 0:
        p = min(p, max_eval_rows / n_total)
    return max(p, 0.0)


def fit_probability(n_total: int, p_eval: float, max_fit_rows: int | None) -> float:
    """Chance that a row goes to the fit split: ``min(1 - p_eval, max_fit_rows / n)``."""
    p = 1.0 - p_eval
    if max_fit_rows is not None and n_total > 0:
        p = min(p, max_fit_rows / n_total)
    return max(p, 0.0)


def split_roles(rows: np.ndarray, seed: int, p_eval: float,
                p_fit: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(is_eval, is_fit)`` boolean masks for global row indices (disjoint; rows in neither
    are skipped). The eval count is Binomial(n, p_eval)."""
    u = row_uniform(rows, seed)
    is_eval = u < p_eval
    return is_eval, ~is_eval & (u < p_eval + p_fit)


def split_is_eval(rows: np.ndarray, seed: int, p_eval: float) -> np.ndarray:
    """The eval mask of :func:`split_roles`."""
    return row_uniform(rows, seed) < p_eval


def check_batch(z_batch, dim: int, row_offset: int, n_total: int) -> int:
    """Rows in an accumulator's ``update`` batch, after checking its shape and row range."""
    b = int(z_batch.shape[0])
    if b and (z_batch.ndim != 2 or z_batch.shape[1] != dim):
        raise ValueError(f"embedding batch must be (b, {dim})")
    if row_offset < 0 or row_offset + b > n_total:
        raise ValueError(f"rows {row_offset}..{row_offset + b} outside [0, {n_total})")
    return b
