"""The debias library entry and the penalty table: ``run_debias`` without the command line,
and ``PENALTIES`` as the one place a fit finds its penalty."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import infomin_cli as im
from infomin_cli.debias.config import BETA_TARGET, DebiasConfig, parse_betas
from infomin_cli.debias.fit import debias, fit_projection
from infomin_cli.debias.penalties import PENALTIES, penalty_factory
from infomin_cli.debias.run import MEASURED, WITH_P_VALUE, run_debias
from infomin_cli.estimators.registry import REGISTRY

REPORT_KEYS = ["projection", "out", "attributes", "targets", "method", "model", "dim", "beta",
               "seed", "noise", "steps", "best_step", "held_out_rows", "beta_search", "plot",
               "max_step_seconds", "held_out", "before", "after", "notes"]


def _data(n=600, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 6)).astype(np.float32)
    t = im.Attribute.categorical("t", (np.abs(z[:, 0]) > 0.67).astype(int))
    u = im.Attribute.categorical("u", (z[:, 2] > 0).astype(int))
    y = im.Attribute.categorical("y", (z[:, 1] > 0).astype(int))
    return z, t, u, y


class _Zero:
    """A trivial penalty that counts how the fit calls it."""

    made: list[_Zero] = []

    def __init__(self, attribute, config, seed):
        self.attribute, self.seed = attribute, seed
        self.solves = self.calls = 0
        _Zero.made.append(self)

    def solve(self, fz, rows):
        assert not fz.requires_grad and len(fz) == len(rows)
        self.solves += 1
        return 0.0

    def __call__(self, fz, rows):
        assert len(fz) == len(rows)
        self.calls += 1
        return fz.sum() * 0.0


def test_the_penalty_table_drives_the_fit(monkeypatch):
    z, t, u, y = _data()
    _Zero.made = []
    monkeypatch.setitem(PENALTIES, "zero", _Zero)
    cfg = DebiasConfig(penalty="zero", model="linear", max_steps=3, eval_every=3, val_solves=2)
    proj, hist = debias(z, [t, u], [y], cfg, seed=0, device="cpu")
    assert [p.attribute.name for p in _Zero.made] == ["t", "u"]
    assert _Zero.made[0].seed != _Zero.made[1].seed  # one seed stream per attribute
    for p in _Zero.made:  # a max-step before each of 3 steps, 2 for the one validation
        assert p.solves == 3 + 2 and p.calls == 3 + 2
    assert hist.val_si == [0.0] and proj.metadata["method"] == "zero"


def test_unknown_penalties_are_refused_with_the_choices(monkeypatch):
    choices = r"\(choose from slice, adversarial, pearson\)"
    with pytest.raises(ValueError, match=r"unknown penalty 'gan' " + choices):
        DebiasConfig(penalty="gan")
    with pytest.raises(ValueError, match=choices):
        penalty_factory("gan")
    monkeypatch.setitem(PENALTIES, "zero", _Zero)
    cfg = DebiasConfig(penalty="zero", max_steps=2)
    monkeypatch.delitem(PENALTIES, "zero")  # looked up at fit time, not only on construction
    z, t, _, y = _data()
    with pytest.raises(ValueError, match=r"unknown penalty 'zero' " + choices):
        fit_projection(z, [t], [y], cfg, device="cpu")


def test_measured_estimators_are_registry_names():
    assert set(MEASURED) <= set(REGISTRY) and set(WITH_P_VALUE) <= set(MEASURED)


@pytest.mark.parametrize("text, betas", [("0.5", [0.5]), ("0,1, 3", [0.0, 1.0, 3.0])])
def test_parse_betas(text, betas):
    assert parse_betas(text) == betas


@pytest.mark.parametrize("text", ["", "x", "1,-2", "nan", ",", "1,,2", "1,", "inf"])
def test_parse_betas_refuses(text):
    with pytest.raises(ValueError, match="numbers >= 0"):
        parse_betas(text)


def test_run_debias_measures_the_held_out_rows_and_reports():
    z, t, _, y = _data(800)
    cfg = DebiasConfig(model="linear", max_steps=10, slices=10)
    run = run_debias(z, [t], [y], cfg, seed=2, device="cpu", metadata={"input": "x"})
    report = run.to_json("p.safetensors")
    assert list(report) == REPORT_KEYS
    assert report["method"] == "slice" and report["model"] == "linear"
    assert report["beta"] == BETA_TARGET and report["beta_search"] is None  # cfg.beta None
    assert report["dim"] == 1 == run.projection.dim_out  # one binary target
    assert report["held_out"] == {"rows": len(run.held_out), "judge": "rho*",
                                  "leakage": run.after["t"]["rho"],
                                  "utility": run.after["y"]["rho"], "utility_measure": "rho*",
                                  "max_leakage": None, "met": None}
    assert report["held_out_rows"] == len(run.held_out) == len(run.history.val_rows)
    assert set(report["before"]) == set(report["after"]) == {"t", "y"}
    for row in report["after"].values():
        assert list(row) == ["linear", "si", "si_p", "rho"]
    meta = run.projection.metadata
    assert list(meta)[-4:] == ["before", "after", "held_out", "input"]
    assert meta["after"] == run.after and meta["held_out"] == report["held_out"]
    assert np.array_equal(run.held_out, np.sort(run.held_out))
    point = run.tradeoff()
    assert point == [{"beta": BETA_TARGET, "rho": run.after["t"]["rho"],
                      "utility": run.after["y"]["rho"]}]


@pytest.mark.slow
def test_run_debias_sweeps_and_erases_in_closed_form():
    pytest.importorskip("concept_erasure")
    z, t, _, y = _data(800)
    cfg = DebiasConfig(model="linear", max_steps=5, slices=10)
    run = run_debias(z, [t], [y], cfg, betas=[0.0, 1.0], seed=0, device="cpu")
    assert [tr.beta for tr in run.trials] == [0.0, 1.0] and run.beta == 1.0
    assert run.to_json("p")["beta_search"] == run.tradeoff()
    leace = run_debias(z, [t], [y], cfg, method="leace", betas=[0.0, 1.0], max_leakage=0.1,
                       seed=0, device="cpu")
    report = leace.to_json("p")
    assert report["method"] == "leace" and report["model"] == "linear"
    assert report["beta"] is None and report["beta_search"] is None and report["notes"] == []
    assert torch.is_tensor(leace.projection.mean)


@pytest.mark.slow
def test_the_debias_report_uses_the_audits_judge():
    """The after-table's rho* is what ``infomin audit`` (default settings) reads of the same
    held-out output, number for number; a beta sweep's leakage is the same judge too."""
    z, t, u, y = _data(n=1500)
    cfg = DebiasConfig(model="linear", max_steps=40, eval_every=10)
    run = run_debias(z, [t], [y], cfg, seed=0, device="cpu")
    out = np.asarray(run.projection(z[run.held_out]))
    attrs = [a.take(run.held_out) for a in (t, y)]
    audit = im.audit_arrays(out, attrs, *im.audit_settings({"seed": 0}))
    for a in ("t", "y"):
        assert run.after[a]["rho"] == audit.attributes[a].estimates["rho"].value
    assert audit.attributes["t"].estimates["rho"].trees is not None  # the full judge
    swept = run_debias(z, [t], [y], cfg, betas=[0.5, 1.0], seed=0, device="cpu")
    assert swept.trials[-1].rho == pytest.approx(swept.leakage(swept.after), abs=1e-12)


def test_leace_without_a_target_records_no_utility_rather_than_nan():
    """The held-out block goes into a JSON sidecar: no NaN (not JSON), None instead."""
    pytest.importorskip("concept_erasure")
    import json

    z, t, _, _ = _data(800)
    run = run_debias(z, [t], [], method="leace", seed=0, device="cpu")
    held = run.held_out_summary()
    assert held["utility"] is None and held["utility_measure"] == "reconstruction R2"
    json.dumps(run.projection.metadata, allow_nan=False)  # raises on NaN
