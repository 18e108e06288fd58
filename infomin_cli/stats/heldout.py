"""Held-out evaluation of fixed projections: correlation, permutation null, bootstrap.

With the projections ``p = f(Z)`` and ``q = g(T)`` fitted on other rows, the correlation of
``p`` and ``q`` on the eval rows is an honest estimate, and permuting ``q`` against ``p`` is an
exact permutation test (the eval pairs are exchangeable under independence, given the fit).
The interval is a percentile bootstrap over the eval rows, conditional on the fit.

Several read-outs at once: with ``p`` and ``q`` of shape ``(n, m)`` (column ``j`` of ``p``
paired with column ``j`` of ``q``, every pair fitted on other rows), the statistic is the
largest of the ``m`` correlations; each permutation (and each bootstrap resample) moves the
rows of every ``q`` column together, so the test of the maximum stays exact and the interval
is of the maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infomin_cli.stats.seeds import legacy_offset


@dataclass(frozen=True)
class HeldOut:
    """Held-out evaluation of fixed projections ``p``, ``q`` on eval rows.

    ``value = clip(corr(p, q), 0, 1)``; ``corr`` is the signed correlation. The permutation
    null permutes q against p; ``null_mean``/``null_q95`` are of the clipped null values.
    ``p_value = (1 + #{r_b >= r_obs}) / (1 + B)`` on the signed correlations, which equals
    the clipped statistic's p-value whenever ``value > 0`` (clipping is monotone) and keeps
    p uniform under independence when the observed correlation is negative (the clipped
    version would give p = 1 there).
    """

    value: float
    corr: float
    p_value: float | None
    null_mean: float | None
    null_q95: float | None
    ci: tuple[float, float] | None
    ci_method: str | None
    permutations: int
    bootstrap: int

    def summary(self) -> dict:
        """The fields every held-out result type reports, as keyword arguments."""
        return {"value": self.value, "p_value": self.p_value, "null_mean": self.null_mean,
                "null_q95": self.null_q95, "ci": self.ci, "ci_method": self.ci_method,
                "corr": self.corr}


def _generator(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
    return g


def _standardise(x: torch.Tensor) -> torch.Tensor:
    """Centred, unit-norm columns (a zero column stays zero)."""
    if x.ndim == 2:
        x = x - x.mean(0)
        nrm = torch.linalg.vector_norm(x, dim=0)
        return torch.where(nrm > 0, x / nrm.clamp_min(1e-300), x)
    x = x - x.mean()
    nrm = torch.linalg.vector_norm(x)
    return x / nrm if nrm > 0 else x


def pearson(p: torch.Tensor, q: torch.Tensor) -> float:
    p = _standardise(p.to(torch.float64))
    q = _standardise(q.to(torch.float64))
    return float((p * q).sum())


def bootstrap_ci(
    p: torch.Tensor,
    q: torch.Tensor,
    reps: int,
    *,
    seed: int,
    level: float = 0.95,
    chunk_elems: int = 1 << 23,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``clip(corr(p, q), 0, 1)`` over the rows (``reps``
    resamples, seeded on the tensors' device); of the largest column correlation for
    ``(n, m)`` inputs.

    A resample is its row counts ``w`` (b, n), so its moments are one product
    ``w @ [p, q, p², q², pq] / n`` of the once-centred inputs (the correlation of the drawn
    rows, to rounding) instead of gathering and centring b copies of the rows.
    """
    dev = p.device
    n = int(p.shape[0])
    chunk = max(1, chunk_elems // max(n, 1))
    g = _generator(dev, seed)
    one_d = p.ndim == 1
    p64 = p.to(torch.float64).reshape(n, -1)
    q64 = q.to(torch.float64).to(dev).reshape(n, -1)
    p64, q64 = p64 - p64.mean(0), q64 - q64.mean(0)
    m = p64.shape[1]
    moments = torch.cat([p64, q64, p64 * p64, q64 * q64, p64 * q64], 1)
    vals = []
    for start in range(0, reps, chunk):
        b = min(chunk, reps - start)
        idx = torch.randint(0, n, (b, n), generator=g, device=dev)
        counts = torch.zeros(b, n, dtype=torch.float64, device=dev)
        counts.scatter_add_(1, idx, torch.ones((), dtype=torch.float64, device=dev).expand(b, n))
        sp, sq, spp, sqq, spq = ((counts @ moments) / n).split(m, 1)
        den = torch.sqrt((spp - sp * sp).clamp_min(0) * (sqq - sq * sq).clamp_min(0))
        r = torch.where(den > 0, (spq - sp * sq) / den.clamp_min(1e-300), 0.0)
        r = r[:, 0] if one_d else r.amax(1)  # (b, m) read-outs: the largest
        vals.append(r.clamp(0.0, 1.0))
    boot = torch.cat(vals)
    tail = (1.0 - level) / 2.0
    lo, hi = torch.quantile(boot, torch.tensor([tail, 1.0 - tail], dtype=boot.dtype, device=dev))
    return float(lo), float(hi)


def heldout_evaluation(
    p: torch.Tensor,
    q: torch.Tensor,
    *,
    permutations: int = 1000,
    bootstrap: int = 500,
    seed: int = 0,
    level: float = 0.95,
    chunk_elems: int = 1 << 23,
) -> HeldOut:
    """Correlation of fixed projections on eval rows, its permutation null and bootstrap CI;
    ``(n, m)`` inputs: of the largest of the ``m`` paired correlations (module docstring).

    Cost ``O((B + bootstrap) * n_eval)`` time and ``O(chunk_elems)`` extra memory. Random
    streams are seeded from ``seed`` on the tensors' device (identical per device type).
    """
    dev = p.device
    n = int(p.shape[0])
    ps = _standardise(p.to(torch.float64))
    qs = _standardise(q.to(torch.float64)).to(dev)
    r_obs = float((ps * qs).sum(0).max())
    value = min(max(r_obs, 0.0), 1.0)
    chunk = max(1, chunk_elems // max(n, 1))

    p_value = null_mean = null_q95 = None
    if permutations > 0:
        g = _generator(dev, legacy_offset(seed, 1))
        nulls = []
        for start in range(0, permutations, chunk):
            b = min(chunk, permutations - start)
            idx = torch.stack([torch.randperm(n, generator=g, device=dev) for _ in range(b)])
            if qs.ndim == 2:
                nulls.append(torch.einsum("bnm,nm->bm", qs[idx], ps).amax(1))
            else:
                nulls.append(qs[idx] @ ps)
        null = torch.cat(nulls)
        p_value = (1.0 + float((null >= r_obs - 1e-12).sum())) / (1.0 + permutations)
        nc = null.clamp(0.0, 1.0)
        null_mean = float(nc.mean())
        null_q95 = float(torch.quantile(nc, 0.95))

    ci = None
    if bootstrap > 0:
        ci = bootstrap_ci(p, q, bootstrap, seed=legacy_offset(seed, 2), level=level,
                          chunk_elems=chunk_elems)
    return HeldOut(
        value,
        r_obs,
        p_value,
        null_mean,
        null_q95,
        ci,
        "bootstrap-eval-rows" if ci is not None else None,
        permutations,
        bootstrap,
    )
