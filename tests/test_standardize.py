"""Standardiser: moments, dead / near-constant columns, and their effect on the estimators."""

from __future__ import annotations

import numpy as np
import pytest

from infomin_cli.attributes import Attribute
from infomin_cli.estimators.linear import LinearConfig, linear_dependence
from infomin_cli.estimators.sliced import SlicedConfig, sliced_dependence
from infomin_cli.stats.sampling import sample_rows
from infomin_cli.stats.standardize import Standardizer

FAST = SlicedConfig(slices=20, permutations=199, bootstrap=50)


def test_moments_and_transform():
    rng = np.random.default_rng(0)
    z = rng.normal(loc=[3.0, -1.0, 100.0], scale=[0.1, 5.0, 2.0], size=(5000, 3))
    st = Standardizer.fit(z)
    x = st.transform(z)
    np.testing.assert_allclose(x.mean(0), 0.0, atol=1e-10)
    np.testing.assert_allclose(x.std(0), 1.0, atol=1e-10)
    assert not st.dead.any()
    assert st.calibration.shape == (5000, 3) and st.calibration.dtype == np.float32


def test_dead_and_near_constant_columns_are_zeroed():
    rng = np.random.default_rng(1)
    n = 2000
    live = rng.standard_normal((n, 4))
    const = np.full((n, 1), 7.0)
    tiny = 1e-6 * rng.standard_normal((n, 1))  # 1e-6 of the typical scale: dead
    small = 1e-3 * rng.standard_normal((n, 1))  # 1e-3: a real (if small) unit, kept
    offset = (1000.0 + 1e-6 * rng.standard_normal((n, 1))).astype(np.float32)  # rounding noise
    z = np.hstack([live, const, tiny, small, offset])
    st = Standardizer.fit(z)
    assert st.dead.tolist() == [False] * 4 + [True, True, False, True]
    x = st.transform(z)
    assert np.all(x[:, st.dead] == 0.0)
    assert np.isfinite(x).all()
    np.testing.assert_allclose(x[:, 6].std(), 1.0, rtol=1e-8)
    np.testing.assert_array_equal(st.live, [0, 1, 2, 3, 6])


def test_calibration_is_bounded_and_sampling_is_seeded():
    z = np.random.default_rng(2).standard_normal((3000, 8))
    st = Standardizer.fit(z, keep_rows=100)
    assert st.calibration.shape == (100, 8)
    a, b = sample_rows(10_000, 500, 3), sample_rows(10_000, 500, 3)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 500 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, sample_rows(10_000, 500, 4))
    np.testing.assert_array_equal(sample_rows(50, 500, 0), np.arange(50))


def test_rejects_non_finite():
    with pytest.raises(ValueError):
        Standardizer.fit(np.array([[1.0, np.nan], [2.0, 3.0]]))


def _dependent(n=800, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 5))
    t = z[:, 0] ** 2 + 0.5 * rng.standard_normal(n)
    return z, Attribute.continuous("t", t)


@pytest.mark.parametrize("aggregation", ["pairwise", "joint"])
def test_dead_column_gives_the_same_result_as_dropping_it(aggregation):
    z, attr = _dependent()
    cfg = SlicedConfig(**{**FAST.__dict__, "aggregation": aggregation})
    with_dead = np.insert(z, 2, 3.5, axis=1)  # a constant column in the middle
    a = sliced_dependence(z, attr, cfg)
    b = sliced_dependence(with_dead, attr, cfg)
    assert a.value > 0.3
    assert b.value == pytest.approx(a.value, abs=1e-6)
    assert b.p_value == a.p_value
    assert b.ci == pytest.approx(a.ci, abs=1e-6)
    la = linear_dependence(z, attr, LinearConfig(permutations=99, bootstrap=0))
    lb = linear_dependence(with_dead, attr, LinearConfig(permutations=99, bootstrap=0))
    assert lb.value == pytest.approx(la.value, abs=1e-6)


def test_tiny_informative_column_creates_no_spurious_dependence():
    """A column at 1e-6 of the typical scale is below float32 resolution of anything that mixes
    it with the others: it is dead, so T = that column is invisible (same as dropping it)."""
    rng = np.random.default_rng(5)
    n = 800
    z = rng.standard_normal((n, 5))
    t = rng.standard_normal(n)
    attr = Attribute.continuous("t", t)
    z_tiny = np.hstack([z, 1e-6 * t[:, None]])
    a = sliced_dependence(z, attr, FAST)
    b = sliced_dependence(z_tiny, attr, FAST)
    assert b.value == pytest.approx(a.value, abs=1e-6)
    assert b.p_value == a.p_value
    lin = linear_dependence(z_tiny, attr, LinearConfig(permutations=99, bootstrap=0))
    assert lin.value < 0.15 and lin.p_value > 0.05
