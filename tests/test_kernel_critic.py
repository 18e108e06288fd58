"""The kernel critic of the slice penalty: it reads what smooth slice features miss (a leak in
the bulk of a heavy-tailed column), reads nothing from independent data, and its normal-score
map is the empirical quantile map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

import infomin_cli as im
from infomin_cli.debias.correlation import batch_standardise
from infomin_cli.debias.kernel_critic import KernelCritic, NormalScoreCurve
from infomin_cli.debias.slice_loss import SliceLoss


def _banded(n: int = 6000, flip: float = 0.1, seed: int = 0):
    """A lognormal column whose quartile bands alternate the attribute (flipped on ``flip`` of
    the rows): rho* = corr(a, band) = 1 - 2 * flip = 0.8; a second, independent column."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, 2))
    band = np.floor(4 * norm.cdf(g[:, 0])).astype(int) % 2
    a = np.where(rng.random(n) < 1 - flip, band, 1 - band)
    x = torch.as_tensor(np.column_stack([np.exp(2 * g[:, 0]), g[:, 1]]), dtype=torch.float32)
    return x, im.Attribute.categorical("a", a)


def test_the_kernel_critic_reads_a_leak_in_the_bulk_that_the_slices_half_miss():
    x, a = _banded()
    fit, held = np.arange(3000), np.arange(3000, 6000)
    xs = batch_standardise(x)
    kernel = KernelCritic(a, seed=1)
    kernel.solve(xs[fit], fit)
    read = float(kernel(xs[held], held))  # out of sample: weights from the other rows
    assert 0.6 <= read <= 0.85  # the truth is 0.8
    slices = SliceLoss(a, slices=100, order=5, aggregation="pairwise", seed=1)
    slices.solve(x[fit], fit)
    assert float(slices(x[held], held)) <= 0.5  # tanh powers of a lognormal: half of it
    # and the slice loss with the kernel beside it pushes on both
    both = SliceLoss(a, slices=100, order=5, aggregation="pairwise", seed=1,
                     kernel_features=256)
    assert both.solve(x[fit], fit) >= 0.6


def test_the_kernel_critic_reads_nothing_from_independent_data():
    rng = np.random.default_rng(3)
    x = torch.as_tensor(rng.lognormal(size=(6000, 3)), dtype=torch.float32)
    a = im.Attribute.categorical("a", rng.integers(0, 3, 6000))
    kernel = KernelCritic(a, seed=2)
    xs = batch_standardise(x)
    kernel.solve(xs[:3000], np.arange(3000))
    assert float(kernel(xs[3000:], np.arange(3000, 6000))) < 0.1  # ~1/sqrt(3000) noise


def test_the_min_step_carries_gradients_into_the_output():
    x, a = _banded(2000)
    kernel = KernelCritic(a, features=64, seed=0)
    xs = batch_standardise(x)
    kernel.solve(xs, np.arange(2000))
    out = xs.clone().requires_grad_(True)
    kernel(out, np.arange(2000)).backward()
    assert out.grad is not None and torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    with pytest.raises(RuntimeError, match="solve"):
        KernelCritic(a)(xs, np.arange(2000))


def test_normal_score_curve_is_the_empirical_quantile_map():
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.exponential(size=(20001, 1)), dtype=torch.float32)
    curve = NormalScoreCurve(x, knots=64)
    s = curve(x)[:, 0].numpy()
    assert np.all(np.diff(s[np.argsort(x[:, 0].numpy())]) >= 0)  # monotone
    inner = (s > -2.2) & (s < 2.2)  # between the end knots: ranks become normal quantiles
    ranks = norm.ppf((np.argsort(np.argsort(x[:, 0].numpy())) + 0.5) / len(s))
    assert np.max(np.abs(s[inner] - ranks[inner])) < 0.05
    far = torch.tensor([[-1e6], [1e6]])
    assert curve(far)[:, 0].tolist() == pytest.approx([s.min(), s.max()])  # flat beyond


@pytest.mark.parametrize("seed", [0, 1])
def test_wider_outputs_get_wider_bandwidths(seed):
    """A many-column interaction in a 12-column output: the attribute is which side of its
    median the squared norm of 6 columns falls (flipped on 10% of the rows, so rho* = 0.8).
    The bandwidths scaled to the output's width (sqrt(k / 5)) read more of it, out of sample,
    than the same bandwidths unscaled, and stay below the truth."""
    rng = np.random.default_rng(seed)
    n, k = 6000, 12
    g = rng.standard_normal((n, k))
    r = (g[:, :6] ** 2).sum(1)
    band = (r > np.median(r)).astype(int)
    a = im.Attribute.categorical("a", np.where(rng.random(n) < 0.9, band, 1 - band))
    xs = batch_standardise(torch.as_tensor(g, dtype=torch.float32))
    fit, held = np.arange(3000), np.arange(3000, 6000)
    reads = {}
    for ref in (5, None):
        kernel = KernelCritic(a, seed=1, reference_dim=ref)
        kernel.solve(xs[fit], fit)
        reads[ref] = float(kernel(xs[held], held))
    assert 0.45 <= reads[5] <= 0.85
    assert reads[5] > reads[None] + 0.03
