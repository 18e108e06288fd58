"""The slice loss of *Scalable Infomin Learning*: SI between a network's output and T, with a
closed-form max-step and a differentiable min-step (no adversary network).

    max-step, on a subset D' (no gradients):
        x = standardise(f(Z_D'))                     column moments of the subset
        draw S slices theta on the sphere; with ``guided``, slice 0 is x's top linear
            canonical direction against T; encode T (AttributeEncoder, as the audit does)
        (w, v) = ridge CCA of the slice features and the T features, closed form: the
            pairwise max over slice pairs (pairwise_power_cca: a slice's features are powers
            of one value, so its moment block is Hankel) or one joint CCA (slice_cca)
    min-step, on another mini-batch B (gradients through f):
        x_B = batch-standardise(f(Z_B))
        p = (F_z(x_B) - m_z) w,   q = (F_t(T_B) - m_t) v
        SI_B = |corr(p, q)|

With ``kernel_features`` > 0 a :class:`~infomin_cli.debias.kernel_critic.KernelCritic` is
solved beside the slices at every max-step and its |corr| added in the min-step: it sees the
output's joint, rank-scale structure that smooth 1-D slice features miss.

With ``network_steps`` > 0 a neural critic (:class:`~infomin_cli.debias.adversary.
RenyiAdversary`, trained ``network_steps`` steps per max-step, warm-started) is a third critic
beside them, its |corr| added alike. Why, and only for wide outputs: in k dimensions a
random-feature critic needs ever more features and rows to see a leak that lives in how many
columns combine (clusters of rows): on a 40-column output where an MLP probe read sex at AUC
0.79, ridge read-outs of 256 random Fourier features on 2,000 rows read 0.50-0.55, and even
1,024 features on 30,000 rows at most 0.67 (benchmarks/README.md, ``census_ae``).

The featurisers and the solve are the audit's own (:mod:`infomin_cli.stats`), so the quantity
trained against is the quantity the audit measures.
"""

from __future__ import annotations

import numpy as np
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.debias.adversary import RenyiAdversary
from infomin_cli.debias.correlation import abs_corr, batch_standardise
from infomin_cli.debias.kernel_critic import KernelCritic
from infomin_cli.stats.cca import cca, pairwise_power_cca, slice_cca
from infomin_cli.stats.choices import Aggregation
from infomin_cli.stats.features import (
    AttributeEncoder,
    SliceFeaturizer,
    sphere_directions,
    tanh_features,
)
from infomin_cli.stats.moments import CrossMoments
from infomin_cli.stats.seeds import derive_seed

#: the network critic's seed stream (beside the slices' draws)
_NETWORK = 0x5EC0D


class SliceLoss:
    """SI_B(f(Z); T) for one attribute. Call :meth:`solve` (max-step) on detached outputs,
    then the object itself (min-step) on outputs that carry gradients."""

    def __init__(self, attribute: Attribute, *, slices: int = 100, order: int = 3,
                 ridge: float = 1e-3, aggregation: Aggregation = "joint", seed: int = 0,
                 guided: bool = True, kernel_features: int = 0,
                 network_steps: int = 0) -> None:
        self.attribute = attribute
        self.slices, self.order, self.ridge = slices, order, ridge
        self.aggregation = aggregation
        self.seed = int(seed)
        self.guided = guided
        self._draws = 0
        self.slicer: SliceFeaturizer | None = None
        self.encoder: AttributeEncoder | None = None
        self._pair: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.kernel = (KernelCritic(attribute, features=kernel_features, seed=seed)
                       if kernel_features else None)
        self.network = (RenyiAdversary(attribute, l2_steps=network_steps,
                                       seed=derive_seed(seed, _NETWORK))
                        if network_steps else None)

    def _directions(self, x: torch.Tensor, template: Attribute, seed: int,
                    count: int) -> np.ndarray:
        """``(k, count)`` unit slice directions: uniform on the sphere, and with ``guided`` slice 0
        is the top linear canonical direction of ``x`` against T (ridge CCA of x and T's linear
        code). In a k-dim output a random slice sees ~1/k of a linear leak and the output can
        rotate the leak away from the random slices; the guided slice is re-found at every
        max-step, so the min-step can only lower it by losing the leak."""
        theta = sphere_directions(x.shape[1], count, seed, 1)
        if self.guided:
            code = AttributeEncoder.for_linear(template, self.seed)
            sol = cca(x.to(torch.float64), code(template.values, x.device), self.ridge)
            direction = sol.w.cpu().numpy()
            norm = np.linalg.norm(direction)
            if norm > 0 and np.isfinite(norm):
                theta[:, 0] = direction / norm
        return theta

    def solve(self, fz: torch.Tensor, rows: np.ndarray) -> float:
        """Max-step on the outputs ``fz`` (m, k) of the rows ``rows`` of the attribute; new
        slices at every call. Returns the in-sample SI of the solve (for progress).

        Features are float32 here (a training signal, not a report; the small CCA blocks are
        solved in float64), and each slice is scaled to unit std on these rows."""
        with torch.no_grad():
            x = batch_standardise(fz.detach().to(torch.float32))
            seed = derive_seed(self.seed, self._draws)
            self._draws += 1
            template = self.attribute.take(rows)
            self.encoder = AttributeEncoder.for_sliced(template, self.slices, self.order, seed,
                                                       ranks=True)
            # a 1-D output's slices are all +-x: against an unsliced T every pair is the same
            # pair (tanh powers of -u are those of u up to sign), so one slice gives the same
            # max, S times cheaper
            count = 1 if x.shape[1] == 1 and self.encoder.encoding != "slices" else self.slices
            theta = self._directions(x, template, seed, count)
            th = torch.as_tensor(theta, dtype=x.dtype, device=x.device)
            corr = x.T @ x / x.shape[0]  # k x k: each slice's variance is theta' C theta
            sd = torch.einsum("ks,kj,js->s", th, corr, th).clamp_min(0).sqrt()
            sd = torch.where(sd > 1e-6, sd, torch.ones_like(sd))
            self.slicer = SliceFeaturizer(theta, sd.double().cpu().numpy(), self.order)
            u = x @ (th / sd)  # unit-variance slices
            ftf = self.encoder(template.values, x.device).to(x.dtype)
            if self.aggregation == "pairwise":  # only the blocks the pairs use, from powers
                sol, mz, mt = pairwise_power_cca(torch.tanh(u), self.order, ftf,
                                                 self.encoder.blocks, self.ridge)
            else:
                fzf = tanh_features(u, self.order)
                mom = CrossMoments(fzf.shape[1], ftf.shape[1], x.device)
                mom.update(fzf, ftf)
                sol = slice_cca(mom.covariances(), (1, fzf.shape[1]), (1, ftf.shape[1]),
                                "joint", self.ridge)
                mz, mt = mom.means()
            self._w = sol.w.to(torch.float32)
            self._v = sol.v.to(torch.float32)
            self._mz, self._mt = mz.to(torch.float32), mt.to(torch.float32)
            self._pair = None
            if sol.pair is not None:  # w is zero outside slice i: the min-step needs only it
                i, K = sol.pair[0], self.order
                self._pair = ((th[:, i] / sd[i]).to(torch.float32), self._w[i * K:(i + 1) * K],
                              self._mz[i * K:(i + 1) * K])
            values = [sol.corr]
            if self.kernel is not None:
                values.append(self.kernel.solve(x, rows))
            if self.network is not None:
                values.append(self.network.solve(fz, rows))
            return max(values)

    def __call__(self, fz: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        """Min-step: ``|corr(p, q)|`` on a batch of outputs (gradients flow into ``fz``)."""
        if self.slicer is None:
            raise RuntimeError("SliceLoss: call solve() before the min-step")
        x = batch_standardise(fz)
        dev, dt = x.device, x.dtype
        if self._pair is not None:  # the best pair's slice alone: the same p, S times cheaper
            direction, w, mz = (a.to(dev, dt) for a in self._pair)
            p = (tanh_features((x @ direction)[:, None], self.order) - mz) @ w
        else:
            p = (self.slicer(x) - self._mz.to(dev, dt)) @ self._w.to(dev, dt)
        t = self.encoder(self.attribute.values[rows], dev).to(dt)  # type: ignore[misc]
        q = (t - self._mt.to(dev, dt)) @ self._v.to(dev, dt)
        value = abs_corr(p, q)
        if self.kernel is not None:
            value = value + self.kernel(x, rows)
        if self.network is not None:
            value = value + self.network(fz, rows)
        return value
