"""The pipeline and the reports follow the estimator registry: names, labels, report blocks,
threshold keys and table columns come from one table."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

import infomin_cli as im
from infomin_cli.estimators.registry import NAMES, REGISTRY, columns, spec
from infomin_cli.pipeline.audit import family_members
from infomin_cli.pipeline.policy import Policy, Threshold, parse_estimators, parse_threshold
from infomin_cli.report.junit import detail_text
from infomin_cli.report.markdown import markdown_summary


@dataclass(frozen=True)
class FakeConfig:
    permutations: int = 0


@pytest.fixture
def fake(monkeypatch):
    """An extra estimator registered for the test only."""
    entry = replace(spec("linear"), name="fake", label="FAKE", symbol="F#", block="fake_block",
                    config_type=FakeConfig, accumulator_entry=None, settings={}, joint_null=False)
    monkeypatch.setitem(REGISTRY, "fake", entry)
    return entry


def _audit():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((600, 4)).astype(np.float32)
    g = im.Attribute.categorical("g", (z[:, 0] > 0).astype(int))
    cfg = im.AuditConfig(estimators=("sliced", "linear"), seed=1, calibration_rows=400,
                         configs={"sliced": im.SlicedConfig(slices=8, permutations=99,
                                                            bootstrap=20),
                                  "linear": im.LinearConfig(permutations=99, bootstrap=20)})
    return im.audit_arrays(z, [g], cfg, im.Policy(alpha=0.05))


def test_parse_estimators_accepts_exactly_the_registry_names():
    assert parse_estimators(",".join(NAMES)) == NAMES
    for name in NAMES:
        assert parse_estimators(name) == (name,)
    for label in {s.label for s in REGISTRY.values()} - set(NAMES):
        with pytest.raises(ValueError, match="unknown estimator"):
            parse_estimators(label)


def test_a_registered_estimator_is_known_to_policy_and_thresholds(fake):
    assert parse_estimators("linear,fake") == ("linear", "fake")
    assert parse_threshold("fake:point=0.3") == ("fake", Threshold(0.3, "point"))
    policy = Policy(alpha=0, fail_above={"fake": 0.1})
    assert policy.rules(("fake",)) == ["fail when FAKE lower 95% bound > 0.1"]
    res = type("R", (), {"value": 0.5, "ci": (0.4, 0.6), "p_value": 0.001})()
    d = policy.decide({"a": {"fake": res}})["a"]
    assert d.verdict == "fail" and d.reasons == ("FAKE lower 95% bound 0.400 > 0.1",)
    assert d.decided_by == ("fake",)


def test_a_registered_estimator_is_a_threshold_key_of_check_config(fake, tmp_path):
    from infomin_cli.pipeline.check_config import _thresholds

    assert _thresholds(tmp_path, "thresholds", {"fake": 0.2}) == {"fake": "fake=0.2"}
    with pytest.raises(im.InputError, match="unknown key 'fakes'"):
        _thresholds(tmp_path, "thresholds", {"fakes": 0.2})


def test_every_estimator_run_has_its_registry_block_in_the_report():
    audit = _audit()
    report = im.build_report(audit, input_info={"path": "<memory>"})
    attr = report["attributes"]["g"]
    for name in audit.estimators:
        assert spec(name).block in attr
    assert not any(s.block in attr for n, s in REGISTRY.items() if n not in audit.estimators)


def test_family_members_combine_the_joint_null_estimators():
    a = _audit().attributes["g"]
    members = family_members({n: a.estimates.get(n) for n in REGISTRY})
    joint = tuple(n for n in REGISTRY if spec(n).joint_null and n in a.estimates)
    assert [m.estimators for m in members] == [joint]
    assert members[0].label == "+".join(spec(n).label for n in joint)


def test_rendered_tables_use_the_registry_labels_and_blocks(fake):
    audit = _audit()
    report = im.build_report(audit, input_info={"path": "<memory>"})
    report["estimators"].append("fake")
    report["attributes"]["g"]["fake_block"] = {"value": 0.25, "ci": [0.2, 0.3],
                                               "null_q95": 0.01}
    text = markdown_summary({"verdict": "pass", "checks": {"c": {"report": report}}})
    header = next(line for line in text.splitlines() if line.startswith("| attribute"))
    assert header == ("| attribute | kind | "
                      + " | ".join(spec(n).markdown for n in columns(report["estimators"]))
                      + " | p adj | verdict |")
    assert "F#" in header and "0.250 [0.20–0.30]" in text
    detail = detail_text("c", "g", report["attributes"]["g"], report)
    assert "FAKE = 0.250 [0.200, 0.300], null95 0.010" in detail
    for n in audit.estimators:
        assert f"  {spec(n).label} = " in detail


def test_cli_defaults_are_the_config_defaults():
    import inspect

    from infomin_cli.cli.commands.audit import audit
    from infomin_cli.pipeline.config import DEFAULTS

    params = inspect.signature(audit).parameters
    for key, value in DEFAULTS.items():
        if key == "fail_above":
            continue
        default = params[key].default
        assert getattr(default, "value", default) == value, key
    assert DEFAULTS["slices"] == im.SlicedConfig().slices
    assert DEFAULTS["rho_max_rows"] == im.RhoConfig().max_rows
