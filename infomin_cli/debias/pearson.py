"""The Pearson penalty of the paper's fairness table: the mean absolute Pearson correlation
between the output's columns and the attribute's linear code (one-hot minus one class, or the
standardised columns). Linear only, and a first-order baseline: nothing to solve, so its
max-step is empty. Same interface as :class:`~infomin_cli.debias.slice_loss.SliceLoss`.

    penalty_B = mean_{j, c} |corr(f_j(Z_B), t_c(T_B))|
"""

from __future__ import annotations

import numpy as np
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.debias.correlation import batch_standardise
from infomin_cli.stats.features import AttributeEncoder


class PearsonLoss:
    def __init__(self, attribute: Attribute, *, seed: int = 0) -> None:
        self.attribute = attribute
        self.encoder = AttributeEncoder.for_linear(attribute, seed)

    def solve(self, fz: torch.Tensor, rows: np.ndarray) -> float:
        """No max-step: returns the penalty on these rows (for progress)."""
        with torch.no_grad():
            return float(self(fz.detach(), rows))

    def __call__(self, fz: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        x = batch_standardise(fz)
        t = batch_standardise(self.encoder(self.attribute.values[rows], x.device).to(x.dtype))
        corr = x.T @ t / x.shape[0]  # (k, columns of T's code)
        return corr.abs().mean()
