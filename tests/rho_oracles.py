"""Ground-truth maximal correlations for the rho* tests (independent of the estimator).

* :func:`hgr_histogram`: rho* of two 1-D samples as the second singular value of the
  normalised joint probability matrix ``P(a, t) / sqrt(p(a) p(t))`` on equal-mass bins.
  Binning is a coarsening (it can only lower rho*); the finite sample raises it by about
  ``bins / sqrt(n)`` at most; with 10^7 samples and 100 bins both are ~1e-3 (checked on
  Gaussian data, where rho* = |rho| is known).
* :func:`hgr_discrete`: rho* between Z and a discrete T from the exact posteriors
  ``p(c | Z)`` over a Monte Carlo sample of Z: the second eigenvalue of
  ``D^{-1/2} M D^{-1/2}``, ``M = E[p p^T]``, ``D = diag(pi)``, equivalently the top eigenvalue of
  ``max_g g^T (M - pi pi^T) g / g^T (diag pi - pi pi^T) g``; rho* is its square root.
* :func:`hgr_circle`: closed form for ``T = 1[Z1^2 + Z2^2 < r^2]`` with labels flipped with
  probability ``eps``, Z standard normal: ``rho*^2 = Var(P(T=1|Z)) / (pi (1 - pi))``.
"""

from __future__ import annotations

import math

import numpy as np


def _equal_mass_bins(x: np.ndarray, bins: int) -> np.ndarray:
    ranks = np.empty(len(x), dtype=np.int64)
    ranks[np.argsort(x, kind="stable")] = np.arange(len(x))
    return ranks * bins // len(x)


def hgr_histogram(a: np.ndarray, t: np.ndarray, bins: int = 100) -> float:
    ia = _equal_mass_bins(np.asarray(a), bins)
    it = _equal_mass_bins(np.asarray(t), bins)
    joint = np.bincount(ia * bins + it, minlength=bins * bins).reshape(bins, bins)
    p = joint / joint.sum()
    pa, pt = p.sum(axis=1), p.sum(axis=0)
    q = p / np.sqrt(np.outer(pa, pt))
    s = np.linalg.svd(q, compute_uv=False)  # s[0] == 1 (constant functions)
    return float(s[1])


def hgr_discrete(post: np.ndarray, pi: np.ndarray) -> float:
    """``post``: (m, C) exact posteriors p(c | z_i) for a sample z_i of the marginal of Z."""
    m = post.T @ post / len(post)
    d = 1.0 / np.sqrt(pi)
    ev = np.linalg.eigvalsh(d[:, None] * m * d[None, :])  # ascending; ev[-1] == 1
    return float(math.sqrt(max(ev[-2], 0.0)))


def hgr_circle(r2: float, eps: float) -> float:
    q = 1.0 - math.exp(-r2 / 2.0)  # P(chi^2_2 < r^2)
    pi = eps + (1.0 - 2.0 * eps) * q
    var = (1.0 - 2.0 * eps) ** 2 * q * (1.0 - q)
    return math.sqrt(var / (pi * (1.0 - pi)))


def class_means(n_classes: int, d: int, sep: float) -> np.ndarray:
    mu = np.zeros((n_classes, d))
    mu[np.arange(n_classes), np.arange(n_classes)] = sep
    return mu


def gaussian_mixture_posteriors(z: np.ndarray, mu: np.ndarray, pi: np.ndarray) -> np.ndarray:
    logit = z @ mu.T - 0.5 * (mu * mu).sum(axis=1) + np.log(pi)
    logit -= logit.max(axis=1, keepdims=True)
    p = np.exp(logit)
    return p / p.sum(axis=1, keepdims=True)
