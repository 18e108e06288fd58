"""Full-sample permutation tests of canonical correlations, for data small enough to refit.

A held-out estimate spends half of the rows on fitting; its test has the power of the other
half only. When the rows fit in memory, every row can serve the test instead: the statistic is
the in-sample (ridge) canonical correlation, and its null distribution comes from refitting it
on ``B`` permutations of the attribute's rows. That refit is cheap because only the T side
moves::

    X = block-whitened Z features (n, P),  Y = block-whitened T features (n, Q)   (fixed)
    stat(pi) = max over block pairs (a, b) of  sigma_max(X_a^T Y_b[pi] / n)

Permuting rows changes neither ``X^T X`` nor ``Y^T Y``, so the whitening is computed once and
each permutation costs one matrix product (batched over permutations). With blocks of K
columns this is the pairwise sliced statistic; with one block per side, the joint or linear
one. The test is exact for any statistic that is a symmetric function of the rows, so the
ridge may depend on the number of rows and columns but never on how Z and T are paired.

:func:`min_p` combines tests run on the *same* permutations (SI and linear of one attribute)
into one exact p-value (the permutation distribution of the smallest p-value), which keeps the
power of the better test without paying a Bonferroni factor for the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infomin_cli.stats.cca import inv_sqrt_psd, ridge_shift

#: float32 elements per chunk of permuted T features (bounds memory at ~256 MiB)
_CHUNK_ELEMS = 1 << 26


def block_whiten(f: torch.Tensor, blocks: tuple[int, int], ridge: float) -> torch.Tensor:
    """Centre ``f`` (n, S K) and whiten each of its S blocks of K columns with
    ``(C_b + r I)^{-1/2}``, ``r = ridge * tr(C) / (S K)`` (one absolute shift for every block,
    as in :func:`~infomin_cli.stats.cca.slice_cca`)."""
    f = f.to(torch.float64)
    n = f.shape[0]
    s, k = blocks
    f = f - f.mean(0, keepdim=True)
    cov = f.T @ f / n
    shift = ridge_shift(cov, ridge)
    diag = torch.diagonal(cov.reshape(s, k, s, k), dim1=0, dim2=2).permute(2, 0, 1)
    w = inv_sqrt_psd(diag, shift)  # (S, K, K)
    return torch.einsum("nsk,skj->nsj", f.reshape(n, s, k), w).reshape(n, s * k)


@dataclass(frozen=True, eq=False)
class PermutationNull:
    """Observed statistic, its ``B`` permutation values, and the p-value."""

    observed: float
    null: torch.Tensor  # (B,) float64

    @property
    def p_value(self) -> float:
        b = int(self.null.numel())
        return (1.0 + float((self.null >= self.observed - 1e-12).sum())) / (1.0 + b)


def permutation_indices(n: int, permutations: int, seed: int, device: torch.device,
                        chunk: int):
    """The seeded permutations of ``n`` rows, in chunks of ``chunk`` (the same sequence for
    every test built with the same ``n``, ``seed`` and device type)."""
    g = torch.Generator(device=device)
    g.manual_seed((int(seed) * 2 + 3) & 0x7FFF_FFFF_FFFF_FFFF)
    for start in range(0, permutations, chunk):
        b = min(chunk, permutations - start)
        yield torch.stack([torch.randperm(n, generator=g, device=device) for _ in range(b)])


def every_pair_statistic(m: torch.Tensor, x_blocks: tuple[int, int],
                         y_blocks: tuple[int, int]) -> torch.Tensor:
    """The block statistic by its definition: every pair's spectral norm, then the maximum
    (float64). :func:`_statistic` computes the same bits with most norms skipped; this one is
    the reference its tests and ``benchmarks/multicol_null.py`` compare against."""
    s, k = x_blocks
    t, q = y_blocks
    lead = m.shape[:-2]
    m = m.to(torch.float64).reshape(*lead, s, k, t, q).transpose(-3, -2)
    norms = (torch.linalg.vector_norm(m, dim=(-2, -1)) if k == 1 or q == 1
             else torch.linalg.matrix_norm(m, ord=2))
    return norms.flatten(-2).amax(-1)


def _statistic(m: torch.Tensor, x_blocks: tuple[int, int], y_blocks: tuple[int, int]) -> torch.Tensor:
    """``m`` (..., P, Q) cross-products / n -> the largest block spectral norm (...), in
    float64.

    Exact, with most spectral norms skipped: a block's largest squared row or column norm is
    at most its squared spectral norm, which is at most its squared Frobenius norm. So the
    largest lower bound over the pairs is a floor under the maximum, and only pairs whose
    Frobenius norm reaches that floor can hold it; only their spectral norms are computed
    (a few of S x T pairs, under the null). The bounds are taken in ``m``'s dtype with a
    margin far above its rounding, so the candidates always include the maximising pair.
    """
    s, k = x_blocks
    t, q = y_blocks
    lead = m.shape[:-2]
    m = m.reshape(-1, s, k, t, q)
    if k == 1 or q == 1:
        norms = torch.linalg.vector_norm(m.to(torch.float64), dim=(2, 4))
        return norms.flatten(1).amax(1).reshape(lead)
    sq = m.square()
    frobenius = sq.sum((2, 4))  # (B, S, T)
    floor = torch.maximum(sq.sum(2).amax(-1), sq.sum(4).amax(2))  # (B, S, T)
    floor = floor.flatten(1).amax(1)[:, None, None]
    perm, a, b = torch.nonzero(frobenius >= floor * (1 - 1e-4), as_tuple=True)
    blocks = m[perm, a, :, b, :].to(torch.float64)  # (candidates, K, Q)
    norms = torch.linalg.matrix_norm(blocks, ord=2)
    out = torch.zeros(m.shape[0], dtype=torch.float64, device=m.device)
    return out.scatter_reduce(0, perm, norms, "amax", include_self=False).reshape(lead)


def permutation_null(x: torch.Tensor, y: torch.Tensor, x_blocks: tuple[int, int],
                     y_blocks: tuple[int, int], permutations: int, seed: int) -> PermutationNull:
    """The full-sample permutation null of the block canonical correlation between already
    block-whitened ``x`` (n, P) and ``y`` (n, Q) (see the module docstring)."""
    n = x.shape[0]
    xs = x.to(torch.float32)
    ys = y.to(torch.float32)
    observed = float(_statistic((x.T @ y.to(x.dtype) / n)[None], x_blocks, y_blocks)[0])
    chunk = max(1, _CHUNK_ELEMS // max(n * ys.shape[1], 1))
    nulls = []
    for idx in permutation_indices(n, permutations, seed, x.device, chunk):
        yp = ys[idx]  # (b, n, Q)
        m = torch.einsum("np,bnq->bpq", xs, yp) / n
        nulls.append(_statistic(m, x_blocks, y_blocks))
    null = torch.cat(nulls) if nulls else torch.zeros(0, dtype=torch.float64)
    return PermutationNull(observed, null)


def _p_all(values: torch.Tensor) -> torch.Tensor:
    """For the exchangeable set ``values`` (observed first, then the B permutation values):
    each one's p-value ``#{i: v_i >= v_j} / (B + 1)`` within the set."""
    srt = torch.sort(values).values
    below = torch.searchsorted(srt, values - 1e-12, right=False)
    return (values.numel() - below).to(torch.float64) / values.numel()


def min_p(tests: list[PermutationNull]) -> float:
    """Exact p-value of ``min_i p_i`` for tests computed on the same permutations: the
    observed smallest p-value ranked among the smallest p-values of every permutation."""
    if len(tests) == 1:
        return tests[0].p_value
    b = tests[0].null.numel()
    if any(t.null.numel() != b for t in tests):
        raise ValueError("min_p needs tests on the same permutations")
    sets = [torch.cat([torch.tensor([t.observed], dtype=torch.float64), t.null.to(torch.float64)])
            for t in tests]
    smallest = torch.stack([_p_all(v) for v in sets]).amin(0)
    return float((smallest <= smallest[0] + 1e-15).sum()) / (1.0 + b)
