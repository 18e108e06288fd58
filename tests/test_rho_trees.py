"""rho* against the stock probes a user would try: the tree read-out follows folded maps that a
smooth network misses, the max of the two read-outs keeps an exact permutation test, and two
seeds agree (tests/probes.py holds the independent probes)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from probes import strongest

import infomin_cli as im
from infomin_cli.estimators.tree_readout import TreeConfig, fit_tree_readout
from infomin_cli.stats.heldout import heldout_evaluation

TOL = 0.03  # the bound: rho* >= the strongest stock probe - 0.03


def _bands(n: int, seed: int, continuous: bool) -> tuple[np.ndarray, im.Attribute]:
    """A folded map, as a debiasing projection makes: T shifts one column up or down, the sign
    flipping in bands of another column 20 times over its range (period ~0.3), so that no
    smooth function of the columns correlates with T."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3))
    band = np.sign(np.sin(20.0 * z[:, 0]))
    if continuous:
        t = rng.standard_normal(n)
        x = np.column_stack([z[:, 0], z[:, 1] + 0.7 * t * band, z[:, 2]])
        return x, im.Attribute.continuous("t", t)
    t = rng.integers(0, 2, n)
    x = np.column_stack([z[:, 0], z[:, 1] + 0.5 * (2 * t - 1) * band, z[:, 2]])
    return x, im.Attribute.categorical("t", t)


@pytest.mark.parametrize("continuous", [False, True])
def test_folded_map_is_read_by_the_trees(continuous):
    x, attr = _bands(20_000, 0, continuous)
    r = im.rho_star(x, attr, seed=0)
    probes = [strongest(x, attr.values, discrete=not continuous, seed=s,
                        probes=("logistic", "trees")) for s in range(2)]
    tree_probe = float(np.mean([p["trees"] for p in probes]))
    assert tree_probe > 0.3  # the map hides nothing from a stock tree ensemble
    assert max(p["logistic"] for p in probes) < 0.05  # ... and everything from a linear one
    assert r.value >= tree_probe - TOL, (r, probes)
    assert r.readout == "trees" and r.value == pytest.approx(r.trees, abs=1e-12)
    assert r.neural < r.trees - 0.05  # the network alone under-reads it (the old rho*)
    assert any("boosted trees read" in n for n in r.notes)


@pytest.mark.slow
def test_debiased_sample_is_read_at_least_as_well_as_the_stock_probes():
    """A 2-D output of the slice remover on the shipped sample (fitted on 70% of the rows):
    rho* of the whole output is at least the strongest of four stock probes trained on the
    train rows and scored on the test rows, minus 0.03."""
    from infomin_cli.debias.config import DebiasConfig
    from infomin_cli.debias.fit import debias

    z = np.load("sample_data/adult_embeddings.npy", allow_pickle=False).astype(np.float32)
    tab = pq.read_table("sample_data/adult_embeddings.parquet", columns=["sex", "income"])
    sex = im.Attribute.categorical("sex", tab.column(0).to_numpy(zero_copy_only=False))
    inc = im.Attribute.categorical("income", tab.column(1).to_numpy(zero_copy_only=False))
    fit = slice(0, 5600)
    proj, _ = debias(z[fit], [sex.take(fit)], [inc.take(fit)],
                     DebiasConfig(max_steps=300, dim=2), seed=0, device="cpu")
    with torch.no_grad():
        out = proj(torch.from_numpy(z)).numpy()
    probes = strongest(out, sex.values, discrete=True, seed=0)
    r = im.rho_star(out, sex, seed=0)
    assert r.value >= max(probes.values()) - TOL, (r, probes)
    assert r.p_value < 0.01


@pytest.mark.slow
def test_leaced_sample_reads_like_the_strongest_probe():
    """LEACE leaves the linear leakage at 0 and a nonlinear one: rho* reads what the strongest
    stock probe reads, within 0.03 below and 0.1 above."""
    from infomin_cli.debias.leace import leace_projection

    z = np.load("sample_data/adult_embeddings.npy", allow_pickle=False).astype(np.float32)
    sex = pq.read_table("sample_data/adult_embeddings.parquet", columns=["sex"]).column(0)
    sex = im.Attribute.categorical("sex", sex.to_numpy(zero_copy_only=False))
    erased = np.asarray(leace_projection(z, [sex])(z), dtype=np.float32)
    lin = im.linear_dependence(erased, sex, im.LinearConfig(permutations=0, bootstrap=0))
    assert lin.value < 0.02
    best = max(strongest(erased, sex.values, discrete=True, seed=0).values())
    r = im.rho_star(erased, sex, seed=0)
    assert best - TOL <= r.value <= best + 0.1, (r, best)


def test_two_seeds_agree_on_a_continuous_attribute():
    """The estimate moves with the seed (another split, other test rows) by test-row noise
    only: every pair of seeds' intervals overlap and the spread is within 0.06."""
    x, attr = _bands(10_000, 3, continuous=True)
    rs = [im.rho_star(x, attr, seed=s) for s in range(3)]
    values = [r.value for r in rs]
    assert max(values) - min(values) <= 0.06, rs
    for a in rs:
        for b in rs:
            assert a.ci[0] <= b.ci[1] and b.ci[0] <= a.ci[1], (a.ci, b.ci)


@pytest.mark.slow
def test_p_values_of_the_max_are_uniform_under_independence():
    """200 null datasets (half binary, half continuous T): the test of the larger read-out,
    both frozen and scored on the same permutations, is exact (KS against uniform)."""
    from scipy import stats

    cfg = im.RhoConfig(hidden=16, layers=1, max_epochs=2, min_epoch_steps=10, bootstrap=0,
                       permutations=199, tree=TreeConfig(max_iter=20, patience=5))
    pvals, trees_won = [], 0
    for s in range(200):
        rng = np.random.default_rng(700 + s)
        z = rng.standard_normal((300, 3))
        attr = (im.Attribute.categorical("t", rng.integers(0, 2, 300)) if s % 2 else
                im.Attribute.continuous("t", rng.standard_normal(300)))
        r = im.rho_star(z, attr, cfg, seed=s)
        pvals.append(r.p_value)
        trees_won += r.readout == "trees"
    assert stats.kstest(pvals, "uniform").pvalue > 0.01
    assert 40 < trees_won < 160  # both read-outs take part


def test_max_statistic_of_paired_read_outs():
    """``heldout_evaluation`` of (n, 2) read-outs: the value is the larger correlation, the
    1-column call is unchanged, and the null is of the maximum (so >= either column's)."""
    g = torch.Generator().manual_seed(0)
    p = torch.randn(400, 2, generator=g, dtype=torch.float64)
    q = torch.randn(400, 2, generator=g, dtype=torch.float64)
    q[:, 1] += 0.5 * p[:, 1]
    both = heldout_evaluation(p, q, permutations=199, bootstrap=100, seed=3)
    one = [heldout_evaluation(p[:, j], q[:, j], permutations=199, bootstrap=100, seed=3)
           for j in range(2)]
    assert both.value == pytest.approx(max(o.value for o in one), abs=1e-12)
    assert both.null_q95 >= max(o.null_q95 for o in one) - 1e-12
    assert both.p_value == pytest.approx(1 / 200)
    assert both.ci[0] <= both.value <= both.ci[1]


def test_tree_readout_of_classes_is_the_posterior_canonical_correlation():
    """For separable class means the canonical correlation of predicted probabilities and
    the one-hot code approaches the oracle rho* (the posteriors' canonical correlation)."""
    rng = np.random.default_rng(8)
    mu = np.array([[0.0, 0.0], [2.5, 0.0], [0.0, 2.5]])
    c = rng.integers(0, 3, 12_000)
    z = rng.standard_normal((12_000, 2)) + mu[c]
    tr, va, te = slice(0, 7000), slice(7000, 9000), slice(9000, None)
    ro = fit_tree_readout(z[tr], c[tr], z[va], c[va], classes=3, seed=0)
    got = np.corrcoef(ro.score(z[te]), ro.target(c[te]))[0, 1]
    # oracle: exact posteriors of the Gaussian mixture, top canonical pair with the classes
    logp = -0.5 * ((z[te, None, :] - mu[None]) ** 2).sum(-1)
    post = np.exp(logp - logp.max(1, keepdims=True))
    post /= post.sum(1, keepdims=True)
    onehot = np.eye(3)[c[te]]
    from infomin_cli.stats.cca import cca

    truth = float(cca(torch.from_numpy(post[:, :2]), torch.from_numpy(onehot[:, :2]),
                      ridge=1e-9).corr)
    assert truth - 0.03 <= got <= truth + 0.02, (got, truth)
    assert math.isfinite(got) and ro.iterations >= 1


def test_trees_off_is_the_network_alone():
    x, attr = _bands(3000, 1, continuous=False)
    cfg = im.RhoConfig(trees=False, bootstrap=0, permutations=0)
    r = im.rho_star(x, attr, cfg, seed=0)
    assert r.readout == "neural" and r.trees is None
    assert r.value == pytest.approx(r.neural, abs=1e-12)


def _hidden(n: int, seed: int, eps: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Binary ``t``; ``v`` is N(0, 1) for t = 1 and +-1 + N(0, 0.2^2) for t = 0 (uncorrelated
    with t: a linear probe reads nothing); ``Z`` is a random rotation of ``[u1, u2, u3, eps v]``
    (u standard normal): ``v`` is a sliver of every column, on a principal axis with ~eps^2 / 3
    of the variance."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    v = np.where(t == 1, rng.standard_normal(n), rng.choice([-1.0, 1.0], n)
                 + 0.2 * rng.standard_normal(n))
    x = np.column_stack([rng.standard_normal((n, 3)), eps * v])
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    return (x @ q.T).astype(np.float32), t


def _hidden_rho() -> float:
    """rho* of ``_hidden``'s (Z, t) = of (v, t): for a binary t with P(t = 1) = 1/2,
    rho*^2 = E[(P(t = 1 | v) - 1/2)^2] / (1/4), by quadrature of the two densities."""
    from scipy.stats import norm

    v = np.linspace(-8, 8, 200_001)
    f1 = norm.pdf(v)
    f0 = 0.5 * (norm.pdf(v, 1, 0.2) + norm.pdf(v, -1, 0.2))
    post = f1 / (f1 + f0)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2: trapz
    return float(np.sqrt(trapezoid((post - 0.5) ** 2 * 0.5 * (f0 + f1), v) / 0.25))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_leak_on_an_axis_of_tiny_variance_is_read_on_the_principal_axes(seed):
    """rho* of ``_hidden`` (truth 0.647 by quadrature) is read by the trees on the principal
    view; in columns alone (``principal_below=0``, the old read-out) it reads ~0."""
    truth = _hidden_rho()
    assert truth == pytest.approx(0.647, abs=0.002)
    z, t = _hidden(4000, seed)
    attr = im.Attribute.categorical("t", t)
    r = im.rho_star(z, attr, seed=seed)
    assert truth - 0.12 <= r.value <= truth + 0.1, r  # 800 test rows: se ~0.03
    assert r.readout == "trees" and r.p_value < 0.01
    blind = im.rho_star(z, attr, im.RhoConfig(tree=TreeConfig(principal_below=0.0)), seed=seed)
    assert blind.value < 0.15, blind


def test_principal_view_whitens_the_train_rows_and_is_used_only_when_needed():
    from infomin_cli.estimators.tree_readout import PrincipalView

    z, _ = _hidden(3000, 0)
    view = PrincipalView.fit(z, TreeConfig())
    assert view is not None
    cols = view.columns(z)
    assert np.array_equal(cols[:, :4], z.astype(np.float64))
    np.testing.assert_allclose(np.cov(cols[:, 4:], rowvar=False), np.eye(4), atol=1e-6)
    rng = np.random.default_rng(0)
    well = rng.standard_normal((3000, 4))
    assert PrincipalView.fit(well, TreeConfig()) is None  # no direction below 1e-3
    with_constant = np.column_stack([well, np.full(3000, 2.0)])
    assert PrincipalView.fit(with_constant, TreeConfig()) is None  # a constant column is not one
    assert PrincipalView.fit(z, TreeConfig(principal_below=0.0)) is None
    assert PrincipalView.fit(z, TreeConfig(principal_max_dim=3)) is None
    # an axis with no variance at float32 precision (a duplicated column) is left out
    dup = np.column_stack([z, z[:, :1]])
    assert PrincipalView.fit(dup, TreeConfig()).axes.shape == (5, 4)
