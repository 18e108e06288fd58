"""The streaming estimators refuse a batch holding NaN or infinity: ``all_finite`` (one fused
min/max reduction) says exactly what ``isfinite(t).all()`` says, wherever the bad value is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infomin_cli.stats.device import all_finite

BAD = (float("nan"), float("inf"), -float("inf"))


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(0, 40), cols=st.integers(1, 9), seed=st.integers(0, 2**31 - 1),
       dtype=st.sampled_from([torch.float32, torch.float64]),
       bad=st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                              st.floats(0, 1, exclude_max=True), st.sampled_from(BAD)),
                    max_size=3),
       scale=st.sampled_from([1.0, 1e30, 1e-30]))
def test_all_finite_is_isfinite_all(rows, cols, seed, dtype, bad, scale):
    t = torch.from_numpy(np.random.default_rng(seed).standard_normal((rows, cols))) * scale
    t = t.to(dtype)
    for r, c, v in bad:
        if rows:
            t[int(r * rows), int(c * cols)] = v
    assert all_finite(t) == bool(torch.isfinite(t).all())


@pytest.mark.parametrize("value", BAD)
def test_the_accumulators_refuse_a_batch_with_one_bad_value(value):
    from infomin_cli.attributes import Attribute
    from infomin_cli.estimators.configs import LinearConfig, SlicedConfig
    from infomin_cli.estimators.linear import LinearAccumulator
    from infomin_cli.estimators.sliced import SlicedAccumulator
    from infomin_cli.stats.standardize import Standardizer

    rng = np.random.default_rng(0)
    z = rng.standard_normal((300, 5)).astype(np.float32)
    a = Attribute.categorical("a", (z[:, 0] > 0).astype(int))
    st = Standardizer.fit_embeddings(z, seed=0)
    bad = z.copy()
    bad[123, 4] = value
    for acc in (SlicedAccumulator(5, a, SlicedConfig(slices=10), st, 300),
                LinearAccumulator(5, a, LinearConfig(), st, 300, seed=0)):
        acc.update(z[:100], a.values[:100], 0)  # clean rows pass
        with pytest.raises(ValueError, match="NaN or infinite"):
            acc.update(bad[100:], a.values[100:], 100)
