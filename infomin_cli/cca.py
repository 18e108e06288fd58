"""Ridge-regularised canonical correlation analysis, and held-out evaluation of its projections.

CCA between blocks X (p columns) and Y (q columns) with covariances ``Cxx, Cyy, Cxy``::

    Cxx_r = Cxx + rx I,   rx = ridge * tr(Cxx) / p      (ridge relative to the mean variance)
    Cyy_r = Cyy + ry I,   ry = ridge * tr(Cyy) / q
    M = Cxx_r^{-1/2} Cxy Cyy_r^{-1/2} = A diag(sigma) B^T            (SVD)
    w = Cxx_r^{-1/2} a_1,   v = Cyy_r^{-1/2} b_1,    corr = sigma_1

The inverse square roots come from ``torch.linalg.eigh`` (whitening turns the generalised
eigenproblem into an ordinary one); everything is batched over leading dimensions, in float64.
``sigma_1`` is the (ridge-shrunk) in-sample canonical correlation, biased upward when the same
rows are used to fit and to evaluate: :func:`heldout_evaluation` evaluates fitted projections
on other rows, with an exact permutation p-value and a bootstrap interval.

Also here: :class:`CrossMoments` (float64 sums that merge by addition, the streaming sufficient
statistics) and :func:`split_is_eval` (the seeded fit/eval row assignment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# ----------------------------------------------------------------------------- moments


class CrossMoments:
    """Sums ``n, sum x, sum y, sum x x^T, sum y y^T, sum x y^T`` in float64; ``+`` is a merge.

    Features are fed as float32/float64 tensors and accumulated in float64 on their device.
    """

    def __init__(self, p: int, q: int, device: torch.device | str = "cpu") -> None:
        dev = torch.device(device)
        f64 = {"dtype": torch.float64, "device": dev}
        self.n = 0
        self.sx = torch.zeros(p, **f64)
        self.sy = torch.zeros(q, **f64)
        self.sxx = torch.zeros(p, p, **f64)
        self.syy = torch.zeros(q, q, **f64)
        self.sxy = torch.zeros(p, q, **f64)

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if x.shape[0] == 0:
            return
        x = x.to(torch.float64)
        y = y.to(torch.float64)
        self.n += int(x.shape[0])
        self.sx += x.sum(0)
        self.sy += y.sum(0)
        self.sxx += x.T @ x
        self.syy += y.T @ y
        self.sxy += x.T @ y

    def merge(self, other: CrossMoments) -> None:
        self.n += other.n
        for name in ("sx", "sy", "sxx", "syy", "sxy"):
            getattr(self, name).add_(getattr(other, name).to(getattr(self, name).device))

    def means(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sx / self.n, self.sy / self.n

    def covariances(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Population covariances ``(Cxx, Cyy, Cxy)`` (divisor n; CCA is scale-free)."""
        if self.n < 2:
            raise ValueError("CCA needs at least 2 rows")
        mx, my = self.means()
        n = self.n
        cxx = self.sxx / n - torch.outer(mx, mx)
        cyy = self.syy / n - torch.outer(my, my)
        cxy = self.sxy / n - torch.outer(mx, my)
        return (cxx + cxx.T) / 2, (cyy + cyy.T) / 2, cxy


# ----------------------------------------------------------------------------- CCA


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


def ridge_shift(c: torch.Tensor, ridge: float) -> torch.Tensor:
    """``ridge * tr(C) / p`` per batch element (the ridge relative to the mean variance)."""
    p = c.shape[-1]
    tr = torch.diagonal(c, dim1=-2, dim2=-1).sum(-1)
    return ridge * tr / p


def inv_sqrt_psd(c: torch.Tensor, shift: torch.Tensor | float) -> torch.Tensor:
    """``(C + shift I)^{-1/2}`` for batched symmetric PSD ``C`` via ``eigh`` (float64)."""
    c = c.to(torch.float64)
    p = c.shape[-1]
    eye = torch.eye(p, dtype=c.dtype, device=c.device)
    shift = torch.as_tensor(shift, dtype=c.dtype, device=c.device)
    creg = c + shift[..., None, None] * eye
    lam, vec = torch.linalg.eigh(creg)
    floor = lam.amax(-1, keepdim=True).clamp_min(1e-300) * 1e-12
    inv = lam.clamp_min(0).maximum(floor).rsqrt()
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


# ----------------------------------------------------------------------------- split


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def eval_probability(n_total: int, fit_fraction: float, max_eval_rows: int | None) -> float:
    """Chance that a row goes to the eval split: ``min(1 - fit_fraction, max_eval_rows / n)``."""
    p = 1.0 - fit_fraction
    if max_eval_rows is not None and n_total > 0:
        p = min(p, max_eval_rows / n_total)
    return max(p, 0.0)


def split_is_eval(rows: np.ndarray, seed: int, p_eval: float) -> np.ndarray:
    """Boolean eval mask for global row indices ``rows``: a hash of ``(seed, row)`` < p_eval.

    Depends only on the seed, the row index and ``p_eval`` (a function of ``n``), never on
    batch boundaries. The eval count is Binomial(n, p_eval).
    """
    return row_uniform(rows, seed) < p_eval


def row_uniform(rows: np.ndarray, seed: int) -> np.ndarray:
    """A uniform [0, 1) number per global row index, from a hash of ``(seed, row)``."""
    key = _splitmix64(np.asarray([seed], dtype=np.uint64))[0]
    h = _splitmix64(np.asarray(rows, dtype=np.uint64) ^ key)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def split_roles(rows: np.ndarray, seed: int, p_eval: float,
                p_fit: float) -> tuple[np.ndarray, np.ndarray]:
    """``(is_eval, is_fit)`` for global row indices: the eval split of :func:`split_is_eval`
    and, disjoint from it, a fit split holding each row with chance ``p_fit`` (rows in
    neither are skipped). Like the eval split, it never depends on batch boundaries."""
    u = row_uniform(rows, seed)
    is_eval = u < p_eval
    return is_eval, ~is_eval & (u < p_eval + p_fit)


def fit_probability(n_total: int, p_eval: float, max_fit_rows: int | None) -> float:
    """Chance that a row goes to the fit split: ``min(1 - p_eval, max_fit_rows / n)``."""
    p = 1.0 - p_eval
    if max_fit_rows is not None and n_total > 0:
        p = min(p, max_fit_rows / n_total)
    return max(p, 0.0)


# ----------------------------------------------------------------------------- held-out


@dataclass(frozen=True)
class HeldOut:
    """Held-out evaluation of fixed projections ``p``, ``q`` on eval rows.

    ``value = clip(corr(p, q), 0, 1)``; ``corr`` is the signed correlation. The permutation
    null permutes q against p; ``null_mean``/``null_q95`` are of the clipped null values.
    ``p_value = (1 + #{r_b >= r_obs}) / (1 + B)`` on the signed correlations, which equals
    the clipped statistic's p-value whenever ``value > 0`` (clipping is monotone) and keeps
    p uniform under independence when the observed correlation is negative (the clipped
    version would give p = 1 there).
    """

    value: float
    corr: float
    p_value: float | None
    null_mean: float | None
    null_q95: float | None
    ci: tuple[float, float] | None
    ci_method: str | None
    permutations: int
    bootstrap: int

    def summary(self) -> dict:
        """The fields every held-out result type reports, as keyword arguments."""
        return {"value": self.value, "p_value": self.p_value, "null_mean": self.null_mean,
                "null_q95": self.null_q95, "ci": self.ci, "ci_method": self.ci_method,
                "corr": self.corr}


def _generator(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
    return g


def _standardise(x: torch.Tensor) -> torch.Tensor:
    x = x - x.mean()
    nrm = torch.linalg.vector_norm(x)
    return x / nrm if nrm > 0 else x


def pearson(p: torch.Tensor, q: torch.Tensor) -> float:
    p = _standardise(p.to(torch.float64))
    q = _standardise(q.to(torch.float64))
    return float((p * q).sum())


def heldout_evaluation(
    p: torch.Tensor,
    q: torch.Tensor,
    *,
    permutations: int = 1000,
    bootstrap: int = 500,
    seed: int = 0,
    chunk_elems: int = 1 << 23,
) -> HeldOut:
    """Correlation of fixed projections on eval rows, its permutation null and bootstrap CI.

    Cost ``O((B + bootstrap) * n_eval)`` time and ``O(chunk_elems)`` extra memory. Random
    streams are seeded from ``seed`` on the tensors' device (identical per device type).
    """
    dev = p.device
    n = int(p.shape[0])
    ps = _standardise(p.to(torch.float64))
    qs = _standardise(q.to(torch.float64)).to(dev)
    r_obs = float((ps * qs).sum())
    value = min(max(r_obs, 0.0), 1.0)
    chunk = max(1, chunk_elems // max(n, 1))

    p_value = null_mean = null_q95 = None
    if permutations > 0:
        g = _generator(dev, seed * 2 + 1)
        nulls = []
        for start in range(0, permutations, chunk):
            b = min(chunk, permutations - start)
            idx = torch.stack([torch.randperm(n, generator=g, device=dev) for _ in range(b)])
            nulls.append(qs[idx] @ ps)
        null = torch.cat(nulls)
        p_value = (1.0 + float((null >= r_obs - 1e-12).sum())) / (1.0 + permutations)
        nc = null.clamp(0.0, 1.0)
        null_mean = float(nc.mean())
        null_q95 = float(torch.quantile(nc, 0.95))

    ci = None
    if bootstrap > 0:
        g = _generator(dev, seed * 2 + 2)
        p64, q64 = p.to(torch.float64), q.to(torch.float64).to(dev)
        vals = []
        for start in range(0, bootstrap, chunk):
            b = min(chunk, bootstrap - start)
            idx = torch.randint(0, n, (b, n), generator=g, device=dev)
            pb, qb = p64[idx], q64[idx]
            pb = pb - pb.mean(1, keepdim=True)
            qb = qb - qb.mean(1, keepdim=True)
            den = torch.sqrt((pb * pb).sum(1) * (qb * qb).sum(1))
            r = torch.where(den > 0, (pb * qb).sum(1) / den.clamp_min(1e-300), 0.0)
            vals.append(r.clamp(0.0, 1.0))
        boot = torch.cat(vals)
        lo, hi = torch.quantile(boot, torch.tensor([0.025, 0.975], dtype=boot.dtype, device=dev))
        ci = (float(lo), float(hi))
    return HeldOut(
        value,
        r_obs,
        p_value,
        null_mean,
        null_q95,
        ci,
        "bootstrap-eval-rows" if ci is not None else None,
        permutations,
        bootstrap,
    )


def check_batch(z_batch, dim: int, row_offset: int, n_total: int) -> int:
    """Rows in an accumulator's ``update`` batch, after checking its shape and row range."""
    b = int(z_batch.shape[0])
    if b and (z_batch.ndim != 2 or z_batch.shape[1] != dim):
        raise ValueError(f"embedding batch must be (b, {dim})")
    if row_offset < 0 or row_offset + b > n_total:
        raise ValueError(f"rows {row_offset}..{row_offset + b} outside [0, {n_total})")
    return b
