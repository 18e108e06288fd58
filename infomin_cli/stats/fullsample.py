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

When *both* sides are sliced (a multi-column attribute: S x S pairs), the product above is S
times the one-column product (300 x 300 features per permutation), so :func:`sum_null` tests
the *total* instead of the maximum::

    stat(pi) = sum over block pairs (a, b) of ||X_a^T Y_b[pi] / n||_F^2
             = ||X^T Y[pi] / n||_F^2          (every pair's squared canonical correlations)

computed on each side's top ``SUM_RANK`` principal components (``X_r = U_r S_r`` from the
SVD of X, likewise Y): a function of one side's rows only, so ``Y[pi]_r = Y_r[pi]`` and the
test stays exact, and each permutation costs an (r x r) product -- about a one-column
attribute's. The sum pools evidence that the maximum leaves spread over many pairs (a sparse,
radial or periodic dependence), and loses where one pair holds it all (the square of one
direction of a 10-column T: ``benchmarks/multicol_null.py`` measures both on the same data).

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
#: principal components kept on each side by :func:`sum_null`
SUM_RANK = 32
#: float32 elements per chunk of :func:`sum_null`'s permuted scores (8 MiB: cache-sized
#: chunks gather and multiply ~2x faster than one large one)
_SUM_CHUNK_ELEMS = 1 << 21


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


def _statistic(m: torch.Tensor, x_blocks: tuple[int, int], y_blocks: tuple[int, int]) -> torch.Tensor:
    """``m`` (..., P, Q) cross-products / n -> the largest block spectral norm (...), in
    float64.

    Exact, with most spectral norms skipped (``tests/test_fullsample.py`` compares it with
    every pair's norm): a block's largest squared row or column norm is at most its squared
    spectral norm, which is at most its squared Frobenius norm. So the largest lower bound
    over the pairs is a floor under the maximum, and only pairs whose Frobenius norm reaches
    that floor can hold it; only their spectral norms are computed (a few of S x T pairs,
    under the null). The bounds are taken in ``m``'s dtype with a margin far above its
    rounding, so the candidates always include the maximising pair.
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


def principal_scores(x: torch.Tensor, rank: int) -> torch.Tensor:
    """The top ``rank`` principal component scores of centred ``x`` (n, P), ``x V_r`` with
    ``V_r`` the leading eigenvectors of ``x^T x`` (= ``U_r S_r`` of its SVD, up to signs), in
    float64; fewer when ``x`` has fewer non-negligible components."""
    x = x.to(torch.float64)
    lam, v = torch.linalg.eigh(x.T @ x)
    lam, v = lam.flip(0), v.flip(1)
    keep = int((lam > lam[:1].clamp_min(0) * 1e-12).sum()) if lam.numel() else 0
    return x @ v[:, : max(1, min(rank, keep))]


def sum_null(x: torch.Tensor, y: torch.Tensor, permutations: int, seed: int,
             rank: int = SUM_RANK) -> PermutationNull:
    """The full-sample permutation null of ``||X_r^T Y_r / n||_F^2``, the total of every block
    pair's squared canonical correlations on the top ``rank`` principal components of the
    block-whitened ``x`` (n, P) and ``y`` (n, Q) (module docstring); the same permutations
    as :func:`permutation_null`, so :func:`min_p` can combine the two."""
    n = x.shape[0]
    xr, yr = principal_scores(x, rank), principal_scores(y, rank)
    observed = float((xr.T @ yr / n).square().sum())
    xt = xr.T.to(torch.float32).contiguous()  # (r, n)
    ys = yr.to(torch.float32)
    q = ys.shape[1]
    chunk = max(1, _SUM_CHUNK_ELEMS // max(n * q, 1))
    nulls = []
    for idx in permutation_indices(n, permutations, seed, x.device, chunk):
        b = idx.shape[0]
        # rows of Y_r under each permutation, laid out (n, b q): one GEMM for the chunk
        yp = torch.index_select(ys, 0, idx.T.reshape(-1)).view(n, b * q)
        m = (xt @ yp) / n  # (r, b q)
        nulls.append(m.view(-1, b, q).to(torch.float64).square().sum((0, 2)))
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
