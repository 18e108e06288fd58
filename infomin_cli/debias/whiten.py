"""Whitened outputs: a projection whose output has no axis of tiny variance.

Why: an information penalty has no gradient along invertible maps (for injective f, any
dependence measure of f(Z) and T equals that of Z and T), and a critic that standardises
columns -- like column-wise probes -- is blind to an axis holding a sliver of every column's
variance. Without this, a no-target projection kept the attribute on such axes (under 0.02% of
its variance): stock probes read sex AUC 0.54-0.61 from its columns and 0.71-0.80 from its
principal axes (benchmarks/hidden_directions.py); a 4-d output with a target, 0.57-0.62 and
0.64-0.65. Whitened in training, every direction of the output has unit variance, so what the
critic, the heads and a probe see is the same. Used when the output has 1 < k < d columns:
whitening is blind to scale, and a d -> d map (a linear one above all) removes only by shrinking
a direction to nothing, which whitening would undo.

    training:  f(x) = (g(x) - m_B) L_B^-T,   L_B L_B' = Cov_B(g(x)) + eps I   (the batch's own)
    exported:  the same with the training rows' m and L, folded into g's last linear layer
"""

from __future__ import annotations

import copy

import torch
from torch import nn

#: ridge on the output covariance, relative to its mean variance
EPS = 1e-6


def whitening(x: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, L)`` of the rows ``x``: ``L L' = Cov(x) + eps * mean variance * I``
    (Cholesky; differentiable)."""
    mean = x.mean(0)
    xc = x - mean
    cov = xc.T @ xc / x.shape[0]
    chol = torch.linalg.cholesky(cov + eps * torch.diagonal(cov).mean().clamp_min(1e-30)
                                 * torch.eye(x.shape[1], dtype=x.dtype, device=x.device))
    return mean, chol


def batch_whiten(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Rows of ``x`` centred and whitened by their own covariance (differentiable)."""
    mean, chol = whitening(x, eps)
    return torch.linalg.solve_triangular(chol, (x - mean).T, upper=False).T


class BatchWhitened(nn.Module):
    """``inner`` (a linear map, or an ``nn.Sequential`` ending in one) with its output
    whitened by the batch's covariance, in float64; :meth:`folded` exports it."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return batch_whiten(self.inner(x).to(torch.float64)).to(x.dtype)

    @torch.no_grad()
    def folded(self, x: torch.Tensor) -> nn.Module:
        """A copy of ``inner`` whose last linear layer also whitens: its output on the rows
        ``x`` has mean 0 and covariance I (up to the ridge)."""
        inner = copy.deepcopy(self.inner)
        last = inner[-1] if isinstance(inner, nn.Sequential) else inner
        mean, chol = whitening(inner(x).to(torch.float64))
        weight = torch.linalg.solve_triangular(chol, last.weight.to(torch.float64), upper=False)
        bias = torch.linalg.solve_triangular(chol, (last.bias.to(torch.float64) - mean)[:, None],
                                             upper=False)[:, 0]
        last.weight.copy_(weight.to(last.weight.dtype))
        last.bias.copy_(bias.to(last.bias.dtype))
        return inner
