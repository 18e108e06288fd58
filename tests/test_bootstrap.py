"""The bootstrap interval of a held-out correlation: the row-count form that
``stats.heldout.bootstrap_ci`` computes is, to rounding, the correlation of the drawn rows
(the definition, computed here by gathering them), resample by resample."""

from __future__ import annotations

import pytest
import torch

from infomin_cli.stats.heldout import _generator, bootstrap_ci


def by_definition(p, q, reps, seed, level=0.95, chunk_elems=1 << 23):
    """Gather each resample's rows (the same random stream) and correlate them."""
    n = int(p.shape[0])
    chunk = max(1, chunk_elems // n)
    g = _generator(p.device, seed)
    p64, q64 = p.to(torch.float64), q.to(torch.float64)
    vals = []
    for start in range(0, reps, chunk):
        b = min(chunk, reps - start)
        idx = torch.randint(0, n, (b, n), generator=g)
        pb, qb = p64[idx], q64[idx]
        pb, qb = pb - pb.mean(1, keepdim=True), qb - qb.mean(1, keepdim=True)
        den = torch.sqrt((pb * pb).sum(1) * (qb * qb).sum(1))
        r = torch.where(den > 0, (pb * qb).sum(1) / den, 0.0)
        vals.append((r.amax(1) if r.ndim == 2 else r).clamp(0, 1))
    boot = torch.cat(vals)
    tail = (1 - level) / 2
    lo, hi = torch.quantile(boot, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return float(lo), float(hi)


@pytest.mark.parametrize("shape", [(500,), (2000,), (700, 3)])
@pytest.mark.parametrize("offset", [0.0, 1e4])  # far from 0: centring must lose nothing
@pytest.mark.parametrize("chunk_elems", [1 << 23, 5000])  # one chunk, or many
def test_bootstrap_is_the_correlation_of_the_drawn_rows(shape, offset, chunk_elems):
    g = torch.Generator().manual_seed(shape[0])
    p = torch.randn(*shape, generator=g) + offset
    q = 0.4 * (p - offset) + torch.randn(*shape, generator=g) - offset
    got = bootstrap_ci(p, q, 300, seed=5, chunk_elems=chunk_elems)
    want = by_definition(p, q, 300, seed=5, chunk_elems=chunk_elems)
    assert got == pytest.approx(want, abs=1e-10)
    assert 0 < got[0] < got[1] < 1


def test_independent_rows_give_an_interval_around_zero_and_a_constant_gives_zero():
    g = torch.Generator().manual_seed(1)
    p, q = torch.randn(4000, generator=g), torch.randn(4000, generator=g)
    lo, hi = bootstrap_ci(p, q, 400, seed=0)
    assert lo == 0.0 and hi < 0.05  # clipped at 0; |corr| of 4000 rows ~ 0.016 sd
    assert bootstrap_ci(torch.zeros(300), q[:300], 50, seed=0) == (0.0, 0.0)
