"""Ridge CCA in its dual (Gram) form, for embeddings wider than their rows.

The primal solve needs the d x d covariance of Z: 3.2 GB of float64 at d = 20,000 (sparse
autoencoder features are this wide). With m fit rows and m < d, everything can be written
with the m x m Gram matrix ``K = X X^T`` instead (``X``: centred fit rows, ``Y``: centred T)::

    Cxx_r = X^T X / m + rx I,           rx = ridge * tr(K) / (m d_live)
    X Cxx_r^{-1} X^T = K (K/m + rx I)^{-1} = U diag(lam / (lam/m + rx)) U^T      (K = U lam U^T)
    sigma^2, b = top eigenpair of  Cyy_r^{-1/2} (Y^T H Y / m^2) Cyy_r^{-1/2},  H as above
    v = Cyy_r^{-1/2} b,    w = X^T alpha,   alpha = (K/m + rx I)^{-1} Y v / m  (normalised)

which is the primal solution exactly (push-through identity), at O(m^2 d) time and O(m d)
memory. ``w`` is a d-vector, so held-out rows are projected as in the primal form.
"""

from __future__ import annotations

import torch

from infomin_cli.stats.cca import inv_sqrt_psd, ridge_shift


def _gram(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lam, u = torch.linalg.eigh(x @ x.T)
    return lam.clamp_min(0), u


def dual_ridge_cca(x: torch.Tensor, y: torch.Tensor, ridge: float, d_live: int,
                   ridge_y: float | None = None) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Top canonical pair of rows ``x`` (m, d) and ``y`` (m, q) with the primal's relative
    ridges (``ridge * tr(Cxx) / d_live`` on X, ``ridge_y * tr(Cyy) / q`` on Y). Returns
    ``(corr, w, v)`` with ``w^T Cxx_r w = v^T Cyy_r v = 1`` as in the primal solve."""
    x = x.to(torch.float64)
    y = y.to(torch.float64)
    m = x.shape[0]
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    lam, u = _gram(x)
    rx = ridge * (lam.sum() / m) / max(int(d_live), 1)
    cyy = y.T @ y / m
    wy = inv_sqrt_psd(cyy, ridge_shift(cyy, ridge if ridge_y is None else ridge_y))
    uy = u.T @ y  # (m, q)
    h = lam / (lam / m + rx)
    a = (uy * h[:, None]).T @ uy / (m * m)
    evals, evecs = torch.linalg.eigh(wy @ a @ wy)
    sigma = float(evals[-1].clamp_min(0).sqrt())
    v = wy @ evecs[:, -1]
    # alpha = (K/m + rx I)^{-1} Y v / m ;  w = X^T alpha
    alpha = u @ ((uy @ v) / (lam / m + rx)) / m
    w = x.T @ alpha
    norm = torch.sqrt((w @ (x.T @ (x @ w))) / m + rx * (w @ w))
    if norm > 0:
        w = w / norm
    return min(sigma, 1.0), w, v


def dual_validation_curve(xa: torch.Tensor, ya: torch.Tensor, xb: torch.Tensor,
                          yb: torch.Tensor, grid: tuple[float, ...], d_live: int) -> torch.Tensor:
    """For each relative ridge in ``grid``: fit on rows A (dual form), correlation on rows B."""
    scores = []
    for r in grid:
        _, w, v = dual_ridge_cca(xa, ya, r, d_live)
        p = xb.to(torch.float64) @ w
        q = yb.to(torch.float64) @ v
        p, q = p - p.mean(), q - q.mean()
        den = torch.sqrt((p @ p) * (q @ q))
        scores.append((p @ q) / den if den > 0 else torch.zeros((), dtype=torch.float64))
    return torch.stack(scores)


def gram_whiten(x: torch.Tensor, ridge: float) -> torch.Tensor:
    """An (n, n) stand-in for ``x (X^T X / n + r I)^{-1/2}`` (r = ridge * tr / d), whose
    Gram matrix is the same; the full-sample test only needs that Gram matrix, so a wide
    ``x`` never needs its d x d covariance."""
    x = x.to(torch.float64)
    n, d = x.shape
    x = x - x.mean(0, keepdim=True)
    lam, u = _gram(x)
    r = ridge * (lam.sum() / n) / d
    return u * torch.sqrt(lam / (lam / n + r))
