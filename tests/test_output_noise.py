"""Output noise: keyed standard normal draws (row_noise), a Projection that adds them, its
file format, and the no-target fit that trains and exports with them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from torch import nn

from infomin_cli.debias.config import (
    NETWORK_CRITIC_ABOVE,
    NOISE_MAX,
    NOISE_NO_TARGET,
    NOISE_REFERENCE_DIM,
    NOISE_WITH_NETWORK,
    DebiasConfig,
    no_target_noise,
    resolve,
)
from infomin_cli.debias.projection import Projection
from infomin_cli.debias.projection_file import sidecar_path
from infomin_cli.debias.row_noise import row_keys, row_normals
from infomin_cli.errors import InputError

# -- keyed draws ----------------------------------------------------------------------------


def test_draws_are_standard_normal_and_independent():
    """Ground truth: N(0, 1) in every column, uncorrelated columns. 100,000 rows: a mean is
    within 4.5 / sqrt(n) of 0, a std within 1% of 1, |r| < 4.5 / sqrt(n); KS p > 1e-4 (one fixed
    draw: deterministic, and a wrong distribution -- uniform, a bad Box-Muller -- fails by far)."""
    n, k = 100_000, 5
    z = np.random.default_rng(0).standard_normal((n, 16)).astype(np.float32)
    draws = row_normals(z, k, seed=3)
    assert draws.shape == (n, k) and draws.dtype == np.float32
    assert np.all(np.abs(draws.mean(0)) < 4.5 / np.sqrt(n))
    assert np.all(np.abs(draws.std(0) - 1) < 0.01)
    r = np.corrcoef(draws.T)[np.triu_indices(k, 1)]
    assert np.all(np.abs(r) < 4.5 / np.sqrt(n))
    for c in range(k):
        assert stats.kstest(draws[:, c], "norm").pvalue > 1e-4


def test_draws_are_keyed_by_row_content():
    z = np.random.default_rng(1).standard_normal((500, 8)).astype(np.float32)
    draws = row_normals(z, 3, seed=0)
    order = np.random.default_rng(2).permutation(500)
    assert np.array_equal(row_normals(z[order], 3, seed=0), draws[order])  # any order
    assert np.array_equal(row_normals(z[100:150], 3, seed=0), draws[100:150])  # any batch
    assert np.array_equal(row_normals(z.astype(np.float64), 3, seed=0), draws)  # read as f32
    assert not np.array_equal(row_normals(z, 3, seed=1), draws)  # the seed matters
    nudged = z.copy()
    nudged[7, 4] = np.nextafter(nudged[7, 4], np.float32(np.inf))
    assert not np.array_equal(row_normals(nudged, 3, seed=0)[7], draws[7])  # one ulp matters
    signed = np.zeros((2, 4), dtype=np.float32)
    signed[1, 2] = -0.0
    keys = row_keys(signed, 0)
    assert keys[0] == keys[1]  # -0.0 is 0.0


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 30), st.integers(1, 70)),
              elements=st.floats(width=32, allow_nan=False, allow_infinity=False)),
       st.integers(1, 9), st.integers(0, 2**63 - 1))
def test_draws_are_finite_for_any_rows(z, k, seed):
    draws = row_normals(z, k, seed)
    assert draws.shape == (len(z), k)
    assert np.isfinite(draws).all()
    doubled = row_normals(np.concatenate([z, z]), k, seed)
    assert np.array_equal(doubled[: len(z)], doubled[len(z):])


# -- a projection with noise ----------------------------------------------------------------


def _noisy(noise=(0.5, 0.0, 2.0), seed=11) -> Projection:
    torch.manual_seed(0)
    head = nn.Sequential(nn.Linear(6, 5), nn.SiLU(), nn.Linear(5, 3))
    return Projection.from_module("mlp", head, torch.zeros(6), torch.ones(6), {"m": 1},
                                  noise=torch.tensor(noise), noise_seed=seed)


def test_projection_adds_keyed_noise():
    proj = _noisy()
    z = np.random.default_rng(3).standard_normal((400, 6)).astype(np.float32)
    clean = proj.module()(torch.from_numpy(z)).detach().numpy()
    out = proj(z)
    expected = clean + row_normals(z, 3, 11) * np.array([0.5, 0.0, 2.0], dtype=np.float32)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
    assert np.array_equal(out[:, 1], clean[:, 1])  # a column with noise 0 is the map's
    # keyed by the row, not its position (the map itself may differ in the last bits when
    # BLAS blocks other rows together)
    np.testing.assert_allclose(proj(z[::-1])[::-1], out, rtol=0, atol=1e-5)
    tensor_out = proj(torch.from_numpy(z))
    np.testing.assert_array_equal(tensor_out.numpy(), out)
    assert "noise=2" in repr(proj)


def test_projection_with_noise_round_trips(tmp_path):
    proj = _noisy()
    path = proj.save(tmp_path / "p.safetensors")
    doc = json.loads(sidecar_path(path).read_text())
    assert doc["format_version"] == 2 and doc["noise_seed"] == 11
    assert doc["tensors"]["noise"] == [3]
    back = Projection.load(path)
    z = np.random.default_rng(4).standard_normal((50, 6)).astype(np.float32)
    assert np.array_equal(back(z), proj(z))
    assert back.noise_seed == 11


def test_projection_without_noise_stays_format_1(tmp_path):
    proj = Projection.from_module("linear", nn.Linear(4, 2), torch.zeros(4), torch.ones(4))
    path = proj.save(tmp_path / "p.safetensors")
    doc = json.loads(sidecar_path(path).read_text())
    assert doc["format_version"] == 1 and "noise_seed" not in doc
    assert Projection.load(path).noise is None


def test_a_noise_tensor_needs_format_2_and_a_seed(tmp_path):
    path = _noisy().save(tmp_path / "p.safetensors")
    side = sidecar_path(path)
    doc = json.loads(side.read_text())
    side.write_text(json.dumps({**doc, "noise_seed": "11"}))
    with pytest.raises(InputError, match="noise_seed must be an integer"):
        Projection.load(path)
    side.write_text(json.dumps({**doc, "format_version": 1}))
    with pytest.raises(InputError, match="holds tensors"):
        Projection.load(path)


@pytest.mark.parametrize("noise", [(-0.1, 0.0, 0.0), (float("nan"), 0.0, 0.0), (0.1, 0.2)])
def test_bad_noise_is_refused(noise):
    with pytest.raises(ValueError, match="noise"):
        _noisy(noise)


# -- the fit --------------------------------------------------------------------------------


def test_noise_defaults():
    cfg = DebiasConfig()
    assert no_target_noise(NOISE_REFERENCE_DIM) == NOISE_NO_TARGET
    assert no_target_noise(4 * NOISE_REFERENCE_DIM) == min(NOISE_MAX, 2 * NOISE_NO_TARGET)
    assert no_target_noise(3) < no_target_noise(4) < no_target_noise(5)
    assert no_target_noise(10_000) == NOISE_MAX
    assert resolve(cfg, 4, has_target=False, d=8).noise == no_target_noise(4)
    assert resolve(cfg, 4, has_target=True, d=8).noise == 0.0
    assert resolve(cfg, 8, has_target=False, d=8).noise == 0.0  # d -> d: not whitened
    assert resolve(DebiasConfig(noise=0.5), 4, has_target=True, d=8).noise == 0.5
    # with the network critic (on by default past NETWORK_CRITIC_ABOVE) the noise is scaled
    wide = NETWORK_CRITIC_ABOVE + 1
    assert no_target_noise(wide, network=True) == NOISE_WITH_NETWORK * no_target_noise(wide)
    assert resolve(cfg, wide, has_target=False, d=64).noise == no_target_noise(wide, True)
    off = DebiasConfig(network_critic=False)
    assert resolve(off, wide, has_target=False, d=64).noise == no_target_noise(wide)
    assert resolve(DebiasConfig(network_critic=True), 4, False, 8).noise == no_target_noise(4, True)
    with pytest.raises(ValueError, match="noise"):
        DebiasConfig(noise=-1.0)


def test_no_target_fit_exports_its_noise():
    """A no-target fit with a whitened 3-D output: the exported projection adds noise of
    no_target_noise(3) per column (the output has unit variance on the training rows), so the
    output's variance there is 1 + that^2."""
    import infomin_cli as im
    from infomin_cli.debias.fit import debias

    rng = np.random.default_rng(0)
    n = 1500
    a = rng.integers(0, 2, n)
    z = rng.standard_normal((n, 6)).astype(np.float32)
    z[:, 0] += a
    cfg = DebiasConfig(dim=3, max_steps=40, eval_every=10)
    proj, hist = debias(z, [im.Attribute.categorical("a", a)], [], cfg, seed=0, device="cpu")
    sigma = no_target_noise(3)
    assert hist.config.noise == sigma
    np.testing.assert_allclose(proj.noise.numpy(), sigma, rtol=0.02)
    out = proj(z[hist.train_rows])
    clean = proj.module()(torch.from_numpy(z[hist.train_rows])).detach().numpy()
    np.testing.assert_allclose(clean.var(0), 1.0, rtol=0.02)
    np.testing.assert_allclose(out.var(0), 1 + sigma**2, rtol=0.1)
    off, _ = debias(z, [im.Attribute.categorical("a", a)], [], DebiasConfig(
        dim=3, max_steps=40, eval_every=10, noise=0.0), seed=0, device="cpu")
    assert off.noise is None
