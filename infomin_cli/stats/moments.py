"""Streaming sufficient statistics of two feature blocks: float64 sums that merge by addition."""

from __future__ import annotations

import torch


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
