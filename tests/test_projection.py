"""Projection: the frozen inference path of a debiasing fit, and its pickle-free file format."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from infomin_cli.debias.projection import Projection, ProjectionModule, apply_batches
from infomin_cli.debias.projection_file import FORMAT, _is_pickle, sidecar_path
from infomin_cli.errors import InputError

D, H, K = 7, 5, 3
META = {"method": "slice", "attributes": ["gender"], "targets": [], "beta": 0.5, "seed": 3,
        "before": {"gender": {"p_value": 0.001}}, "after": {"gender": {"p_value": 0.62}}}


def _stats(rng):
    mean = torch.from_numpy(rng.normal(size=D).astype(np.float32))
    scale = torch.from_numpy(rng.uniform(0.5, 2.0, size=D).astype(np.float32))
    scale[2] = 0.0  # a dead column
    return mean, scale


def make(kind: str, seed: int = 0) -> Projection:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    head = (nn.Linear(D, K) if kind == "linear"
            else nn.Sequential(nn.Linear(D, H), nn.SiLU(), nn.Linear(H, K)))
    mean, scale = _stats(rng)
    return Projection.from_module(kind, head, mean, scale, META)


@pytest.fixture
def z() -> np.ndarray:
    return np.random.default_rng(5).normal(size=(11, D)).astype(np.float32)


def _write_pair(path: Path, tensors: dict, sidecar: dict | None = None, **overrides) -> None:
    """A tensor file and a sidecar that describes it (correct sha256 unless overridden)."""
    safetensors.torch.save_file(tensors, str(path))
    doc = sidecar or {"format": FORMAT, "format_version": 1, "kind": "linear",
                      "tensors": {n: list(t.shape) for n, t in tensors.items()}, "metadata": {}}
    doc["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    doc.update(overrides)
    sidecar_path(path).write_text(json.dumps(doc))


# -- inference and round trips --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_round_trip_is_bit_exact(tmp_path, z, kind):
    p = make(kind)
    assert (p.dim_in, p.dim_out) == (D, K)
    assert p.hidden == (H if kind == "mlp" else None)
    out = p(z)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (11, K)
    path = tmp_path / "proj.safetensors"
    assert p.save(path) == path
    assert sidecar_path(path) == tmp_path / "proj.safetensors.json"
    q = Projection.load(path)
    assert q.kind == kind and (q.dim_in, q.dim_out) == (D, K)
    for name in ("mean", "scale"):
        assert torch.equal(getattr(q, name), getattr(p, name))
    assert q.weights.keys() == p.weights.keys()
    assert all(torch.equal(q.weights[n], p.weights[n]) for n in p.weights)
    # numpy in, numpy out
    np.testing.assert_array_equal(q(z), out)
    np.testing.assert_array_equal(q.transform(z), out)
    # tensors in, tensors out
    zt = torch.from_numpy(z)
    ref = p(zt)
    assert isinstance(ref, torch.Tensor) and ref.dtype == torch.float32
    assert torch.equal(q(zt), ref)
    assert torch.equal(ref, torch.from_numpy(out))
    # through module()
    m = q.module()
    assert isinstance(m, ProjectionModule)
    with torch.no_grad():
        assert torch.equal(m(zt), ref)
    # and back again
    r = Projection.from_module(kind, m, metadata=q.metadata)
    assert torch.equal(r(zt), ref)
    assert q.metadata == META


def test_module_is_independent_and_trainable(z):
    p = make("mlp")
    before = p(z)
    m = p.module()
    assert isinstance(m.head, nn.Sequential)
    assert all(t.requires_grad for t in m.head.parameters())
    with torch.no_grad():
        for t in m.head.parameters():
            t.add_(1.0)
    np.testing.assert_array_equal(p(z), before)


def test_from_module_detaches_and_copies():
    head = nn.Linear(D, K).double()
    mean = np.zeros(D)
    p = Projection.from_module("linear", head, mean, np.ones(D), {"seed": 1})
    assert all(t.dtype == torch.float32 and t.device.type == "cpu" and not t.requires_grad
               for t in (p.mean, p.scale, *p.weights.values()))
    with torch.no_grad():
        head.weight.zero_()
    assert p.weights["weight"].abs().sum() > 0
    with pytest.raises(ValueError, match="Sequential"):
        Projection.from_module("mlp", nn.Linear(D, K), mean, np.ones(D))
    with pytest.raises(ValueError, match="bias"):
        Projection.from_module("linear", nn.Linear(D, K, bias=False), mean, np.ones(D))


def test_to_cpu(z):
    p = make("mlp")
    q = p.to("cpu")
    assert q is not p and q.device.type == "cpu"
    np.testing.assert_array_equal(q(z), p(z))
    assert q.metadata == p.metadata


def test_tensor_input_keeps_autograd(z):
    p = make("linear")
    zt = torch.from_numpy(z).double().requires_grad_(True)
    p(zt).sum().backward()
    assert zt.grad is not None and zt.grad.shape == zt.shape


def test_wrong_dimension_messages(z):
    p = make("linear")
    with pytest.raises(ValueError, match=f"expected embeddings of dimension {D}, got dimension 4"):
        p(z[:, :4])
    with pytest.raises(ValueError, match=f"expected embeddings of dimension {D}, got dimension 4"):
        p(torch.from_numpy(z[:, :4]))
    with pytest.raises(ValueError, match=r"2-D .* got shape \(7,\)"):
        p(z[0])
    with pytest.raises(ValueError, match="numeric"):
        p(np.array([["a"] * D]))


def test_construction_checks_shapes():
    p = make("linear")
    with pytest.raises(ValueError, match="expected"):
        Projection("linear", p.mean, p.scale, {"weight": torch.zeros(K, D + 1),
                                               "bias": torch.zeros(K)})
    with pytest.raises(ValueError, match="float32"):
        Projection("linear", p.mean.double(), p.scale, p.weights)
    with pytest.raises(ValueError, match="kind"):
        Projection("conv", p.mean, p.scale, p.weights)
    with pytest.raises(ValueError, match="JSON"):
        Projection("linear", p.mean, p.scale, p.weights, {"x": object()})


def test_repr_is_short():
    assert repr(make("mlp")) == f"Projection(kind='mlp', dim_in={D}, hidden={H}, dim_out={K}, device=cpu)"


# -- the sidecar -----------------------------------------------------------------------------


def test_sidecar_contents(tmp_path):
    p = make("mlp")
    path = p.save(tmp_path / "p.safetensors")
    doc = json.loads(sidecar_path(path).read_text())
    assert doc["format"] == "infomin-projection" and doc["format_version"] == 1
    assert (doc["kind"], doc["dim_in"], doc["dim_out"]) == ("mlp", D, K)
    assert doc["tensors"] == {"mean": [D], "scale": [D], "weights.0.weight": [H, D],
                              "weights.0.bias": [H], "weights.2.weight": [K, H],
                              "weights.2.bias": [K]}
    assert doc["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc["metadata"] == META
    assert set(safetensors.torch.load_file(str(path))) == set(doc["tensors"])


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    p = make("linear")
    p.save(tmp_path / "p.safetensors")
    make("linear", seed=1).save(tmp_path / "p.safetensors")  # overwrite an output: fine
    assert sorted(os.listdir(tmp_path)) == ["p.safetensors", "p.safetensors.json"]


def test_save_refuses_to_overwrite_an_input(tmp_path):
    src = tmp_path / "emb.safetensors"
    src.write_bytes(b"precious")
    p = make("linear")
    with pytest.raises(InputError, match="refusing to overwrite an input"):
        p.save(src, inputs=[src])
    assert src.read_bytes() == b"precious"
    # the sidecar is protected too, and nothing is written when either target is refused
    side = tmp_path / "out.safetensors.json"
    side.write_text("{}")
    with pytest.raises(InputError, match="refusing to overwrite an input"):
        p.save(tmp_path / "out.safetensors", input_files=[side])
    assert side.read_text() == "{}" and not (tmp_path / "out.safetensors").exists()
    with pytest.raises(InputError, match="inside the input directory"):
        p.save(tmp_path / "out.safetensors", inputs=[tmp_path])


# -- refusals --------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path) -> Path:
    return make("linear").save(tmp_path / "p.safetensors")


def _refused(path, match: str) -> str:
    with pytest.raises(InputError, match=match) as info:
        Projection.load(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert path.name in msg
    return msg


def test_refuses_missing_file_and_sidecar(tmp_path, saved):
    _refused(tmp_path / "nope.safetensors", "no such file")
    sidecar_path(saved).unlink()
    _refused(saved, "sidecar p.safetensors.json is missing")


def test_refuses_a_foreign_sidecar(saved):
    side = sidecar_path(saved)
    doc = json.loads(side.read_text())
    del doc["format"]
    side.write_text(json.dumps(doc))
    _refused(saved, "not an infomin projection sidecar")
    doc["format"] = "something-else"
    side.write_text(json.dumps(doc))
    _refused(saved, "not an infomin projection sidecar")
    side.write_text("not json {")
    _refused(saved, "not valid JSON")


def test_refuses_a_newer_format_version(saved):
    side = sidecar_path(saved)
    doc = json.loads(side.read_text())
    doc["format_version"] = 99
    side.write_text(json.dumps(doc))
    _refused(saved, "format_version 99 is newer")


def test_refuses_changed_or_corrupt_bytes(saved):
    data = bytearray(saved.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    saved.write_bytes(bytes(data))
    _refused(saved, "sha256 does not match")
    saved.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    _refused(saved, "sha256 does not match")


def test_refuses_unparseable_bytes_even_with_a_matching_hash(saved):
    data = saved.read_bytes()[:-5]  # truncated, then the sidecar "fixed up" to match
    saved.write_bytes(data)
    side = sidecar_path(saved)
    doc = json.loads(side.read_text())
    doc["sha256"] = hashlib.sha256(data).hexdigest()
    side.write_text(json.dumps(doc))
    _refused(saved, "not a readable safetensors file")


def test_refuses_a_foreign_safetensors_file(tmp_path):
    path = tmp_path / "foreign.safetensors"
    _write_pair(path, {"x": torch.zeros(3, 4)})
    _refused(path, r"holds tensors \['x'\], expected")


def test_refuses_inconsistent_shapes(tmp_path):
    path = tmp_path / "bad.safetensors"
    tensors = {"mean": torch.zeros(D), "scale": torch.ones(D),
               "weights.weight": torch.zeros(K, D + 1), "weights.bias": torch.zeros(K)}
    _write_pair(path, tensors)
    _refused(path, rf"weights.weight has shape \({K}, {D + 1}\), expected \({K}, {D}\)")
    # a sidecar that lists other shapes than the file holds
    tensors["weights.weight"] = torch.zeros(K, D)
    _write_pair(path, tensors)
    side = sidecar_path(path)
    doc = json.loads(side.read_text())
    doc["tensors"]["weights.weight"] = [K + 1, D]
    side.write_text(json.dumps(doc))
    _refused(path, "its sidecar says")
    # tensors of the wrong dtype
    _write_pair(path, {**tensors, "mean": torch.zeros(D, dtype=torch.float64)})
    _refused(path, "float32")
    # a sidecar whose kind disagrees with the tensors
    _write_pair(path, tensors, kind="mlp")
    _refused(path, "expected")


def test_refuses_to_unpickle(tmp_path, saved):
    evil = tmp_path / "evil.safetensors"
    torch.save({"mean": torch.zeros(D)}, evil)  # zip format
    _refused(evil, "refusing to unpickle")
    torch.save({"mean": torch.zeros(D)}, saved, _use_new_zipfile_serialization=False)
    assert saved.read_bytes()[:1] == b"\x80"
    _refused(saved, "refusing to unpickle")  # the sidecar beside it does not help


def test_a_header_length_starting_with_0x80_is_not_a_pickle():
    # A safetensors file whose 8-byte header length has the low byte 0x80, like a pickle.
    for length in range(1, 300):
        data = safetensors.torch.save({"a" * length: torch.zeros(1)})
        if data[:1] == b"\x80":
            break
    assert data[:1] == b"\x80"
    assert not _is_pickle(data)


# -- streaming -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_apply_batches_matches_one_call(kind):
    p = make(kind)
    big = np.random.default_rng(9).normal(size=(40, D))  # float64 in, float32 out
    sizes = [1, 7, 0, 13, 19]
    batches = np.split(big, np.cumsum(sizes)[:-1])
    outs = list(apply_batches(p, iter(batches)))
    assert [o.shape for o in outs] == [(s, K) for s in sizes]
    assert all(o.dtype == np.float32 for o in outs)
    # Equal up to float rounding: BLAS may block a 1-row product differently from a 40-row one.
    np.testing.assert_allclose(np.concatenate(outs), p(big), rtol=1e-6, atol=1e-6)


def test_apply_batches_names_a_bad_batch():
    p = make("linear")
    batches = [np.zeros((2, D)), np.zeros((2, D + 1))]
    with pytest.raises(ValueError, match=f"batch 1: expected embeddings of dimension {D}, "
                                         f"got dimension {D + 1}"):
        list(apply_batches(p, batches))
