"""Sliced dependence: calibration, power, invariances, streaming, the in-sample pitfall."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.stats
import torch

from infomin_cli.attributes import Attribute
from infomin_cli.estimators.sliced import (
    SlicedAccumulator,
    SlicedConfig,
    sliced_dependence,
    sliced_in_sample,
)
from infomin_cli.stats.sampling import split_is_eval
from infomin_cli.stats.standardize import Standardizer

FAST = SlicedConfig(slices=30, permutations=199, bootstrap=100)


def _cont(t):
    return Attribute.continuous("t", t)


# ----------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("test", ["full-sample", "held-out"])
@pytest.mark.parametrize("aggregation", ["pairwise", "joint"])
@pytest.mark.parametrize("kind", ["continuous", "categorical"])
def test_pvalues_uniform_under_independence(aggregation, kind, test):
    runs, n = 300, 400
    cfg = SlicedConfig(
        slices=10, permutations=199, bootstrap=0, aggregation=aggregation,
        full_sample_rows=20_000 if test == "full-sample" else 0,
    )
    pvals, values = [], []
    for s in range(runs):
        rng = np.random.default_rng(1000 + s)
        z = rng.standard_normal((n, 6)) @ rng.standard_normal((6, 6))
        if kind == "continuous":
            attr = _cont(rng.standard_normal(n) ** 3)
        else:
            attr = Attribute.categorical("c", rng.integers(0, 4, n))
        r = sliced_dependence(z, attr, cfg, seed=s)
        assert r.p_method == f"{test}-permutation"
        pvals.append(r.p_value)
        values.append(r.value)
    pvals = np.array(pvals)
    assert scipy.stats.kstest(pvals, "uniform").pvalue > 0.01
    k = int((pvals <= 0.05).sum())
    assert scipy.stats.binomtest(k, runs, 0.05).pvalue > 0.01, k
    assert min(values) >= 0.0 and max(values) < 0.3


# ----------------------------------------------------------------------------- power


def _power_cases(n, rng):
    z = rng.standard_normal((n, 5))
    e = rng.standard_normal(n)
    circle = z[:, 0] ** 2 + z[:, 1] ** 2 + 0.5 * e
    labels = rng.integers(0, 3, n)
    zc = rng.standard_normal((n, 5))
    zc[:, 0] += np.array([-0.5, 0.0, 0.5])[labels]
    return {
        "linear": (z, _cont(z[:, 0] + 2.0 * e)),
        "parabola": (z, _cont(z[:, 0] ** 2 + 1.0 * e)),
        "sine": (z, _cont(np.sin(2 * z[:, 1]) + 1.0 * e)),
        "circle": (z, _cont(circle)),
        "circle-class": (z, Attribute.categorical("r", circle > np.median(circle))),
        "class-conditional": (zc, Attribute.categorical("c", labels)),
    }


@pytest.mark.parametrize("aggregation", ["pairwise", "joint"])
def test_dependence_detected(aggregation):
    rng = np.random.default_rng(7)
    cfg = replace(FAST, aggregation=aggregation)
    for name, (z, attr) in _power_cases(800, rng).items():
        r = sliced_dependence(z, attr, cfg)
        assert r.p_value < 0.01, (name, r.value, r.p_value)
        assert r.value > r.null_q95 and r.ci[0] > 0, name


def test_multidim_attribute():
    rng = np.random.default_rng(8)
    n = 800
    z = rng.standard_normal((n, 4))
    t = np.stack([np.cos(z[:, 0]) + 0.3 * rng.standard_normal(n), rng.standard_normal(n)], 1)
    r = sliced_dependence(z, _cont(t), FAST)
    assert r.fit.t_encoder.encoding == "slices" and r.fit.t_encoder.slicer.theta.shape == (2, FAST.slices)
    assert r.p_value < 0.01
    indep = sliced_dependence(z, _cont(rng.standard_normal((n, 3))), FAST)
    assert indep.p_value > 0.01 and indep.value < 0.2


# ----------------------------------------------------------------------------- properties


def test_range_determinism_and_result_fields():
    rng = np.random.default_rng(9)
    z = rng.standard_normal((600, 8))
    attr = _cont(np.tanh(z[:, 3]) + rng.standard_normal(600))
    a = sliced_dependence(z, attr, FAST)
    b = sliced_dependence(z, attr, FAST)
    assert 0.0 <= a.value <= 1.0 and 0.0 <= a.ci[0] <= a.value <= a.ci[1] <= 1.0
    assert (a.value, a.p_value, a.ci, a.null_mean) == (b.value, b.p_value, b.ci, b.null_mean)
    assert a.ci_method == "bootstrap-eval-rows" and a.aggregation == "pairwise"
    assert a.n_fit + a.n_eval == 600 and a.slice_scaling == "std" and a.device == "cpu"
    assert a.fit.pair is not None and a.fit.z_slicer.theta.shape == (8, FAST.slices)
    np.testing.assert_allclose(np.linalg.norm(a.fit.z_slicer.theta, axis=0), 1.0)
    c = sliced_dependence(z, attr, FAST, seed=1)
    assert c.value != a.value


def test_fit_pieces_reproduce_the_eval_projections():
    """theta, scales, w, v, feature means and the standardiser recompute p and q (debias)."""
    rng = np.random.default_rng(10)
    n = 700
    z = rng.standard_normal((n, 6))
    attr = Attribute.categorical("c", (z[:, 0] + rng.standard_normal(n) > 0).astype(int))
    for agg in ("pairwise", "joint"):
        r = sliced_dependence(z, attr, replace(FAST, aggregation=agg))
        zs = torch.as_tensor(r.fit.standardizer.transform(z), dtype=torch.float32)
        p = r.fit.project_z(zs).double().numpy()
        q = r.fit.project_t(attr.values, torch.device("cpu")).double().numpy()
        ev = split_is_eval(np.arange(n), 0, 1 - FAST.fit_fraction)
        assert ev.sum() == r.n_eval
        assert np.corrcoef(p[ev], q[ev])[0, 1] == pytest.approx(r.corr, abs=1e-5)
        assert np.corrcoef(p[~ev], q[~ev])[0, 1] == pytest.approx(r.in_sample, abs=0.02)


def test_invariant_to_column_scaling():
    rng = np.random.default_rng(11)
    z = rng.standard_normal((600, 5))
    attr = _cont(z[:, 1] ** 2 + rng.standard_normal(600))
    scales = np.array([1e-3, 1.0, 50.0, 7.0, 1e3])
    a = sliced_dependence(z, attr, FAST)
    b = sliced_dependence(z * scales + np.array([0, 1, -5, 100, 3]), attr, FAST)
    assert b.value == pytest.approx(a.value, abs=1e-5)
    assert b.p_value == a.p_value


def test_rotation_invariance_in_distribution():
    """After a rotation the fixed-seed directions differ; the distribution does not: over
    seeds the paired differences average to ~0 (SE ~0.03 here) and both detect."""
    rng = np.random.default_rng(12)
    n, d, seeds = 800, 6, 12
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cfg = replace(FAST, slices=100)
    diffs = []
    for s in range(seeds):
        r_ = np.random.default_rng(100 + s)
        z = r_.standard_normal((n, d))
        attr = _cont(np.abs(z[:, 0]) + 0.5 * r_.standard_normal(n))
        a = sliced_dependence(z, attr, cfg, seed=s)
        b = sliced_dependence(z @ q, attr, cfg, seed=s)
        assert a.p_value < 0.01 and b.p_value < 0.01
        diffs.append(a.value - b.value)
    assert abs(np.mean(diffs)) < 0.1


@pytest.mark.parametrize("kind", ["continuous", "categorical", "multidim"])
@pytest.mark.parametrize("aggregation", ["pairwise", "joint"])
def test_streaming_equals_in_memory(kind, aggregation):
    rng = np.random.default_rng(13)
    n = 900
    z = rng.standard_normal((n, 7)).astype(np.float32)
    if kind == "continuous":
        attr = _cont(z[:, 0] ** 2 + rng.standard_normal(n))
    elif kind == "categorical":
        attr = Attribute.categorical("c", rng.integers(0, 3, n) + (z[:, 1] > 1))
    else:
        attr = _cont(np.stack([z[:, 0], rng.standard_normal(n)], 1))
    cfg = replace(FAST, aggregation=aggregation)
    ref = sliced_dependence(z, attr, cfg)
    for batch in (7, 128, 5000):
        other = sliced_dependence(z, attr, replace(cfg, batch_rows=batch))
        assert other.value == pytest.approx(ref.value, abs=1e-6)
        assert other.p_value == ref.p_value and other.n_eval == ref.n_eval
    # two accumulators over disjoint, unevenly cut row ranges, fed out of order and merged
    st = Standardizer.fit_embeddings(z, seed=0)
    accs = [SlicedAccumulator(7, attr, cfg, st, n) for _ in range(2)]
    cuts = [(600, 900, 1), (0, 250, 0), (250, 600, 1)]
    for lo, hi, k in cuts:
        accs[k].update(z[lo:hi], attr.values[lo:hi], lo)
    merged = accs[1].merge(accs[0]).result()
    assert merged.value == pytest.approx(ref.value, abs=1e-6)
    assert merged.p_value == ref.p_value and merged.ci == pytest.approx(ref.ci, abs=1e-6)


def test_pairwise_never_exceeds_joint_in_sample():
    rng = np.random.default_rng(14)
    n = 500
    z = rng.standard_normal((n, 6))
    attrs = [
        _cont(rng.standard_normal(n)),
        _cont(z[:, 0] ** 2 + rng.standard_normal(n)),
        Attribute.categorical("c", rng.integers(0, 4, n)),
        _cont(np.stack([z[:, 2], rng.standard_normal(n)], 1)),
    ]
    for attr in attrs:
        v = sliced_in_sample(z, attr, FAST)
        assert 0 <= v["pairwise"] <= v["joint"] + 1e-12 <= 1 + 1e-12


def test_in_sample_bias_pitfall():
    """Independent data, d = 80, S = 100, n = 400: the in-sample joint CCA is ~0.88 (the
    paper's 0.87), pairwise ~0.19; the held-out value stays near 0 and is not significant."""
    rng = np.random.default_rng(15)
    z = rng.standard_normal((400, 80))
    attr = _cont(rng.standard_normal(400))
    cfg = SlicedConfig(slices=100, permutations=199, bootstrap=0)
    ins = sliced_in_sample(z, attr, cfg)
    assert ins["joint"] > 0.75 and 0.1 < ins["pairwise"] < 0.35
    for agg in ("pairwise", "joint"):
        r = sliced_dependence(z, attr, replace(cfg, aggregation=agg))
        assert r.value < 0.2 and r.p_value > 0.01
        assert r.in_sample > r.value + 0.1


def test_slice_scaling_keeps_power_on_correlated_embeddings():
    """Z = a dominant latent factor x mixing + minor factors: the raw slice projections of the
    standardised Z have stds spread over a wide range (theta^T R theta ~ chi2_1-like; some
    slices saturate tanh, others are nearly linear). Scaled slices all have unit std on the
    calibration sample, and the nonlinear dependence T = latent_0^2 stays detected."""
    rng = np.random.default_rng(16)
    n, d = 1000, 64
    latent = rng.standard_normal((n, 3))
    loading = np.abs(rng.standard_normal(d)) + 0.5
    z = (
        6 * np.outer(latent[:, 0], loading)
        + latent[:, 1:] @ rng.standard_normal((2, d))
        + 0.5 * rng.standard_normal((n, d))
    )
    attr = _cont(latent[:, 0] ** 2 + 0.5 * rng.standard_normal(n))
    scaled = sliced_dependence(z, attr, FAST)
    raw = sliced_dependence(z, attr, replace(FAST, slice_scaling="none"))
    st = scaled.fit.standardizer
    raw_std = (st.calibration @ raw.fit.z_slicer.theta).std(0)
    assert raw_std.max() > 2 and raw_std.max() / raw_std.min() > 7  # far from unit scale
    np.testing.assert_allclose(
        (st.calibration @ (scaled.fit.z_slicer.theta / scaled.fit.z_slicer.scale)).std(0), 1.0, rtol=1e-4
    )
    assert scaled.slice_scaling == "std" and raw.slice_scaling == "none"
    assert scaled.p_value < 0.01 and scaled.value > 0.6
    assert scaled.value > raw.value - 0.05


def test_input_errors():
    z = np.zeros((50, 3)) + np.arange(50)[:, None]
    st = Standardizer.fit(z)
    empty = Attribute.continuous("t", np.zeros(0))
    with pytest.raises(ValueError, match="calibration sample"):
        SlicedAccumulator(3, empty, FAST, st, 50)
    cat = Attribute.categorical("c", np.zeros(0, dtype=int).tolist() + [0, 1])
    acc = SlicedAccumulator(
        3, Attribute("c", "binary", np.zeros(0, np.int64), ("a", "b")), FAST, st, 50
    )
    with pytest.raises(ValueError, match="outside"):
        acc.update(z, np.zeros(50, np.int64), 10)
    with pytest.raises(ValueError, match="out of range"):
        acc.update(z, np.full(50, 2), 0)
    with pytest.raises(ValueError):
        sliced_dependence(z, cat, FAST)
    with pytest.raises(ValueError):
        SlicedConfig(aggregation="mean")


def test_shared_projection_equals_per_attribute_update():
    """``update_projected(project(z))`` (the audit's one projection for many attributes)
    gives exactly what ``update(z)`` gives."""
    from infomin_cli.estimators.sliced import SlicedAccumulator, SlicedConfig
    from infomin_cli.stats.standardize import Standardizer

    rng = np.random.default_rng(5)
    n = 600
    z = rng.normal(size=(n, 6)).astype(np.float32)
    a = Attribute.categorical("a", (z[:, 0] + rng.normal(size=n) > 0).astype(int))
    cfg = SlicedConfig(slices=8, permutations=50, bootstrap=20, batch_rows=128)
    std = Standardizer.fit(z)
    one = SlicedAccumulator(6, a, cfg, std, n)
    two = SlicedAccumulator(6, a, cfg, std, n)
    assert one.same_projection(two)
    for s in range(0, n, 200):
        one.update(z[s : s + 200], a.values[s : s + 200], s)
        two.update_projected(one.project(z[s : s + 200]), a.values[s : s + 200], s)
    r1, r2 = one.result(), two.result()
    # Same numbers up to float summation order (update() re-chunks by batch_rows).
    assert r1.value == pytest.approx(r2.value, abs=1e-9)
    assert r1.p_value == r2.p_value
    assert r1.ci == pytest.approx(r2.ci, abs=1e-9)
