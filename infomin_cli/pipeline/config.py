"""Build an audit's settings from a flat mapping of options, validated in one place.

Command-line flags and (for ``check``) a TOML table are both a flat mapping::

    estimators    registry names, comma-separated    the estimators' own settings (the
                  or a list                          registry's ``settings``: slices, order,
    permutations  None (auto) or a count, for        aggregation, rho_max_rows, ...)
                  every estimator's test             max_rows, seed (0 <= seed < 2**63)
    alpha, correction (holm, bonferroni, none)       device, rank_transform (bool)
    engine        "local" or "ray" (where the streaming pass runs; same report)
    fail_above    "NAME=X" / "NAME:point=X" strings, or an {estimator: value} table

:data:`DEFAULTS` holds every setting's default, read off the config dataclasses
(:class:`~infomin_cli.pipeline.audit.AuditConfig`, the estimators' configs,
:class:`~infomin_cli.pipeline.policy.Policy`): the command line reads its defaults from it.
:func:`audit_settings` returns the :class:`~infomin_cli.pipeline.audit.AuditConfig` and the
:class:`~infomin_cli.pipeline.policy.Policy`; any bad value is a ``ValueError`` naming the key,
and unknown keys get a "did you mean".
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, get_args

from infomin_cli.engine import ENGINES
from infomin_cli.errors import SettingError
from infomin_cli.estimators.registry import NAMES, REGISTRY
from infomin_cli.pipeline.audit_config import AuditConfig
from infomin_cli.pipeline.policy import Policy, parse_estimators, parse_threshold
from infomin_cli.stats.choices import Aggregation
from infomin_cli.stats.device import device_setting


def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default for f in fields(cls)}


def _estimator_defaults() -> dict[str, Any]:
    """Each estimator setting's default: its config dataclass's (the first estimator that
    takes a setting gives it)."""
    out: dict[str, Any] = {}
    for s in REGISTRY.values():
        for key in s.settings:
            out.setdefault(key, s.default(key))
    return out


_AUDIT, _POLICY, _ESTIMATOR = _defaults(AuditConfig), _defaults(Policy), _estimator_defaults()
DEFAULTS: dict[str, Any] = {
    "estimators": ",".join(NAMES),
    **_ESTIMATOR,
    "permutations": None,  # auto: enough for the family (Policy.permutations_needed)
    **{k: _AUDIT[k] for k in ("max_rows", "seed", "device")},
    **{k: _POLICY[k] for k in ("alpha", "correction")},
    "fail_above": (),
    "engine": _AUDIT["engine"],
}
MINIMUM = {"slices": 1, "order": 1, "permutations": 0, "max_rows": 50, "rho_max_rows": 50}


def _int(key: str, value: Any) -> int | None:
    if value is None and key in ("max_rows", "permutations"):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingError(key, f"{value!r}: expected an integer")
    if value < MINIMUM.get(key, 0):
        raise SettingError(key, f"{value}: must be at least {MINIMUM[key]}")
    return value


def _fail_above(value: Any) -> dict:
    if isinstance(value, Mapping):
        texts = [f"{k}={v}" for k, v in value.items()]
    else:
        texts = [value] if isinstance(value, str) else [str(v) for v in value]
    out: dict = {}
    for text in texts:
        try:
            est, limit = parse_threshold(text)
        except ValueError as exc:
            raise SettingError("fail_above", f"{text!r}: {exc}") from None
        out[est] = limit
    return out


def audit_settings(options: Mapping[str, Any], attributes: int = 1
                   ) -> tuple[AuditConfig, Policy]:
    """Validate ``options`` (any subset of :data:`DEFAULTS`) into a config and a policy, for
    an audit of ``attributes`` attributes (the family size decides how many permutations
    the default, ``permutations=None``, runs)."""
    for key in options:
        if key not in DEFAULTS:
            close = difflib.get_close_matches(key, list(DEFAULTS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SettingError(key, f"unknown setting {key!r}{hint}")
    o = {**DEFAULTS, **options}
    try:
        names = parse_estimators(o["estimators"])
    except ValueError as exc:
        raise SettingError("estimators", f"{o['estimators']!r}: {exc}") from None
    ints = {k: _int(k, o[k]) for k in MINIMUM}
    seed = o["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SettingError("seed", f"{seed!r}: expected an integer")
    if not 0 <= seed < 2**63:
        raise SettingError("seed", f"{seed}: expected 0 <= seed < 2**63")
    if not isinstance(o["rank_transform"], bool):
        raise SettingError("rank_transform", f"{o['rank_transform']!r}: expected true or false")
    if o["engine"] not in ENGINES:
        raise SettingError("engine", f"{o['engine']!r}: expected {' or '.join(ENGINES)}")
    if o["aggregation"] not in get_args(Aggregation):
        raise SettingError("aggregation", f"{o['aggregation']!r}: expected pairwise or joint")
    try:
        device = device_setting(str(o["device"]))
    except ValueError as exc:
        raise SettingError("device", f"{o['device']!r}: {exc}") from None
    try:
        alpha = float(o["alpha"])
    except (TypeError, ValueError):
        raise SettingError("alpha", f"{o['alpha']!r}: expected a number") from None
    policy = Policy(alpha=alpha, correction=str(o["correction"]),
                    fail_above=_fail_above(o["fail_above"]))
    perms = ints["permutations"]
    if perms is None:
        perms = policy.permutations_needed(names, attributes)
    policy.validate(names, perms, attributes)
    settings = {**o, **ints, "permutations": perms}
    config = AuditConfig(
        estimators=names,
        configs={n: s.config(settings) for n, s in REGISTRY.items()},
        max_rows=ints["max_rows"],
        seed=seed,
        device=device,
        engine=o["engine"],
    )
    return config, policy
