"""A kernel critic of f(Z) and T beside the slices: random Fourier features of the output's
normal scores at several bandwidths, solved in closed form like the slices.

Why: the slices see f(Z) through smooth functions (tanh powers) of standardised 1-D
projections. An embedding's columns are often skewed or heavy-tailed (ReLU/GELU units: a
point mass and a long tail), so the bulk of the rows sits in a sliver of a standardised
slice, and a dependence that lives there -- or in how two output columns combine -- is
invisible to the slices while a tree ensemble (which splits on ranks, in several columns at
once) reads it. This critic looks where the trees look:

    max-step, on the rows D' (no gradients):
        s = N(f(Z_D'))            per column, the empirical normal scores: a piecewise-linear
                                  map through ``knots`` quantiles of D', flat beyond its ends
        phi(s) = cos(s W + b)     W ~ N(0, 1 / h^2) for bandwidths h in ``bandwidths``
                                  times sqrt(k / ``reference_dim``), ``features`` columns in
                                  all, b ~ U(0, 2 pi)
        (w, v) = ridge CCA of phi(s) and T's linear code (one-hot / standardised columns),
                 ridge ``ridge * mean diag Cov(phi)``
    min-step, on a batch B (gradients through N, which is differentiable almost everywhere):
        |corr((phi(N(x_B)) - m_phi) w, (T_B - m_T) v)|

A cosine feature of normal scores is bounded, so no row dominates; a bandwidth below 1 resolves
structure within a tenth of the rows.

Why the bandwidths grow with the output's k columns: two rows of k unit-variance columns lie
about sqrt(2k) apart, so a fixed bandwidth sees ever less of the rows' neighbourhoods as k
grows -- at k = 12 only the widest of the four gave a kernel not close to 0 between most pairs,
and what the critic left there was a many-column interaction that gradient boosting read (AUC
0.60; with no interactions allowed, 0.53). The bandwidths are those set on 5-column outputs
(``reference_dim``), scaled to keep their share of that distance.
"""

from __future__ import annotations

import numpy as np
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.debias.correlation import abs_corr
from infomin_cli.stats.features import AttributeEncoder
from infomin_cli.stats.seeds import generator

BANDWIDTHS: tuple[float, ...] = (0.3, 0.6, 1.2, 2.4)
#: the output size the bandwidths are stated for (module docstring)
REFERENCE_DIM = 5


class NormalScoreCurve:
    """Per column of ``x`` (n, k): the piecewise-linear map through ``knots`` + 1 empirical
    quantiles of ``x`` onto the matching N(0, 1) quantiles; constant beyond the end knots.
    Differentiable in its input almost everywhere (the slope is the local inverse density)."""

    def __init__(self, x: torch.Tensor, knots: int = 64) -> None:
        levels = (torch.arange(knots + 1, dtype=torch.float64) + 0.5) / (knots + 1)
        xs = torch.quantile(x.detach().to(torch.float64), levels.to(x.device), dim=0).T
        span = (xs[:, -1:] - xs[:, :1]).clamp_min(1e-6)
        xs = torch.cummax(xs, dim=1).values  # strictly increasing: ties broken by a tiny step
        xs = xs + 1e-6 * span * torch.arange(xs.shape[1], dtype=xs.dtype, device=xs.device)
        self.xs = xs.to(torch.float32).contiguous()  # (k, knots + 1)
        self.ys = torch.special.ndtri(levels).to(torch.float32).to(x.device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xs, ys = self.xs.to(x.device), self.ys.to(x.device)
        idx = torch.searchsorted(xs, x.detach().T.contiguous()).T.clamp(1, xs.shape[1] - 1)
        x0 = torch.gather(xs, 1, (idx - 1).T).T
        x1 = torch.gather(xs, 1, idx.T).T
        y0, y1 = ys[idx - 1], ys[idx]
        step = ((x - x0) / (x1 - x0)).clamp(0.0, 1.0)
        return y0 + step * (y1 - y0)


class KernelCritic:
    """The kernel half of the slice loss for one attribute (module docstring): call
    :meth:`solve` on detached outputs, then the object on outputs with gradients."""

    def __init__(self, attribute: Attribute, *, features: int = 256,
                 bandwidths: tuple[float, ...] = BANDWIDTHS, knots: int = 64,
                 ridge: float = 0.1, seed: int = 0,
                 reference_dim: int | None = REFERENCE_DIM) -> None:
        if features < len(bandwidths):
            raise ValueError(f"features must be at least {len(bandwidths)}")
        self.attribute = attribute
        self.features, self.bandwidths, self.knots = features, bandwidths, knots
        self.ridge = ridge
        self.reference_dim = reference_dim
        self.seed = int(seed)
        self._draws = 0
        self._ready = False

    def solve(self, x: torch.Tensor, rows: np.ndarray) -> float:
        """Max-step on standardised outputs ``x`` (m, k) of ``rows``; the in-sample canonical
        correlation."""
        with torch.no_grad():
            x = x.detach().to(torch.float32)
            rng = generator(self.seed, 0xC0517, self._draws)
            self._draws += 1
            k = x.shape[1]
            per = -(-self.features // len(self.bandwidths))
            widen = 1.0 if self.reference_dim is None else float(np.sqrt(k / self.reference_dim))
            omega = np.concatenate([rng.standard_normal((k, per)) / (h * widen)
                                    for h in self.bandwidths], axis=1)[:, : self.features]
            self._omega = torch.as_tensor(omega, dtype=torch.float32, device=x.device)
            self._phase = torch.as_tensor(rng.uniform(0, 2 * np.pi, self.features),
                                          dtype=torch.float32, device=x.device)
            self._curve = NormalScoreCurve(x, self.knots)
            f = self._phi(x)
            template = self.attribute.take(rows)
            self._encoder = AttributeEncoder.for_linear(template, self.seed)
            t = self._encoder(template.values, x.device).to(torch.float32)
            mf, mt = f.mean(0), t.mean(0)
            fc, tc = f - mf, t - mt
            n = len(f)
            # products of bounded, centred features in float32; the small solves in float64
            cff, cft, ctt = ((a.T @ b / n).to(torch.float64) for a, b in
                             ((fc, fc), (fc, tc), (tc, tc)))
            eye_f = torch.eye(len(cff), dtype=cff.dtype, device=cff.device)
            eye_t = torch.eye(len(ctt), dtype=ctt.dtype, device=ctt.device)
            lam = self.ridge * torch.diagonal(cff).mean()
            a = torch.linalg.solve(cff + lam * eye_f, cft)  # (F, q): ridge regression of t
            # T side: the top eigenvector of Ctt^-1 Cft' A (a q x q problem, q = T's width)
            m = torch.linalg.solve(ctt + 1e-9 * torch.trace(ctt) * eye_t, cft.T @ a)
            evals, evecs = torch.linalg.eig(m)
            top = int(torch.argmax(evals.real))
            v = evecs[:, top].real
            v = v / v.norm().clamp_min(1e-12)
            self._w = (a @ v).to(torch.float32)
            self._v = v.to(torch.float32)
            self._mf, self._mt = mf.to(torch.float32), mt.to(torch.float32)
            self._ready = True
            return float(evals.real[top].clamp(0.0, 1.0).sqrt())

    def _phi(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cos(self._curve(x) @ self._omega.to(x.device, x.dtype)
                         + self._phase.to(x.device, x.dtype))

    def __call__(self, x: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        """Min-step: ``|corr(p, q)|`` on standardised outputs ``x`` of ``rows``."""
        if not self._ready:
            raise RuntimeError("KernelCritic: call solve() before the min-step")
        dev, dt = x.device, x.dtype
        p = (self._phi(x) - self._mf.to(dev, dt)) @ self._w.to(dev, dt)
        t = self._encoder(self.attribute.values[rows], dev).to(dt)
        q = (t - self._mt.to(dev, dt)) @ self._v.to(dev, dt)
        return abs_corr(p, q)
