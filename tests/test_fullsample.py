"""The full-sample permutation null's block statistic: the pruned maximum (spectral norms only
for the pairs whose Frobenius norm reaches the largest row/column-norm floor) is the maximum
over every pair, bit for bit, and the null of a multi-column attribute is unchanged by it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import infomin_cli as im
from infomin_cli.stats import fullsample
from infomin_cli.stats.fullsample import _statistic, permutation_null
from infomin_cli.stats.fullsample import every_pair_statistic as _every_pair

SHAPES = [((100, 3), (100, 3)), ((100, 3), (1, 3)), ((100, 3), (1, 1)), ((1, 16), (1, 4)),
          ((50, 2), (3, 5)), ((7, 4), (1, 30)), ((1, 1), (1, 1)), ((3, 3), (4, 2))]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("x_blocks, y_blocks", SHAPES)
def test_pruned_maximum_equals_every_pair(x_blocks, y_blocks, dtype):
    g = torch.Generator().manual_seed(x_blocks[0] * 31 + y_blocks[1])
    p, q = x_blocks[0] * x_blocks[1], y_blocks[0] * y_blocks[1]
    m = torch.randn(40, p, q, generator=g, dtype=dtype)
    m[1] = 0  # all blocks zero: every pair is a candidate
    m[2, 0, 0] = 50  # one block dominates
    m[3] = m[3, :1, :1]  # every entry equal: ties everywhere
    m[4] *= 1e-20  # tiny values
    m[5, :, : y_blocks[1]] *= 5  # one column of blocks larger: many near-candidates
    got = _statistic(m, x_blocks, y_blocks)
    assert got.dtype == torch.float64
    assert torch.equal(got, _every_pair(m, x_blocks, y_blocks))


def test_pruning_skips_most_pairs_under_independence(monkeypatch):
    """The point of the pruning: with 100 x 100 pairs of 3 x 3 blocks, few spectral norms."""
    counted = []
    real = torch.linalg.matrix_norm

    def counting(a, *args, **kw):
        counted.append(a.shape[0])
        return real(a, *args, **kw)

    monkeypatch.setattr(fullsample.torch.linalg, "matrix_norm", counting)
    m = torch.randn(20, 300, 300, generator=torch.Generator().manual_seed(0))
    _statistic(m, (100, 3), (100, 3))
    assert sum(counted) < 0.05 * 20 * 100 * 100


def test_multicolumn_null_is_exact_and_unchanged():
    """A 10-column attribute's full-sample null through the pruned statistic equals the
    every-pair null on the same permutations (so p-values keep their exactness)."""
    rng = np.random.default_rng(5)
    n = 200
    x = torch.as_tensor(rng.standard_normal((n, 30)))
    y = torch.as_tensor(rng.standard_normal((n, 30)))
    got = permutation_null(x, y, (10, 3), (10, 3), 50, seed=3)

    idx = torch.cat(list(fullsample.permutation_indices(n, 50, 3, x.device, 50)))
    ys = y.to(torch.float32)[idx]
    m = torch.einsum("np,bnq->bpq", x.to(torch.float32), ys) / n
    assert torch.equal(got.null, _every_pair(m, (10, 3), (10, 3)))
    assert got.observed == float(_every_pair((x.T @ y / n)[None], (10, 3), (10, 3))[0])


def test_multicolumn_attribute_pvalues_are_uniform_under_independence():
    """The SI p-value of a 3-column attribute, independent of Z, is uniform: the fraction
    below each level stays within binomial noise (80 draws)."""
    pvals = []
    for s in range(80):
        rng = np.random.default_rng(700 + s)
        z = rng.standard_normal((150, 4)).astype(np.float32)
        t = rng.standard_normal((150, 3)).astype(np.float32)
        res = im.sliced_dependence(z, im.Attribute("t", "multidim", t),
                                   im.SlicedConfig(slices=10, permutations=99), seed=s)
        pvals.append(res.p_value)
    pvals = np.array(pvals)
    for level in (0.1, 0.25, 0.5):
        # binomial(80, level): 3.5 standard deviations either side
        sd = np.sqrt(level * (1 - level) / len(pvals))
        assert abs(np.mean(pvals <= level) - level) < 3.5 * sd + 1 / 100
