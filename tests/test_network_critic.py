"""The slice penalty's network critic: on a wide output whose attribute lives in how two of
its 40 columns combine, it reads what the closed-form critics do not; it is on by default only
for wide no-target outputs."""

from __future__ import annotations

import numpy as np
import pytest

import infomin_cli as im
from infomin_cli.debias.config import NETWORK_CRITIC_ABOVE, DebiasConfig, resolve
from infomin_cli.debias.slice_loss import SliceLoss


def _xor(n: int = 6000, k: int = 40, flip: float = 0.1, seed: int = 0):
    """k standard normal columns; a = [x1 x2 > 0], flipped on ``flip`` of the rows, so
    rho* = corr(a, [x1 x2 > 0]) = 1 - 2 flip = 0.8. No direction carries it linearly, and in
    40 dimensions a random slice or a random Fourier feature weighs x1 and x2 too little to see
    their product."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k)).astype(np.float32)
    sign = (x[:, 0] * x[:, 1] > 0).astype(int)
    a = np.where(rng.random(n) < 1 - flip, sign, 1 - sign)
    return x, im.Attribute.categorical("a", a)


def _read(critic, x, rows: np.ndarray) -> float:
    import torch

    with torch.no_grad():
        return float(critic(torch.as_tensor(x[rows]), rows))


def test_the_network_critic_reads_a_many_column_leak_the_closed_form_critics_miss():
    import torch

    from infomin_cli.debias.correlation import batch_standardise

    torch.manual_seed(0)
    x, a = _xor()
    fit, held = np.arange(4000), np.arange(4000, 6000)
    xt = torch.as_tensor(x)
    loss = SliceLoss(a, slices=100, order=5, aggregation="pairwise", seed=1,
                     kernel_features=256, network_steps=10)
    for _ in range(60):
        loss.solve(xt[fit], fit)
    # out of sample, each critic alone (the min-step penalty is their sum)
    slices = SliceLoss(a, slices=100, order=5, aggregation="pairwise", seed=1)
    slices.solve(xt[fit], fit)
    assert _read(slices, x, held) < 0.1
    assert float(loss.kernel(batch_standardise(xt[held]), held)) < 0.1
    network = _read(loss.network, x, held)
    assert 0.3 <= network <= 0.85  # rho* = 0.8; 600 steps of training read part of it
    with torch.no_grad():
        assert float(loss(xt[held], held)) >= network  # the sum of the three


def test_the_network_critic_reads_little_from_independent_data():
    import torch

    torch.manual_seed(0)
    x, _ = _xor(seed=3)
    a = im.Attribute.categorical("a", np.random.default_rng(4).integers(0, 2, len(x)))
    loss = SliceLoss(a, slices=20, order=3, aggregation="pairwise", seed=2, network_steps=10)
    xt = torch.as_tensor(x)
    for _ in range(60):
        loss.solve(xt[:4000], np.arange(4000))
    assert _read(loss.network, x, np.arange(4000, 6000)) < 0.1  # noise ~ 1/sqrt(2000)


def test_the_network_critic_is_on_by_default_only_for_wide_no_target_outputs():
    wide, narrow = NETWORK_CRITIC_ABOVE + 1, NETWORK_CRITIC_ABOVE
    assert resolve(DebiasConfig(), wide, False).network_critic
    assert not resolve(DebiasConfig(), narrow, False).network_critic
    assert not resolve(DebiasConfig(), wide, True).network_critic
    assert not resolve(DebiasConfig(network_critic=False), wide, False).network_critic
    assert resolve(DebiasConfig(network_critic=True), 2, True).network_critic
    # a critic of the slice penalty: another penalty never records one
    other = DebiasConfig(penalty="adversarial")
    assert not resolve(other, wide, False).network_critic


@pytest.mark.slow
def test_a_wide_no_target_fit_trains_against_the_network_critic():
    from infomin_cli.debias.fit import debias

    x, a = _xor(3000, k=24, seed=5)
    proj, hist = debias(x, [a], [], DebiasConfig(max_steps=40, eval_every=20, dim=20),
                        seed=0, device="cpu")
    assert hist.config.network_critic and hist.config.dim == 20
    assert proj(x).shape == (3000, 20)
