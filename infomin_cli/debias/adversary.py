"""The adversarial baseline of the paper: a neural Renyi (HGR) adversary.

Same interface as :class:`~infomin_cli.debias.slice_loss.SliceLoss`, so the fit loop can use
either: ``solve`` is the max-step -- ``l2_steps`` gradient steps of two small networks h, g
maximising the batch correlation of h(f(Z)) and g(T) on the subset D' -- and the call is the
min-step penalty ``|corr(h(f(Z_B)), g(T_B))|`` with h and g held fixed. The adversary is kept
between max-steps (warm start), as adversarial infomin methods do. Its cost per max-step grows
with ``l2_steps``; the slice max-step is one closed-form solve. The networks default to the
shape of the rho* estimator's (3 SiLU layers of 128): the adversary is as strong as the
judge that reports the leak.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from infomin_cli.attributes import DISCRETE_KINDS, Attribute
from infomin_cli.debias.correlation import abs_corr, batch_standardise


def _mlp(d_in: int, hidden: int, layers: int) -> nn.Module:
    """``layers`` SiLU layers of ``hidden`` units and a scalar output."""
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.SiLU()]
    mods.append(nn.Linear(hidden if layers else d_in, 1))
    return nn.Sequential(*mods)


class RenyiAdversary:
    def __init__(self, attribute: Attribute, *, l2_steps: int = 10, hidden: int = 128,
                 layers: int = 3, lr: float = 1e-3, batch_size: int = 256,
                 seed: int = 0) -> None:
        self.attribute = attribute
        self.l2_steps, self.hidden, self.lr, self.batch_size = l2_steps, hidden, lr, batch_size
        self.layers = layers
        self.discrete = attribute.kind in DISCRETE_KINDS
        self.seed = int(seed)
        self._gen = torch.Generator().manual_seed(self.seed)
        self.h: nn.Module | None = None
        if self.discrete:
            self._t = torch.as_tensor(attribute.values, dtype=torch.int64)
        else:
            v = np.asarray(attribute.values, dtype=np.float64).reshape(len(attribute), -1)
            v = (v - v.mean(0)) / np.where(v.std(0) > 0, v.std(0), 1.0)
            self._t = torch.as_tensor(v, dtype=torch.float32)

    def _build(self, k: int) -> None:
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.h = _mlp(k, self.hidden, self.layers)
            if self.discrete:
                self.g: nn.Module = nn.Embedding(int(self.attribute.n_classes or 2), 1)
            else:
                self.g = _mlp(self._t.shape[1], min(self.hidden, 64), self.layers)
        self.opt = torch.optim.Adam(list(self.h.parameters()) + list(self.g.parameters()),
                                    lr=self.lr)

    def _corr(self, fz: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        t = self._t[torch.as_tensor(rows)].to(fz.device)
        p = self.h(batch_standardise(fz))[:, 0]
        q = self.g(t)[:, 0]
        return abs_corr(p, q)

    def solve(self, fz: torch.Tensor, rows: np.ndarray) -> float:
        """Max-step: ``l2_steps`` adversary updates on mini-batches of ``fz`` (detached)."""
        x = fz.detach()
        if self.h is None:
            self._build(x.shape[1])
        self.h.to(x.device)
        self.g.to(x.device)
        value = 0.0
        with torch.enable_grad():  # the fit loop may call this under no_grad
            for _ in range(self.l2_steps):
                pick = torch.randperm(len(rows), generator=self._gen)[: self.batch_size].numpy()
                loss = -self._corr(x[pick], rows[pick])
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                value = -float(loss.detach())
        return value

    def __call__(self, fz: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        if self.h is None:
            raise RuntimeError("RenyiAdversary: call solve() before the min-step")
        for p in (*self.h.parameters(), *self.g.parameters()):
            p.requires_grad_(False)
        try:
            return self._corr(fz, rows)
        finally:
            for p in (*self.h.parameters(), *self.g.parameters()):
                p.requires_grad_(True)
