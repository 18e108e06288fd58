"""The slice loss of *Scalable Infomin Learning*: SI between a network's output and T, with a
closed-form max-step and a differentiable min-step (no adversary network).

    max-step, on a subset D' (no gradients):
        x = standardise(f(Z_D'))                     column moments of the subset
        draw S slices theta (SliceFeaturizer), encode T (AttributeEncoder, as the audit does)
        (w, v) = ridge CCA of the slice features and the T features (slice_cca, closed form)
    min-step, on another mini-batch B (gradients through f):
        x_B = batch-standardise(f(Z_B))
        p = (F_z(x_B) - m_z) w,   q = (F_t(T_B) - m_t) v
        SI_B = |corr(p, q)|

The featurisers and the solve are the audit's own (:mod:`infomin_cli.stats`), so the quantity
trained against is the quantity the audit measures.
"""

from __future__ import annotations

import numpy as np
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.stats.cca import Aggregation, slice_cca
from infomin_cli.stats.features import AttributeEncoder, SliceFeaturizer
from infomin_cli.stats.moments import CrossMoments


def batch_standardise(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Columns centred and scaled by the batch's own moments (differentiable)."""
    return (x - x.mean(0, keepdim=True)) / (x.std(0, unbiased=False, keepdim=True) + eps)


def abs_corr(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    p = p - p.mean()
    q = q - q.mean()
    return (p * q).sum().abs() / torch.sqrt((p * p).sum() * (q * q).sum() + eps)


class SliceLoss:
    """SI_B(f(Z); T) for one attribute. Call :meth:`solve` (max-step) on detached outputs,
    then the object itself (min-step) on outputs that carry gradients."""

    def __init__(self, attribute: Attribute, *, slices: int = 100, order: int = 3,
                 ridge: float = 1e-3, aggregation: Aggregation = "joint", seed: int = 0) -> None:
        self.attribute = attribute
        self.slices, self.order, self.ridge = slices, order, ridge
        self.aggregation = aggregation
        self.seed = int(seed)
        self._draws = 0
        self.slicer: SliceFeaturizer | None = None
        self.encoder: AttributeEncoder | None = None

    def solve(self, fz: torch.Tensor, rows: np.ndarray) -> float:
        """Max-step on the outputs ``fz`` (m, k) of the rows ``rows`` of the attribute; new
        slices at every call. Returns the in-sample SI of the solve (for progress)."""
        with torch.no_grad():
            x = batch_standardise(fz.detach().to(torch.float64))
            seed = self.seed * 1_000_003 + self._draws
            self._draws += 1
            self.slicer = SliceFeaturizer.draw(x.shape[1], self.slices, self.order, seed,
                                               calibration=x.cpu().numpy())
            template = self.attribute.take(rows)
            self.encoder = AttributeEncoder.for_sliced(template, self.slices, self.order, seed,
                                                       ranks=True)
            fzf = self.slicer(x)
            ftf = self.encoder(template.values, x.device).to(torch.float64)
            mom = CrossMoments(fzf.shape[1], ftf.shape[1], x.device)
            mom.update(fzf, ftf)
            blocks = (self.slices, self.order) if self.aggregation == "pairwise" else (
                1, fzf.shape[1])
            tblocks = self.encoder.blocks if self.aggregation == "pairwise" else (
                1, ftf.shape[1])
            sol = slice_cca(mom.covariances(), blocks, tblocks, self.aggregation, self.ridge)
            self._w = sol.w.to(torch.float32)
            self._v = sol.v.to(torch.float32)
            mz, mt = mom.means()
            self._mz, self._mt = mz.to(torch.float32), mt.to(torch.float32)
            return sol.corr

    def __call__(self, fz: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        """Min-step: ``|corr(p, q)|`` on a batch of outputs (gradients flow into ``fz``)."""
        if self.slicer is None:
            raise RuntimeError("SliceLoss: call solve() before the min-step")
        x = batch_standardise(fz)
        dev, dt = x.device, x.dtype
        p = (self.slicer(x) - self._mz.to(dev, dt)) @ self._w.to(dev, dt)
        t = self.encoder(self.attribute.values[rows], dev).to(dt)  # type: ignore[misc]
        q = (t - self._mt.to(dev, dt)) @ self._v.to(dev, dt)
        return abs_corr(p, q)
