"""The two differentiable pieces every penalty's min-step uses: batch standardisation of a
network's output and the absolute Pearson correlation of two canonical variates."""

from __future__ import annotations

import torch


def batch_standardise(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Columns centred and scaled by the batch's own moments (differentiable)."""
    return (x - x.mean(0, keepdim=True)) / (x.std(0, unbiased=False, keepdim=True) + eps)


def abs_corr(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    p = p - p.mean()
    q = q - q.mean()
    return (p * q).sum().abs() / torch.sqrt((p * p).sum() * (q * q).sum() + eps)
