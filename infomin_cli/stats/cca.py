"""Ridge-regularised canonical correlation analysis (CCA) from covariances.

CCA between blocks X (p columns) and Y (q columns) with covariances ``Cxx, Cyy, Cxy``::

    Cxx_r = Cxx + rx I,   rx = ridge * tr(Cxx) / p      (ridge relative to the mean variance)
    Cyy_r = Cyy + ry I,   ry = ridge * tr(Cyy) / q
    M = Cxx_r^{-1/2} Cxy Cyy_r^{-1/2} = A diag(sigma) B^T            (SVD)
    w = Cxx_r^{-1/2} a_1,   v = Cyy_r^{-1/2} b_1,    corr = sigma_1

The inverse square roots come from ``torch.linalg.eigh`` (whitening turns the generalised
eigenproblem into an ordinary one); everything is batched over leading dimensions, in float64.
``sigma_1`` is the in-sample canonical correlation, biased upward when the rows that fit it
also evaluate it (:mod:`infomin_cli.stats.heldout` evaluates on other rows).

Also here, for the sliced estimator and the coming debias loss: :func:`slice_cca`, the solve
for feature blocks laid out slice-major (``joint``: one CCA over all slices; ``pairwise``: a
K x K CCA for every slice pair, the max taken) and, for the linear estimator and rho*'s start,
:func:`select_ridge` (the relative ridge chosen by validation between two sets of moments).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infomin_cli.stats.choices import Aggregation
from infomin_cli.stats.moments import CrossMoments

#: Relative ridges tried by :func:`select_ridge`. With d comparable to the fit rows a tiny
#: ridge overfits badly (d=768, 1,000 fit rows: held-out 0.22 at 1e-3 where a tuned ridge
#: probe reaches 0.50).
RIDGE_GRID: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


@dataclass(frozen=True, eq=False)
class CCASolution:
    """Batched CCA solution: ``corrs`` (..., min(p, q)) descending; top weights ``w``, ``v``.

    ``w`` (..., p) and ``v`` (..., q) are normalised so ``w^T Cxx_r w = v^T Cyy_r v = 1``.
    """

    corrs: torch.Tensor
    w: torch.Tensor
    v: torch.Tensor

    @property
    def corr(self) -> torch.Tensor:
        return self.corrs[..., 0]


def ridge_shift(c: torch.Tensor, ridge: float, dims: int | None = None) -> torch.Tensor:
    """``ridge * tr(C) / dims`` per batch element: the ridge relative to the mean variance of
    the ``dims`` informative columns (default: all ``p`` columns; the linear estimator passes
    the live ones, so zeroed dead columns do not shrink the ridge)."""
    p = c.shape[-1] if dims is None else max(int(dims), 1)
    tr = torch.diagonal(c, dim1=-2, dim2=-1).sum(-1)
    return ridge * tr / p


def inv_sqrt_psd(c: torch.Tensor, shift: torch.Tensor | float) -> torch.Tensor:
    """``(C + shift I)^{-1/2}`` for batched symmetric PSD ``C`` via ``eigh`` (float64).

    A pseudo-inverse: eigen-directions with no variance (below ``1e-12`` of the largest, or a
    block that is all zero -- a class absent from a split) get weight 0 instead of an inverse
    that overflows. Those directions carry no covariance with anything, so CCA is unchanged.
    """
    c = c.to(torch.float64)
    p = c.shape[-1]
    eye = torch.eye(p, dtype=c.dtype, device=c.device)
    shift = torch.as_tensor(shift, dtype=c.dtype, device=c.device)
    creg = c + shift[..., None, None] * eye
    lam, vec = torch.linalg.eigh(creg)
    top = lam.amax(-1, keepdim=True)
    keep = (lam > top * 1e-12) & (top > 0)
    inv = torch.where(keep, lam.clamp_min(1e-300).rsqrt(), torch.zeros_like(lam))
    return (vec * inv[..., None, :]) @ vec.transpose(-1, -2)


def cca_from_cov(
    cxx: torch.Tensor,
    cyy: torch.Tensor,
    cxy: torch.Tensor,
    ridge: float = 1e-3,
    *,
    shift_x: torch.Tensor | float | None = None,
    shift_y: torch.Tensor | float | None = None,
) -> CCASolution:
    """Ridge CCA from (batched) covariances. Shifts default to :func:`ridge_shift`."""
    sx = ridge_shift(cxx, ridge) if shift_x is None else shift_x
    sy = ridge_shift(cyy, ridge) if shift_y is None else shift_y
    wx = inv_sqrt_psd(cxx, sx)
    wy = inv_sqrt_psd(cyy, sy)
    m = wx @ cxy.to(torch.float64) @ wy
    a, s, bh = torch.linalg.svd(m, full_matrices=False)
    w = (wx @ a[..., :, :1])[..., 0]
    v = (wy @ bh[..., :1, :].transpose(-1, -2))[..., 0]
    return CCASolution(s.clamp(0.0, 1.0), w, v)


def cca(x: torch.Tensor, y: torch.Tensor, ridge: float = 1e-3) -> CCASolution:
    """Ridge CCA of data blocks ``x`` (n, p) and ``y`` (n, q) (in-sample)."""
    mom = CrossMoments(x.shape[1], y.shape[1], x.device)
    mom.update(x, y)
    return cca_from_cov(*mom.covariances(), ridge)


def pairwise_cca(
    bz: torch.Tensor,
    bt: torch.Tensor,
    bzt: torch.Tensor,
    rz: torch.Tensor | float,
    rt: torch.Tensor | float,
) -> CCASolution:
    """All slice pairs at once: blocks ``bz`` (S, K, K), ``bt`` (St, Kt, Kt), ``bzt``
    (S, St, K, Kt) -> :class:`CCASolution` batched over (S, St).

    Whitening is computed once per slice (S + St small ``eigh``), then one batched SVD over
    the S x St whitened cross-covariances.
    """
    wz = inv_sqrt_psd(bz, rz)  # (S, K, K)
    wt = inv_sqrt_psd(bt, rt)  # (St, Kt, Kt)
    m = wz[:, None] @ bzt @ wt[None]
    a, s, bh = torch.linalg.svd(m, full_matrices=False)
    w = (wz[:, None] @ a[..., :, :1])[..., 0]
    v = (wt[None] @ bh[..., :1, :].transpose(-1, -2))[..., 0]
    return CCASolution(s.clamp(0.0, 1.0), w, v)


@dataclass(frozen=True, eq=False)
class SliceSolution:
    """Top canonical pair of slice-major feature blocks: ``corr`` (in-sample), full-length
    weights ``w`` (S K,) and ``v`` (St Kt,) -- zero outside the best pair's blocks for
    pairwise -- and that ``pair = (i*, j*)`` (None for joint)."""

    corr: float
    w: torch.Tensor
    v: torch.Tensor
    pair: tuple[int, int] | None


def slice_cca(cov: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
              z_blocks: tuple[int, int], t_blocks: tuple[int, int],
              aggregation: Aggregation, ridge: float) -> SliceSolution:
    """CCA between feature blocks laid out slice-major: ``z_blocks = (S, K)`` means column
    ``i * K + k`` is feature k of Z slice i (likewise ``t_blocks = (St, Kt)``).

    Ridge: ``Czz + rz I`` with ``rz = ridge * tr(Czz) / (S K)`` -- the same absolute shift for
    the joint block and for every K x K pairwise block (likewise for T), so the pairwise
    problem is a restriction of the joint one and ``pairwise <= joint`` holds exactly.
    """
    czz, ctt, czt = cov
    S, K = z_blocks
    St, Kt = t_blocks
    rz = ridge_shift(czz, ridge)
    rt = ridge_shift(ctt, ridge)
    if aggregation == "joint":
        sol = cca_from_cov(czz, ctt, czt, shift_x=rz, shift_y=rt)
        return SliceSolution(float(sol.corr), sol.w, sol.v, None)
    if aggregation != "pairwise":
        raise ValueError(f"aggregation must be 'pairwise' or 'joint', not {aggregation!r}")
    bz = torch.diagonal(czz.reshape(S, K, S, K), dim1=0, dim2=2).permute(2, 0, 1)
    bt = torch.diagonal(ctt.reshape(St, Kt, St, Kt), dim1=0, dim2=2).permute(2, 0, 1)
    bzt = czt.reshape(S, K, St, Kt).permute(0, 2, 1, 3)  # (S, St, K, Kt)
    return _best_pair(pairwise_cca(bz, bt, bzt, rz, rt), z_blocks, t_blocks, czz.dtype)


def _best_pair(sol: CCASolution, z_blocks: tuple[int, int], t_blocks: tuple[int, int],
               dtype: torch.dtype) -> SliceSolution:
    """The top pair of a batched pairwise solution, its weights laid into full-length vectors
    (zero outside the pair's blocks)."""
    (S, K), (St, Kt) = z_blocks, t_blocks
    i, j = divmod(int(torch.argmax(sol.corr)), St)
    w = sol.w.new_zeros(S * K, dtype=dtype)
    v = sol.v.new_zeros(St * Kt, dtype=dtype)
    w[i * K : (i + 1) * K] = sol.w[i, j]
    v[j * Kt : (j + 1) * Kt] = sol.v[i, j]
    return SliceSolution(float(sol.corr[i, j]), w, v, (i, j))


def pairwise_power_cca(t: torch.Tensor, order: int, ft: torch.Tensor,
                       t_blocks: tuple[int, int], ridge: float
                       ) -> tuple[SliceSolution, torch.Tensor, torch.Tensor]:
    """:func:`slice_cca` with ``aggregation="pairwise"`` for Z features that are the powers
    ``t, t^2, ..., t^K`` of one value per slice (``t`` (n, S), e.g. ``tanh(u)``; K =
    ``order``; the layout of :func:`~infomin_cli.stats.features.tanh_features`), and T
    features ``ft`` (n, St Kt), computing only the covariance blocks the pairs use. A slice's
    K x K block of raw moments is Hankel, ``E[t^(k+l)]``, so the power means up to 2K give
    every block: ``2 K S`` sums over rows instead of ``S K^2`` products per row. Returns
    ``(solution, m_z, m_t)``, the feature means with ``m_z`` slice-major; equal to the
    full-moment route."""
    n, S = t.shape
    K = order
    St, Kt = t_blocks
    if n < 2:
        raise ValueError("CCA needs at least 2 rows")
    f64 = torch.float64
    powers = torch.empty(2 * K, n, S, dtype=t.dtype, device=t.device)
    powers[0] = t
    for k in range(1, 2 * K):
        torch.mul(powers[k - 1], t, out=powers[k])
    m = powers.sum(1).to(f64) / n  # (2K, S): m[j] = E[t^(j+1)]
    a = m[:K].T  # (S, K): the features' means
    idx = torch.arange(K, device=t.device)
    raw = m[idx[:, None] + idx[None, :] + 1]  # (K, K, S): E[t^(k+1) t^(l+1)]
    bz = raw.permute(2, 0, 1) - a[:, :, None] * a[:, None, :]
    mt = ft.mean(0)
    b = mt.to(f64).reshape(St, Kt)
    xt = ft.reshape(n, St, Kt)
    bt = (torch.einsum("nsk,nsl->skl", xt, xt) / n).to(f64) - b[:, :, None] * b[:, None, :]
    cross = (ft.to(t.dtype).T @ powers[:K]).to(f64) / n  # (K, St Kt, S)
    bzt = (cross.reshape(K, St, Kt, S).permute(3, 1, 0, 2)
           - a[:, None, :, None] * b[None, :, None, :])
    rz = ridge * torch.diagonal(bz, dim1=-2, dim2=-1).sum() / (S * K)
    rt = ridge * torch.diagonal(bt, dim1=-2, dim2=-1).sum() / (St * Kt)
    sol = pairwise_cca(bz, bt, bzt, rz, rt)
    return _best_pair(sol, (S, K), t_blocks, t.dtype), a.reshape(-1).to(t.dtype), mt


def validation_curve(fit, val, grid: tuple[float, ...], d_live: int, q: int) -> torch.Tensor:
    """Correlation on ``val`` covariances of the top CCA pair fitted on ``fit`` covariances,
    for each relative ridge in ``grid``. One ``eigh`` per block serves every ridge; directions
    without variance are dropped (as in :func:`inv_sqrt_psd`), and a degenerate fit scores 0."""
    cxx, cyy, cxy = fit
    vxx, vyy, vxy = val
    lx, ux = torch.linalg.eigh(cxx)
    ly, uy = torch.linalg.eigh(cyy)
    lx, ly = lx.clamp_min(0), ly.clamp_min(0)

    def whitener(lam, vec, shift):
        lr = lam + shift
        top = lr.max()
        inv = torch.where((lr > top * 1e-12) & (top > 0), lr.clamp_min(1e-300).rsqrt(),
                          torch.zeros_like(lr))
        return (vec * inv) @ vec.T

    scores = []
    for r in grid:
        wx = whitener(lx, ux, r * lx.sum() / d_live)
        wy = whitener(ly, uy, r * ly.sum() / q)
        a, _, bh = torch.linalg.svd(wx @ cxy @ wy, full_matrices=False)
        w, v = wx @ a[:, 0], wy @ bh[0]
        den = torch.sqrt((w @ vxx @ w) * (v @ vyy @ v))
        score = (w @ vxy @ v) / den.clamp_min(1e-300)
        scores.append(torch.where(den > 0, score, torch.zeros_like(score)))
    return torch.stack(scores)


def select_ridge(fit: CrossMoments, val: CrossMoments, d_live: int,
                 grid: tuple[float, ...] = RIDGE_GRID) -> float:
    """The relative ridge of ``grid`` whose CCA fitted on ``fit`` correlates best on ``val``."""
    a, b = fit.covariances(), val.covariances()
    scores = validation_curve(a, b, grid, d_live, a[1].shape[0])
    return grid[int(torch.argmax(scores))]


def ridge_cca(moments: CrossMoments, ridge: float, d_live: int) -> CCASolution:
    """Top CCA pair with shifts ``ridge * tr / d_live`` (X) and ``ridge * tr / q`` (Y)."""
    cxx, cyy, cxy = moments.covariances()
    return cca_from_cov(cxx, cyy, cxy, shift_x=ridge_shift(cxx, ridge, d_live),
                        shift_y=ridge_shift(cyy, ridge))
