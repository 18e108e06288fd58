"""rho* (neural HGR maximal correlation) against ground truths, plus its contracts.

Accuracy tests use n = 20,000 rows (60/20/20 split, so 4,000 test rows) and fixed seeds.
Tolerances: the reported value is a test-split correlation of a *fixed* pair (h, g), so its
mean is at most rho* and its sampling SE is about ``(1 - rho^2) / sqrt(n_test)``. Hence
"not above truth + 2 SE" (plus the oracle's own error) on the upper side; on the lower side
the brief's 0.03 (Gaussian) / 0.05 (nonlinear) for what the networks fail to learn.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import rho_oracles as oracle
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.estimators.rho import OBJECTIVE, RhoConfig, RhoResult, _scaling, rho_star

N = 20_000
D = 16


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _se(truth: float, r: RhoResult) -> float:
    return (1.0 - truth**2) / math.sqrt(r.n_test)


def _gaussian(rho: float, n: int = N, d: int = D, seed: int = 1):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    t = rho * (z @ w) + math.sqrt(1.0 - rho**2) * rng.standard_normal(n)
    return z, Attribute.continuous("t", t)


# ----------------------------------------------------------------------------- oracles


def test_histogram_oracle_recovers_gaussian_rho():
    rng = np.random.default_rng(11)
    a = rng.standard_normal(4_000_000)
    t = 0.6 * a + 0.8 * rng.standard_normal(len(a))
    assert oracle.hgr_histogram(a, t, bins=200) == pytest.approx(0.6, abs=0.003)


def test_discrete_oracle_matches_circle_closed_form():
    r2, eps = 2.0 * math.log(2.0), 0.1
    rng = np.random.default_rng(12)
    z = rng.standard_normal((1_000_000, 2))
    p1 = eps + (1 - 2 * eps) * ((z**2).sum(axis=1) < r2)
    post = np.stack([1 - p1, p1], axis=1)
    pi = np.array([1 - post[:, 1].mean(), post[:, 1].mean()])
    assert oracle.hgr_discrete(post, pi) == pytest.approx(oracle.hgr_circle(r2, eps), abs=3e-3)
    assert oracle.hgr_circle(r2, eps) == pytest.approx(0.8)


# ----------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.6, 0.9])
def test_gaussian_rho_star_is_abs_corr(rho):
    z, t = _gaussian(rho)
    r = rho_star(z, t)
    assert abs(r.value - rho) <= 0.03, r
    assert r.objective == OBJECTIVE
    assert (r.n_train, r.n_val, r.n_test, r.n_used) == (12_000, 4_000, 4_000, N)


def test_independent_is_small():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((N, D))
    r = rho_star(z, Attribute.continuous("t", rng.standard_normal(N)))
    assert r.value <= 0.05, r
    # one draw: not significant at 1%, the interval down at the noise floor (the p-values'
    # uniformity over many null datasets is test_rho_p_values_are_uniform_under_independence)
    assert r.p_value > 0.01 and r.ci is not None and r.ci[0] <= 0.01, r


@pytest.mark.slow
def test_square_nonlinear_matches_histogram_oracle():
    # T depends on Z only through A = Z1^2, so rho*(Z, T) = rho*(A, T), a 1-D/1-D problem.
    # Z is uniform (unit variance): with Gaussian Z the supremum for A = Z1^2 + Gaussian noise
    # is only approached by heavy-tailed functions and a histogram oracle does not converge.
    sig = 0.5
    big = np.random.default_rng(13)
    a = big.uniform(-math.sqrt(3), math.sqrt(3), 4_000_000) ** 2
    ta = a + sig * big.standard_normal(len(a))
    truth = oracle.hgr_histogram(a, ta, bins=200)
    assert oracle.hgr_histogram(a, ta, bins=100) == pytest.approx(truth, abs=2e-3)
    assert 0.89 < truth < 0.91  # above corr(A, T) = 0.873: g must be nonlinear too

    rng = np.random.default_rng(3)
    z = rng.uniform(-math.sqrt(3), math.sqrt(3), (N, D))
    t = z[:, 0] ** 2 + sig * rng.standard_normal(N)
    assert abs(np.corrcoef(z[:, 0], t)[0, 1]) < 0.03  # linear dependence ~ 0
    r = rho_star(z, Attribute.continuous("t", t))
    assert truth - 0.05 <= r.value <= truth + 2 * _se(truth, r) + 2e-3, (truth, r)


def test_circle_binary_matches_closed_form():
    r2, eps = 2.0 * math.log(2.0), 0.1  # P(inside) = 1/2, labels flipped w.p. 0.1
    truth = oracle.hgr_circle(r2, eps)  # 0.8
    # d = 8: 2 informative + 6 nuisance dimensions. At d = 16 the estimate is 0.045-0.050
    # below the truth (seeds measured), i.e. on the edge of the tolerance: a learning limit of
    # an MLP with 12,000 noisy labels, reported rather than hidden by a looser bound.
    rng = np.random.default_rng(4)
    z = rng.standard_normal((N, 8))
    lab = ((z[:, :2] ** 2).sum(axis=1) < r2).astype(np.int64)
    lab = np.where(rng.random(N) < eps, 1 - lab, lab)
    r = rho_star(z, Attribute.categorical("inside", lab))
    assert truth - 0.05 <= r.value <= truth + 2 * _se(truth, r), (truth, r)


def test_heavy_tailed_columns_keep_the_circle_closed_form():
    # rho* is invariant to a one-to-one map of each column: sinh(3 z) (kurtosis ~ 10^3) hides
    # the disc in a sliver of each standardised column, but the MLP branch reads normal scores.
    r2, eps = 2.0 * math.log(2.0), 0.1
    truth = oracle.hgr_circle(r2, eps)  # 0.8
    rng = np.random.default_rng(4)
    z = rng.standard_normal((N, 8))
    lab = ((z[:, :2] ** 2).sum(axis=1) < r2).astype(np.int64)
    lab = np.where(rng.random(N) < eps, 1 - lab, lab)
    r = rho_star(np.sinh(3.0 * z), Attribute.categorical("inside", lab))
    assert truth - 0.05 <= r.value <= truth + 2 * _se(truth, r), (truth, r)


def test_column_normal_scores_match_the_tie_aware_scores():
    from infomin_cli.stats.ranks import column_normal_scores, normal_scores

    rng = np.random.default_rng(6)
    x = np.column_stack([rng.standard_normal(501), rng.integers(0, 4, 501),
                         np.full(501, 2.5), np.exp(5 * rng.standard_normal(501))])
    got = column_normal_scores(x, chunk=3)
    want = np.column_stack([normal_scores(x[:, j]) for j in range(x.shape[1])])
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.all(got[:, 2] == 0.0)  # a constant column: every row at the median score


def test_categorical_class_means_matches_posterior_oracle():
    c_n = 5
    mu = oracle.class_means(c_n, D, sep=1.5)
    pi = np.full(c_n, 1.0 / c_n)
    big = np.random.default_rng(14)
    zz = big.standard_normal((1_000_000, D)) + mu[big.integers(0, c_n, 1_000_000)]
    truth = oracle.hgr_discrete(oracle.gaussian_mixture_posteriors(zz, mu, pi), pi)
    rng = np.random.default_rng(5)
    c = rng.integers(0, c_n, N)
    z = rng.standard_normal((N, D)) + mu[c]
    r = rho_star(z, Attribute("c", "categorical", c, tuple("abcde")))
    # Monte Carlo error of the oracle with 10^6 rows is ~1e-3.
    assert truth - 0.05 <= r.value <= truth + 2 * _se(truth, r) + 3e-3, (truth, r)


def test_multidim_attribute():
    rng = np.random.default_rng(6)
    n = 5000
    z = rng.standard_normal((n, 8))
    t = np.stack([0.7 * z[:, 0] + math.sqrt(1 - 0.49) * rng.standard_normal(n),
                  rng.standard_normal(n)], axis=1)
    r = rho_star(z, Attribute.continuous("t", t))
    assert abs(r.value - 0.7) <= 0.05, r


# ----------------------------------------------------------------------------- contracts

SMALL = RhoConfig(max_epochs=15, bootstrap=200)


def test_deterministic_for_a_seed_and_leaves_global_rng_alone():
    z, t = _gaussian(0.5, n=2000, d=8, seed=7)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = rho_star(z, t, SMALL)
    after = torch.rand(3)
    b = rho_star(z, t, SMALL)
    assert a == b
    assert torch.equal(before, after)
    c = rho_star(z, t, RhoConfig(max_epochs=15, bootstrap=200), seed=1)
    assert c.corr != a.corr


def test_cpu_and_auto_agree_here():
    z, t = _gaussian(0.5, n=2000, d=8, seed=8)
    a = rho_star(z, t, RhoConfig(max_epochs=10, bootstrap=100))
    b = rho_star(torch.from_numpy(z), t, RhoConfig(max_epochs=10, bootstrap=100), device="auto")
    if not torch.cuda.is_available():
        assert a == b
    assert a.device == "cpu"


def test_max_rows_subsample_is_seeded_and_reported():
    z, t = _gaussian(0.5, n=3000, d=8, seed=9)
    cfg = RhoConfig(max_rows=1000, max_epochs=10, bootstrap=100)
    a, b = rho_star(z, t, cfg), rho_star(z, t, cfg)
    assert a == b
    assert (a.n_rows, a.n_used, a.subsampled) == (3000, 1000, True)
    assert a.n_train + a.n_val + a.n_test == 1000
    full = rho_star(z, t, RhoConfig(max_rows=None, max_epochs=10, bootstrap=100))
    assert (full.n_used, full.subsampled) == (3000, False)


def test_result_fields_and_progress():
    z, t = _gaussian(0.6, n=2000, d=8, seed=10)
    seen = []
    r = rho_star(z, t, SMALL, progress=lambda e, m, v: seen.append((e, m, v)))
    assert [e for e, _, _ in seen] == list(range(1, r.epochs + 1))
    # every epoch reports the budget, except the last: its total is the epochs run
    assert all(m == SMALL.max_epochs for _, m, _ in seen[:-1]) and seen[-1][1] == r.epochs
    # Gaussian data: the linear start (epoch 0) is already optimal, so training may not beat it
    assert 0 <= r.best_epoch <= r.epochs
    assert r.val_best >= max(v for _, _, v in seen) - 1e-4
    if r.best_epoch:
        assert r.val_best == pytest.approx(seen[r.best_epoch - 1][2])
    assert 0.0 <= r.ci[0] <= r.value <= r.ci[1] <= 1.0
    assert r.value == min(max(r.corr, 0.0), 1.0)
    assert rho_star(z, t, RhoConfig(max_epochs=3, bootstrap=0)).ci is None


def test_robust_standardiser_dead_and_tiny_columns():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.standard_normal(500), 3 * rng.standard_normal(500),
                         np.full(500, 7.0), 1e-9 * rng.standard_normal(500)])
    mean, scale = _scaling(x, 1e-2)
    assert scale[2] == 0.0  # dead column zeroed
    assert np.all(np.abs((x[:, 3] - mean[3]) * scale[3]) < 1e-5)  # tiny column not blown up
    assert np.std((x[:, 1] - mean[1]) * scale[1]) == pytest.approx(1.0)


def test_dead_columns_do_not_break_the_estimate():
    z, t = _gaussian(0.6, n=3000, d=6, seed=11)
    rng = np.random.default_rng(1)
    z = np.column_stack([z, np.ones(3000), 1e-10 * rng.standard_normal(3000)])
    r = rho_star(z, t, RhoConfig(bootstrap=0))
    assert abs(r.value - 0.6) < 0.06, r


def test_discrete_single_class_in_batch_is_finite():
    # A rare class: many batches miss it; the table g must still train without NaNs.
    rng = np.random.default_rng(3)
    c = (rng.random(3000) < 0.02).astype(np.int64)
    z = rng.standard_normal((3000, 4)) + 2.0 * c[:, None]
    r = rho_star(z, Attribute.categorical("rare", c), RhoConfig(batch_size=64, bootstrap=0))
    assert math.isfinite(r.corr) and r.value > 0.3


def test_input_errors():
    z, t = _gaussian(0.5, n=200, d=4)
    with pytest.raises(ValueError, match="rows"):
        rho_star(z[:100], t)
    bad = z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rho_star(bad, t)
    with pytest.raises(ValueError, match="constant"):
        rho_star(z, Attribute.continuous("t", np.ones(200)))
    with pytest.raises(ValueError, match="single class"):
        rho_star(z, Attribute("c", "binary", np.zeros(200, dtype=np.int64), ("a", "b")))
    with pytest.raises(ValueError, match="at least 50"):
        rho_star(z[:20], t.take(slice(0, 20)))
    with pytest.raises(ValueError, match="hidden"):
        RhoConfig(hidden=0)


def test_linear_start_reaches_the_linear_answer_without_training():
    """h and g start at the ridge canonical pair of the train rows, so with a single epoch
    (and epoch 0 kept unless validation improves) a Gaussian rho* is already right; a
    categorical T with rare classes gets at least its linear canonical correlation."""
    z, t = _gaussian(0.6, n=5_000)
    r = rho_star(z, t, RhoConfig(max_epochs=1, patience=1))
    assert r.epochs == 1 and abs(r.value - 0.6) <= 0.05, r

    rng = np.random.default_rng(5)
    n, d = 4_000, 64
    labels = rng.choice(5, size=n, p=[0.7, 0.2, 0.06, 0.03, 0.01])
    zc = rng.standard_normal((n, d))
    zc[:, :5] += 0.8 * np.eye(5)[labels]  # class means differ along 5 directions
    attr = Attribute.categorical("c", labels)
    from infomin_cli.estimators.linear import LinearConfig, linear_dependence

    lin = linear_dependence(zc, attr, LinearConfig(permutations=0, bootstrap=0))
    rho = rho_star(zc, attr, RhoConfig(max_epochs=1, patience=1))
    se = 1 / math.sqrt(rho.n_test)
    assert rho.value >= lin.value - 3 * se, (rho.value, lin.value)


@pytest.mark.slow
def test_permutation_test_of_the_frozen_networks():
    """p-values of the test-row permutation test are uniform under independence (KS) and
    reach 1/(B+1) on a strong dependence; null_q95 is the noise floor of value."""
    from scipy import stats

    cfg = RhoConfig(hidden=16, layers=1, max_epochs=3, bootstrap=0, permutations=199)
    pvals, floors = [], []
    for s in range(40):
        rng = np.random.default_rng(500 + s)
        z = rng.standard_normal((300, 3))
        r = rho_star(z, Attribute.continuous("t", rng.standard_normal(300)), cfg, seed=s)
        pvals.append(r.p_value)
        floors.append(r.null_q95)
    assert stats.kstest(pvals, "uniform").pvalue > 0.001
    # one read-out: ~1.645/sqrt(60 test rows) = 0.21; the max of two nearly independent
    # ones: ~ the 97.5th percentile of one, 1.96/sqrt(60) = 0.25
    assert 0.02 < np.median(floors) < 0.29
    z, t = _gaussian(0.8, n=600, d=4, seed=12)
    strong = rho_star(z, t, cfg)
    assert strong.p_value == pytest.approx(1 / 200) and strong.value > strong.null_q95
