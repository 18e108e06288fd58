"""Ridge CCA: known answers, an independent numpy/scipy solution, batched pairs, helpers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from infomin_cli.stats.cca import cca, cca_from_cov, pairwise_cca, ridge_shift
from infomin_cli.stats.heldout import heldout_evaluation
from infomin_cli.stats.moments import CrossMoments
from infomin_cli.stats.sampling import eval_probability, split_is_eval


def _gaussian_pair(n, rhos, p, q, seed):
    """x = latent_x A, y = latent_y B with corr(latent_x[:, i], latent_y[:, i]) = rhos[i]."""
    rng = np.random.default_rng(seed)
    lx = rng.standard_normal((n, p))
    ly = rng.standard_normal((n, q))
    for i, r in enumerate(rhos):
        ly[:, i] = r * lx[:, i] + np.sqrt(1 - r**2) * ly[:, i]
    return lx @ rng.standard_normal((p, p)), ly @ rng.standard_normal((q, q))


def test_known_canonical_correlations():
    x, y = _gaussian_pair(200_000, [0.8, 0.4], p=4, q=3, seed=0)
    sol = cca(torch.as_tensor(x), torch.as_tensor(y), ridge=0.0)
    np.testing.assert_allclose(sol.corrs.numpy(), [0.8, 0.4, 0.0], atol=0.01)
    # the weights realise the top correlation, with unit variance
    p, q = x @ sol.w.numpy(), y @ sol.v.numpy()
    assert np.corrcoef(p, q)[0, 1] == pytest.approx(float(sol.corr), abs=1e-8)
    assert p.var() == pytest.approx(1.0, rel=1e-6)


def test_matches_svd_of_whitened_cross_covariance():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6))
    y = np.hstack([x[:, :2] ** 2, rng.standard_normal((300, 3))])
    ridge = 1e-3
    cxx, cyy = np.cov(x.T, bias=True), np.cov(y.T, bias=True)
    cxy = ((x - x.mean(0)).T @ (y - y.mean(0))) / len(x)
    rx, ry = ridge * np.trace(cxx) / 6, ridge * np.trace(cyy) / 5
    wx = np.linalg.inv(scipy.linalg.sqrtm(cxx + rx * np.eye(6)).real)
    wy = np.linalg.inv(scipy.linalg.sqrtm(cyy + ry * np.eye(5)).real)
    expected = np.linalg.svd(wx @ cxy @ wy, compute_uv=False)
    sol = cca(torch.as_tensor(x), torch.as_tensor(y), ridge=ridge)
    np.testing.assert_allclose(sol.corrs.numpy(), expected, rtol=1e-8, atol=1e-10)
    # regularised objective at (w, v) equals the top value
    w, v = sol.w.numpy(), sol.v.numpy()
    num = w @ cxy @ v
    den = np.sqrt(w @ (cxx + rx * np.eye(6)) @ w * (v @ (cyy + ry * np.eye(5)) @ v))
    assert num / den == pytest.approx(expected[0], rel=1e-8)


def test_batched_pairwise_equals_loop_over_pairs():
    rng = np.random.default_rng(2)
    S, St, K, Kt, n = 4, 3, 3, 2, 500
    fz = torch.as_tensor(np.tanh(rng.standard_normal((n, S * K))))
    ft = torch.as_tensor(rng.standard_normal((n, St * Kt)) + 0.3 * fz[:, : St * Kt].numpy())
    mom = CrossMoments(S * K, St * Kt)
    mom.update(fz, ft)
    czz, ctt, czt = mom.covariances()
    rz, rt = ridge_shift(czz, 1e-3), ridge_shift(ctt, 1e-3)
    bz = torch.stack([czz[i * K : (i + 1) * K, i * K : (i + 1) * K] for i in range(S)])
    bt = torch.stack([ctt[j * Kt : (j + 1) * Kt, j * Kt : (j + 1) * Kt] for j in range(St)])
    bzt = czt.reshape(S, K, St, Kt).permute(0, 2, 1, 3)
    batched = pairwise_cca(bz, bt, bzt, rz, rt)
    for i in range(S):
        for j in range(St):
            one = cca_from_cov(
                bz[i],
                bt[j],
                czt[i * K : (i + 1) * K, j * Kt : (j + 1) * Kt],
                shift_x=rz,
                shift_y=rt,
            )
            assert float(batched.corr[i, j]) == pytest.approx(float(one.corr), rel=1e-10)
            # singular vectors are defined up to a joint sign
            sgn = torch.sign((batched.w[i, j] * one.w).sum())
            torch.testing.assert_close(batched.w[i, j], sgn * one.w)
            torch.testing.assert_close(batched.v[i, j], sgn * one.v)


def test_moments_merge_by_addition():
    rng = np.random.default_rng(3)
    x, y = torch.as_tensor(rng.standard_normal((100, 3))), torch.as_tensor(rng.random((100, 2)))
    whole, a, b = CrossMoments(3, 2), CrossMoments(3, 2), CrossMoments(3, 2)
    whole.update(x, y)
    a.update(x[:37], y[:37])
    b.update(x[37:], y[37:])
    a.merge(b)
    for got, want in zip(a.covariances(), whole.covariances()):
        torch.testing.assert_close(got, want)
    assert a.n == 100


def test_split_depends_only_on_seed_and_row():
    rows = np.arange(100_000)
    m = split_is_eval(rows, seed=7, p_eval=0.3)
    pieces = np.concatenate(
        [split_is_eval(rows[s : s + 999], 7, 0.3) for s in range(0, 100_000, 999)]
    )
    np.testing.assert_array_equal(m, pieces)
    assert abs(m.mean() - 0.3) < 0.01
    assert (m != split_is_eval(rows, seed=8, p_eval=0.3)).mean() > 0.3
    assert eval_probability(1000, 0.5, 250_000) == 0.5
    assert eval_probability(10_000_000, 0.5, 250_000) == pytest.approx(0.025)


def test_heldout_evaluation():
    rng = np.random.default_rng(4)
    p = torch.as_tensor(rng.standard_normal(500))
    q = 0.5 * p + torch.as_tensor(rng.standard_normal(500))
    ho = heldout_evaluation(p, q, permutations=199, bootstrap=200, seed=1)
    assert ho.value == pytest.approx(np.corrcoef(p, q)[0, 1], abs=1e-12)
    assert ho.p_value == pytest.approx(1 / 200)
    assert ho.ci[0] < ho.value < ho.ci[1] and ho.ci_method == "bootstrap-eval-rows"
    assert 0 <= ho.null_mean < ho.null_q95 < 0.15
    again = heldout_evaluation(p, q, permutations=199, bootstrap=200, seed=1)
    assert again == ho
    neg = heldout_evaluation(p, -q, permutations=99, bootstrap=50, seed=1)
    assert neg.value == 0.0 and neg.corr < 0 and neg.p_value == 1.0 and neg.ci == (0.0, 0.0)
