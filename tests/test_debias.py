"""Slice infomin learning: the slice loss (max-step, differentiable min-step) and the fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import infomin_cli as im
from infomin_cli.debias.config import DebiasConfig
from infomin_cli.debias.fit import fit_projection
from infomin_cli.debias.slice_loss import SliceLoss


def _data(n=4000, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 8)).astype(np.float32)
    t = im.Attribute.categorical("t", (np.abs(z[:, 0]) > 0.67).astype(int))
    y = im.Attribute.categorical("y", (z[:, 1] + 0.3 * rng.standard_normal(n) > 0).astype(int))
    return z, t, y


@pytest.mark.parametrize("aggregation", ["joint", "pairwise"])
def test_min_step_on_the_solve_rows_reproduces_the_solve(aggregation):
    z, t, _ = _data(2000)
    loss = SliceLoss(t, slices=20, aggregation=aggregation, seed=0)
    rows = np.arange(1500)
    fz = torch.as_tensor(z[rows])
    value = loss.solve(fz, rows)
    assert 0.2 < value <= 1.0  # T = 1{|z0| > 0.67}: a strong signal, seen through 20 slices
    assert float(loss(fz, rows)) == pytest.approx(value, abs=0.02)


def test_min_step_gradient_matches_finite_differences_and_targets_the_leak():
    z, t, _ = _data(1500)
    loss = SliceLoss(t, slices=40, seed=0)  # enough slices that some see z0, whatever the seed
    rows = np.arange(1000)
    loss.solve(torch.as_tensor(z[rows]), rows)
    b = np.arange(1000, 1300)
    x = torch.as_tensor(z[b], dtype=torch.float64).requires_grad_()
    loss(x, b).backward()
    g = x.grad.abs().sum(0)
    assert int(torch.argmax(g)) == 0  # the column that carries T
    eps = 1e-5
    xp, xm = x.detach().clone(), x.detach().clone()
    xp[3, 0] += eps
    xm[3, 0] -= eps
    fd = (float(loss(xp, b)) - float(loss(xm, b))) / (2 * eps)
    assert float(x.grad[3, 0]) == pytest.approx(fd, rel=1e-3, abs=1e-6)


def test_solve_before_min_step_is_required():
    _, t, _ = _data(200)
    with pytest.raises(RuntimeError, match="solve"):
        SliceLoss(t)(torch.zeros(10, 3), np.arange(10))


@pytest.mark.slow
def test_fit_removes_a_nonlinear_leak_and_keeps_the_target():
    """T = 1{|z0| > 0.67} (rho* ~0.9) and a target read off z1: the frontier is rho* = 0 with
    the target intact. A linear projection trained against the slice loss reaches it, judged
    on 4,000 fresh rows of the same distribution by independent estimators (rho*, linear) that
    the fit never saw (its own 800 validation rows leave rho* 160 test rows, where the noise
    floor of the max of its two read-outs is ~0.15)."""
    z, t, y = _data()
    f, std, _ = fit_projection(z, [t], [y], DebiasConfig(beta=5.0), seed=0)
    z, t, y = _data(seed=2)
    val = np.arange(len(z))
    with torch.no_grad():
        fz = f(torch.as_tensor(std.transform(z), dtype=torch.float32)).numpy()
    cfg = im.RhoConfig(bootstrap=0, permutations=0)
    before = im.rho_star(z[val], t.take(val), cfg).value
    after = im.rho_star(fz[val], t.take(val), cfg).value
    lin = im.LinearConfig(permutations=0, bootstrap=0)
    keep_before = im.linear_dependence(z[val], y.take(val), lin).value
    keep_after = im.linear_dependence(fz[val], y.take(val), lin).value
    assert before > 0.8 and after < 0.1, (before, after)
    assert keep_after >= 0.97 * keep_before, (keep_before, keep_after)


def test_fit_is_deterministic_and_validates():
    z, t, y = _data(600)
    cfg = DebiasConfig(max_steps=20, slices=10)
    a = fit_projection(z, [t], [y], cfg, seed=3)[0]
    b = fit_projection(z, [t], [y], cfg, seed=3)[0]
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(),
                                                 b.state_dict().values()))
    with pytest.raises(ValueError, match="attribute"):
        fit_projection(z, [], [y], cfg)
    with pytest.raises(ValueError, match="rows"):
        fit_projection(z[:50], [t.take(np.arange(50))], [], cfg)
    with pytest.raises(ValueError):
        DebiasConfig(model="cnn")


def test_debias_round_trip_is_bit_exact(tmp_path):
    """debias -> save -> load -> apply reproduces the fitted projection's output exactly."""
    from infomin_cli.debias.fit import debias
    from infomin_cli.debias.projection import Projection, apply_batches

    z, t, y = _data(800)
    for model in ("linear", "mlp"):
        proj, hist = debias(z, [t], [y], DebiasConfig(model=model, max_steps=10, slices=10,
                                                      hidden=16), seed=1)
        assert proj.metadata["attributes"] == ["t"] and proj.metadata["targets"] == ["y"]
        path = tmp_path / f"{model}.safetensors"
        proj.save(path)
        back = Projection.load(path)
        assert np.array_equal(back(z), proj(z))
        assert np.array_equal(np.concatenate(list(apply_batches(back, [z]))), proj(z))


@pytest.mark.slow
def test_adversarial_baseline_trains_against_a_renyi_adversary():
    """The paper's baseline behind the same fit: an adversary (h, g) retrained L2 steps per
    max-step; it also removes the synthetic leak, and its max-step cost grows with L2."""
    z, t, y = _data()
    f, std, hist = fit_projection(z, [t], [y], DebiasConfig(beta=5.0, penalty="adversarial",
                                                            l2_steps=10), seed=0)
    val = hist.val_rows
    with torch.no_grad():
        fz = f(torch.as_tensor(std.transform(z), dtype=torch.float32)).numpy()
    after = im.rho_star(fz[val], t.take(val), im.RhoConfig(bootstrap=0, permutations=0)).value
    assert after < 0.15 and len(hist.max_step_seconds) > 10
    with pytest.raises(ValueError):
        DebiasConfig(penalty="gan")


def test_pairwise_power_solve_equals_the_full_moment_route():
    """The max-step builds each slice's moment block from power means (Hankel); the answer is
    the full-moment pairwise CCA's on the tanh features: pair, correlation and weights."""
    from infomin_cli.stats.cca import pairwise_power_cca, slice_cca
    from infomin_cli.stats.features import tanh_features
    from infomin_cli.stats.moments import CrossMoments

    rng = np.random.default_rng(0)
    u = torch.as_tensor(rng.standard_normal((700, 10)))
    fz = tanh_features(u, 3)
    ft = torch.as_tensor(rng.standard_normal((700, 6)))
    ft[:, 3:6] += 0.6 * fz[:, 12:15]  # T slice 1 reads Z slice 4's features
    mom = CrossMoments(30, 6)
    mom.update(fz, ft)
    full = slice_cca(mom.covariances(), (10, 3), (2, 3), "pairwise", 1e-3)
    fast, mz, mt = pairwise_power_cca(torch.tanh(u), 3, ft, (2, 3), 1e-3)
    assert fast.pair == full.pair == (4, 1)  # the planted pair
    assert fast.corr == pytest.approx(full.corr, abs=1e-12)
    assert torch.allclose(fast.w, full.w, atol=1e-10)
    assert torch.allclose(fast.v, full.v, atol=1e-10)
    assert torch.allclose(mz, fz.mean(0)) and torch.allclose(mt, ft.mean(0))


def test_kept_weights_are_the_moving_average_of_the_iterates():
    """With one validation, after step 2, the kept weights are d * w1 + (1 - d) * w2 with the
    warmed-up decay d = min(decay, 2 / 11): the average of the iterates, not the last one (w1
    and w2 are taken from fits without the average; it does not change the trajectory)."""
    z, t, y = _data(600)
    cfg = DebiasConfig(slices=10, eval_every=2, ema_decay=0.0)
    w1 = fit_projection(z, [t], [y], replace(cfg, max_steps=1), seed=2)[0].state_dict()
    w2 = fit_projection(z, [t], [y], replace(cfg, max_steps=2), seed=2)[0].state_dict()
    avg = fit_projection(z, [t], [y], replace(cfg, max_steps=2, ema_decay=0.9),
                         seed=2)[0].state_dict()
    for name, a in avg.items():
        assert not torch.equal(w1[name], w2[name])
        assert torch.allclose(a, 2 / 11 * w1[name] + 9 / 11 * w2[name], atol=1e-6), name
    with pytest.raises(ValueError, match="ema_decay"):
        DebiasConfig(ema_decay=1.0)


def test_tanh_features_in_place_path_equals_the_differentiable_one():
    from infomin_cli.stats.features import tanh_features

    u = torch.randn(50, 7, dtype=torch.float64)
    with torch.no_grad():
        fast = tanh_features(u, 4)
    slow = tanh_features(u.clone().requires_grad_(), 4)
    assert slow.requires_grad and torch.allclose(fast, slow.detach(), atol=0, rtol=0)


def test_guided_slice_points_at_a_linear_leak_in_a_wide_output():
    """In 32 dimensions a random slice sees ~1/32 of a linear leak; the guided slice 0 is the
    leak's direction (the linear canonical direction), found again at every max-step."""
    rng = np.random.default_rng(3)
    n, k = 3000, 32
    direction = rng.standard_normal(k)
    direction /= np.linalg.norm(direction)
    t = rng.integers(0, 2, n)
    x = rng.standard_normal((n, k)) + 0.8 * np.outer(t - 0.5, direction)
    attr = im.Attribute.categorical("t", t)
    loss = SliceLoss(attr, slices=50, seed=0)
    loss.solve(torch.as_tensor(x, dtype=torch.float32), np.arange(n))
    theta = loss.slicer.theta
    assert abs(theta[:, 0] @ direction) > 0.95
    assert np.max(np.abs(theta[:, 1:].T @ direction)) < 0.8  # the others are random
    unguided = SliceLoss(attr, slices=50, seed=0, guided=False)
    unguided.solve(torch.as_tensor(x, dtype=torch.float32), np.arange(n))
    assert np.max(np.abs(unguided.slicer.theta.T @ direction)) < 0.8


def test_default_dim_follows_the_targets():
    from infomin_cli.debias.config import MAX_DEFAULT_DIM, default_dim

    y2 = im.Attribute.categorical("y", np.arange(100) % 2)
    y5 = im.Attribute.categorical("y5", np.arange(100) % 5)
    yc = im.Attribute.continuous("yc", np.linspace(0, 1, 100))
    assert default_dim(32) == 32  # no target: reconstruction_dim decides
    assert default_dim(32, [y2]) == 1  # what the heads read: no room beside it for a leak
    assert default_dim(32, [y5]) == 4
    assert default_dim(32, [y2, yc]) == 2
    assert default_dim(3, [y5]) == 3
    y40 = im.Attribute.categorical("y40", np.arange(100) % 40)  # heads read 39 columns
    assert default_dim(64, [y40]) == MAX_DEFAULT_DIM  # capped: each is room for a leak
    assert default_dim(12, [y40]) == 12


def test_unset_defaults_follow_whether_there_is_a_target():
    from infomin_cli.debias.config import (
        BETA_NO_TARGET,
        BETA_TARGET,
        PATIENCE_NO_TARGET,
        PATIENCE_TARGET,
        DebiasConfig,
        resolve,
    )

    with_t, without = resolve(DebiasConfig(), 1, True), resolve(DebiasConfig(), 5, False)
    assert (with_t.beta, with_t.patience) == (BETA_TARGET, PATIENCE_TARGET)
    assert (without.beta, without.patience) == (BETA_NO_TARGET, PATIENCE_NO_TARGET)
    assert PATIENCE_NO_TARGET > PATIENCE_TARGET
    given = resolve(DebiasConfig(patience=7, beta=0.1), 5, False)  # what is given is kept
    assert (given.beta, given.patience) == (0.1, 7)
    with pytest.raises(ValueError):
        DebiasConfig(patience=0)


def test_a_fit_stops_after_patience_validations_without_improvement():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 3)).astype(np.float32)
    t = im.Attribute.categorical("t", (z[:, 0] > 0).astype(int))
    cfg = im.DebiasConfig(model="linear", max_steps=400, eval_every=10, slices=5, patience=3)
    _, hist = im.debias(z, [t], [], cfg, seed=0, device="cpu")
    assert hist.config.patience == 3
    # it stopped at the third validation after its best, or ran to the end
    assert hist.steps == min(400, hist.best_step + 3 * 10)


def test_reconstruction_dim_keeps_95_percent_of_what_removal_leaves():
    """Standardised columns: one carries the attribute, three copy one latent (a principal
    component of variance ~3), two are independent noise (1 each). Once the attribute's
    direction is removed, 5 units remain: 1 component keeps 60%, 2 keep 80%, 3 keep all."""
    from infomin_cli.debias.config import reconstruction_dim

    rng = np.random.default_rng(0)
    n = 20000
    a = rng.integers(0, 2, n)
    g = rng.standard_normal(n)
    z = np.column_stack([2.0 * a - 1 + 0.01 * rng.standard_normal(n),
                         *(g + 0.01 * rng.standard_normal(n) for _ in range(3)),
                         rng.standard_normal((n, 2))])
    z = (z - z.mean(0)) / z.std(0)
    attr = im.Attribute.categorical("a", a)
    assert reconstruction_dim(z, [attr], keep=0.95) == 3
    assert reconstruction_dim(z, [attr], keep=0.75) == 2
    assert reconstruction_dim(z, [attr], keep=0.5) == 1


@pytest.mark.slow
def test_sweep_keeps_the_smallest_beta_under_the_limit_or_the_last():
    from infomin_cli.debias.sweep import sweep_beta

    z, t, y = _data(4000)  # 800 validation rows: enough for rho* to judge
    # 8 -> 7: a linear map can drop z0's direction. (8 -> 8 can only shrink it: the output
    # then holds |z0| on a principal axis of tiny variance, which rho*'s principal view reads
    # at 0.79 where the column read-outs saw < 0.3.)
    cfg = DebiasConfig(model="linear", dim=7, max_steps=200, slices=20)
    chosen, trials = sweep_beta(z, [t], [y], cfg, (0.0, 5.0), max_leakage=0.2,
                                stop_early=False, seed=0, device="cpu")
    assert [tr.beta for tr in trials] == [0.0, 5.0]
    assert trials[0].rho > 0.3 and trials[1].rho < 0.12  # no penalty leaks; beta 5 does not
    assert chosen is trials[1] and all(0.5 < tr.utility <= 1 for tr in trials)
    last, _ = sweep_beta(z, [t], [y], cfg, (5.0, 0.0), seed=0, device="cpu")
    assert last.beta == 0.0  # without a limit: the last beta given


@pytest.mark.slow
def test_pearson_penalty_removes_linear_leakage_only():
    """The paper's Pearson baseline: a linear leak goes, the symmetric one (|z0|) stays."""
    rng = np.random.default_rng(5)
    n = 4000
    z = rng.standard_normal((n, 6)).astype(np.float32)
    lin = im.Attribute.categorical("lin", (z[:, 2] + 0.5 * rng.standard_normal(n) > 0).astype(int))
    sym = im.Attribute.categorical("sym", (np.abs(z[:, 0]) > 0.67).astype(int))
    y = im.Attribute.categorical("y", (z[:, 1] > 0).astype(int))
    from infomin_cli.debias.fit import debias

    cfg = DebiasConfig(penalty="pearson", beta=5.0, dim=6, max_steps=300)
    proj, hist = debias(z, [lin, sym], [y], cfg, seed=0, device="cpu")
    assert proj.metadata["method"] == "pearson"
    val = hist.val_rows
    out = proj(z[val])
    lcfg = im.LinearConfig(permutations=0, bootstrap=0)
    assert im.linear_dependence(z[val], lin.take(val), lcfg).value > 0.6
    assert im.linear_dependence(out, lin.take(val), lcfg).value < 0.15
    rho = im.rho_star(out, sym.take(val), im.RhoConfig(bootstrap=0, permutations=0), seed=0)
    assert rho.value > 0.5  # invisible to a correlation penalty


def test_no_target_output_is_white_so_no_axis_can_hide_the_attribute():
    """An output of k > 1 columns (here without a target) is exported whitened: on its
    training rows mean 0 and covariance I, no principal axis of tiny variance (where the
    unwhitened output kept sex, benchmarks/hidden_directions.py), so rho*'s principal view is
    not even needed. A 1-D or d-dimensional output, or ``whiten=False``, is left as it is."""
    from infomin_cli.debias.fit import debias
    from infomin_cli.estimators.tree_readout import PrincipalView, TreeConfig

    z, t, y = _data(2000)
    cfg = DebiasConfig(max_steps=60, dim=4)

    def clean(proj, rows):  # the map without its output noise (tests/test_output_noise.py)
        return proj.module()(torch.from_numpy(z[rows])).detach().numpy().astype(np.float64)

    proj, hist = debias(z, [t], [], cfg, seed=0, device="cpu")
    assert hist.config.whiten is True
    out = clean(proj, hist.train_rows)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(np.cov(out, rowvar=False, bias=True), np.eye(4), atol=1e-3)
    assert PrincipalView.fit(out, TreeConfig()) is None
    lin, hist = debias(z, [t], [], replace(cfg, model="linear"), seed=0, device="cpu")
    out = clean(lin, hist.train_rows)
    np.testing.assert_allclose(np.cov(out, rowvar=False, bias=True), np.eye(4), atol=1e-3)
    tgt, hist = debias(z, [t], [y], replace(cfg, dim=3), seed=0, device="cpu")
    assert hist.config.whiten is True  # with a target too
    out = tgt(z[hist.train_rows]).astype(np.float64)
    np.testing.assert_allclose(np.cov(out, rowvar=False, bias=True), np.eye(3), atol=1e-3)
    _, hist = debias(z, [t], [y], replace(cfg, dim=None), seed=0, device="cpu")
    assert hist.config.dim == 1 and hist.config.whiten is False
    _, hist = debias(z, [t], [], replace(cfg, whiten=False), seed=0, device="cpu")
    assert hist.config.whiten is False
    _, hist = debias(z, [t], [], replace(cfg, dim=8), seed=0, device="cpu")  # d -> d
    assert hist.config.whiten is False


def test_folded_whitening_is_the_batch_whitening_of_the_same_rows():
    from torch import nn

    from infomin_cli.debias.whiten import BatchWhitened

    torch.manual_seed(0)
    inner = nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.Linear(16, 3))
    x = torch.randn(500, 6)
    wrapped = BatchWhitened(inner)
    with torch.no_grad():
        raw = inner(x).clone()
        expected = wrapped(x)
        got = wrapped.folded(x)(x)
        after = inner(x)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(after, raw, atol=0, rtol=0)  # folding copies; inner unchanged


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_a_1d_output_solves_one_slice_with_the_value_of_all(kind):
    """Every slice of a 1-D output is +-x, so against an unsliced T the S pairs are one pair:
    the solve uses one slice, and its value is the max over S = 100 sign-flipped copies."""
    from infomin_cli.debias.correlation import batch_standardise
    from infomin_cli.stats.cca import pairwise_power_cca
    from infomin_cli.stats.features import AttributeEncoder

    rng = np.random.default_rng(7)
    n = 1500
    x = rng.standard_normal((n, 1)).astype(np.float32)
    values = (np.abs(x[:, 0]) > 0.67).astype(int) if kind == "binary" else (
        x[:, 0] ** 2 + 0.5 * rng.standard_normal(n))
    t = (im.Attribute.categorical("t", values) if kind == "binary"
         else im.Attribute.continuous("t", values))
    rows = np.arange(n)
    loss = SliceLoss(t, slices=100, order=5, aggregation="pairwise", seed=3)
    value = loss.solve(torch.as_tensor(x), rows)
    assert loss.slicer is not None and loss._w.numel() == 5  # one slice of K = 5 features
    xs = batch_standardise(torch.as_tensor(x))
    signs = torch.as_tensor(rng.choice([-1.0, 1.0], size=(1, 100)), dtype=torch.float32)
    enc = AttributeEncoder.for_sliced(t.take(rows), 100, 5, 0, ranks=True)
    full, _, _ = pairwise_power_cca(torch.tanh(xs @ signs), 5, enc(t.values, xs.device)
                                    .to(xs.dtype), enc.blocks, loss.ridge)
    assert value == pytest.approx(full.corr, abs=1e-4)
    assert 0.3 < value <= 1.0  # a strong signal in either case
