"""Normal scores: a monotone map of each column of a continuous variable to N(0, 1) quantiles.

``score(t) = Phi^{-1}((rank(t) - 1/2) / n)`` with tied values sharing their mean rank. The map is
fitted on a sample (the calibration rows: every row for up to 100,000) and applied to any value
by linear interpolation between the sample's distinct values (constant beyond its ends), so a
streaming estimator maps every batch the same way.

Why: the maximal correlation rho* is invariant to a one-to-one map of T, so nothing is lost,
while a heavy-tailed T (Cauchy, counts, incomes, timestamps) stops concentrating the
covariance of its polynomial features on a few extreme rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _scores_of_sorted(n: int, ranks: np.ndarray) -> np.ndarray:
    u = torch.as_tensor((ranks - 0.5) / n, dtype=torch.float64)
    return torch.special.ndtri(u).numpy()


@dataclass(frozen=True, eq=False)
class QuantileMap:
    """Per column: the sample's distinct values ``knots[j]`` and their normal scores."""

    knots: tuple[np.ndarray, ...]
    scores: tuple[np.ndarray, ...]

    @classmethod
    def fit(cls, sample: np.ndarray) -> QuantileMap:
        x = np.asarray(sample, dtype=np.float64)
        x = x.reshape(len(x), -1)
        if len(x) < 1 or not np.all(np.isfinite(x)):
            raise ValueError("normal scores need a finite, non-empty sample")
        knots, scores = [], []
        for j in range(x.shape[1]):
            values, counts = np.unique(x[:, j], return_counts=True)
            ends = np.cumsum(counts)
            mid_rank = ends - (counts - 1) / 2.0  # mean rank of each tied group (1-based)
            knots.append(values)
            scores.append(_scores_of_sorted(len(x), mid_rank))
        return cls(tuple(knots), tuple(scores))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Normal scores of ``values`` (n,) or (n, k), float64, same shape."""
        x = np.asarray(values, dtype=np.float64)
        flat = x.reshape(len(x), -1)
        out = np.empty_like(flat)
        for j, (kn, sc) in enumerate(zip(self.knots, self.scores)):
            out[:, j] = sc[0] if len(kn) == 1 else np.interp(flat[:, j], kn, sc)
        return out.reshape(x.shape)


def normal_scores(values: np.ndarray) -> np.ndarray:
    """Normal scores of ``values`` against themselves (exact ranks)."""
    return QuantileMap.fit(values).transform(values)


def column_normal_scores(values: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Normal scores of each column of ``values`` (n, d) against itself, float32 -- the same
    scores as :func:`normal_scores` (tied values share their mean rank), computed a block of
    columns at a time by sorting, for wide embeddings."""
    x = np.asarray(values, dtype=np.float32)
    n, d = x.shape
    out = np.empty((n, d), dtype=np.float32)
    for j in range(0, d, chunk):
        xt = torch.from_numpy(np.ascontiguousarray(x[:, j : j + chunk].T))  # (c, n)
        srt = torch.sort(xt, dim=1).values
        below = torch.searchsorted(srt, xt, right=False)  # rows strictly smaller
        upto = torch.searchsorted(srt, xt, right=True)  # rows smaller or equal
        mid_rank = (below + upto + 1).to(torch.float64).numpy() / 2.0  # mean rank of a tie
        out[:, j : j + chunk] = _scores_of_sorted(n, mid_rank).T
    return out
