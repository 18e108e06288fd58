"""Linear leakage: Gaussian ground truth, erasure, kinds, streaming, calibration."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from infomin_cli.attributes import Attribute
from infomin_cli.estimators.linear import LinearAccumulator, LinearConfig, linear_dependence
from infomin_cli.stats.standardize import Standardizer

KW = {"permutations": 199, "bootstrap": 100}


def _gaussian(rho, n=20_000, d=16, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d)) @ rng.standard_normal((d, d))
    s = z @ rng.standard_normal(d)
    s = (s - s.mean()) / s.std()
    t = rho * s + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return z, t


@pytest.mark.parametrize("rho", [0.2, 0.6, -0.8])
def test_gaussian_canonical_correlation(rho):
    z, t = _gaussian(rho, seed=int(10 * abs(rho)))
    r = linear_dependence(z, Attribute.continuous("t", t), LinearConfig(**KW))
    assert r.value == pytest.approx(abs(rho), abs=0.03)
    assert r.ci[0] <= r.value <= r.ci[1] and r.ci[1] - r.ci[0] < 0.06
    assert r.p_value < 0.01 and r.ci_method == "bootstrap-eval-rows"
    assert r.n_fit + r.n_eval == len(t)


def test_exact_linear_eraser_gives_zero():
    z, t = _gaussian(0.6, seed=1)
    zc, tc = z - z.mean(0), t - t.mean()
    c = zc.T @ tc  # cross-covariance direction
    u = np.linalg.solve(zc.T @ zc, c)
    erased = zc - np.outer(zc @ u, c) / (c @ u)  # oblique projection: no covariance with t
    assert np.abs(erased.T @ tc).max() < 1e-6 * np.abs(c).max()
    r = linear_dependence(erased, Attribute.continuous("t", t), LinearConfig(**KW))
    assert r.value < 0.03 and r.p_value > 0.01


def test_categorical_and_multidim():
    rng = np.random.default_rng(2)
    n = 3000
    labels = rng.integers(0, 4, n)
    z = rng.standard_normal((n, 10))
    z[:, 3] += np.array([0.0, 0.5, -0.5, 0.25])[labels]
    r = linear_dependence(z, Attribute.categorical("c", labels), LinearConfig(**KW))
    assert r.p_value < 0.01 and r.value > 0.15 and r.v.shape == (3,)
    t = np.stack([z[:, 0] + rng.standard_normal(n), rng.standard_normal(n)], 1)
    r = linear_dependence(z, Attribute.continuous("t", t), LinearConfig(**KW))
    assert r.value == pytest.approx(1 / np.sqrt(2), abs=0.05)
    # a nonlinear-only relation is invisible to the linear measure
    r = linear_dependence(z, Attribute.continuous("t", z[:, 0] ** 2), LinearConfig(**KW))
    assert r.value < 0.1


def test_streaming_equals_in_memory():
    z, t = _gaussian(0.4, n=3000, d=12, seed=3)
    attr = Attribute.continuous("t", t)
    ref = linear_dependence(z, attr, LinearConfig(**KW))
    small = linear_dependence(z, attr, LinearConfig(batch_rows=97, **KW))
    assert small.value == pytest.approx(ref.value, abs=1e-6) and small.p_value == ref.p_value
    st = Standardizer.fit_embeddings(z)
    accs = [LinearAccumulator(12, attr, LinearConfig(**KW), st, 3000, seed=0) for _ in range(2)]
    accs[1].update(z[1700:], t[1700:], 1700)
    accs[0].update(z[:1700], t[:1700], 0)
    merged = accs[1].merge(accs[0]).result()
    assert merged.value == pytest.approx(ref.value, abs=1e-6)
    assert merged.ci == pytest.approx(ref.ci, abs=1e-6) and merged.p_value == ref.p_value


def test_pvalues_uniform_under_independence():
    runs, n = 150, 300
    pvals = []
    for s in range(runs):
        rng = np.random.default_rng(500 + s)
        z = rng.standard_normal((n, 5))
        attr = Attribute.categorical("c", rng.integers(0, 3, n))
        pvals.append(linear_dependence(z, attr, LinearConfig(permutations=99, bootstrap=0), seed=s).p_value)
    pvals = np.array(pvals)
    assert scipy.stats.kstest(pvals, "uniform").pvalue > 0.01
    assert scipy.stats.binomtest(int((pvals <= 0.05).sum()), runs, 0.05).pvalue > 0.01


def test_fit_rows_cap_is_seeded_disjoint_and_accurate():
    """``max_fit_rows`` fits on a seeded subset of the non-eval rows: n_fit ~ the cap, the
    eval split is unchanged, and the estimate stays at the Gaussian truth."""
    rng = np.random.default_rng(21)
    n, d, rho = 20_000, 16, 0.6
    z = rng.normal(size=(n, d))
    t = rho * z[:, 3] + np.sqrt(1 - rho**2) * rng.normal(size=n)
    attr = Attribute.continuous("t", t)
    full = linear_dependence(z, attr, LinearConfig(permutations=0, bootstrap=0, max_fit_rows=None))
    capped = linear_dependence(z, attr, LinearConfig(permutations=0, bootstrap=0, max_fit_rows=3_000))
    assert full.n_eval == capped.n_eval
    assert abs(capped.n_fit - 3_000) < 4 * np.sqrt(3_000)  # Binomial around the cap
    assert full.n_fit > 9_000
    assert capped.value == pytest.approx(rho, abs=0.03)
    again = linear_dependence(z, attr, LinearConfig(permutations=0, bootstrap=0, max_fit_rows=3_000, batch_rows=777))
    assert again.value == pytest.approx(capped.value, abs=1e-9)


def test_ridge_chosen_on_fit_rows_rescues_the_overfit_regime():
    """d comparable to the fit rows (2 per dimension): the ridge chosen on the fit rows alone
    is as good, on the untouched eval rows, as the best fixed ridge of the grid chosen in
    hindsight, clearly better than a tiny fixed ridge, and not above the Gaussian truth.
    Truth: T = rho * <u, Z> + noise, rho = 0.6 (not reachable with 600 fit rows in 300-d)."""
    from infomin_cli.stats.cca import RIDGE_GRID

    rng = np.random.default_rng(31)
    n, d, rho = 1_200, 300, 0.6
    z = rng.normal(size=(n, d))
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    t = rho * (z @ u) + np.sqrt(1 - rho**2) * rng.normal(size=n)
    attr = Attribute.continuous("t", t)
    grid = {r: linear_dependence(z, attr, LinearConfig(ridge=r, permutations=0, bootstrap=0)).value
            for r in RIDGE_GRID}
    chosen = linear_dependence(z, attr, LinearConfig(permutations=0, bootstrap=0))
    assert chosen.ridge_method == "inner-validation" and chosen.ridge in RIDGE_GRID
    assert chosen.value >= max(grid.values()) - 0.02, (grid, chosen.ridge, chosen.value)
    assert chosen.value > grid[1e-3] + 0.03
    se = (1 - rho**2) / np.sqrt(chosen.n_eval)
    assert chosen.value <= rho + 3 * se
