"""Build an audit's settings from a flat mapping of options, validated in one place.

Command-line flags and (for ``check``) a TOML table are both a flat mapping::

    estimators  "sliced,linear,rho" or a list       slices, order, aggregation
    permutations (SI and linear)                     max_rows, rho_max_rows
    seed, device                                     alpha, fail_above ("rho=0.2" strings or a
                                                     {estimator: value} table)

:func:`audit_settings` returns the :class:`~infomin_cli.pipeline.audit.AuditConfig` and the
:class:`~infomin_cli.pipeline.policy.Policy`; any bad value is a ``ValueError`` naming the key,
and unknown keys get a "did you mean".
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from infomin_cli.errors import SettingError
from infomin_cli.estimators.linear import LinearConfig
from infomin_cli.estimators.rho import RhoConfig
from infomin_cli.estimators.sliced import SlicedConfig
from infomin_cli.pipeline.audit import AuditConfig
from infomin_cli.pipeline.policy import Policy, parse_estimators, parse_threshold
from infomin_cli.stats.device import resolve_device

DEFAULTS: dict[str, Any] = {
    "estimators": "sliced,linear,rho",
    "slices": 100,
    "order": 3,
    "aggregation": "pairwise",
    "permutations": 1000,
    "max_rows": None,
    "rho_max_rows": 50_000,
    "seed": 0,
    "device": "auto",
    "alpha": 0.01,
    "fail_above": (),
}
MINIMUM = {"slices": 1, "order": 1, "permutations": 0, "max_rows": 50, "rho_max_rows": 50}


def _int(key: str, value: Any) -> int | None:
    if value is None and key == "max_rows":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingError(key, f"{value!r}: expected an integer")
    if value < MINIMUM.get(key, 0):
        raise SettingError(key, f"{value}: must be at least {MINIMUM[key]}")
    return value


def _fail_above(value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        texts = [f"{k}={v}" for k, v in value.items()]
    else:
        texts = [value] if isinstance(value, str) else [str(v) for v in value]
    out: dict[str, float] = {}
    for text in texts:
        try:
            est, limit = parse_threshold(text)
        except ValueError as exc:
            raise SettingError("fail_above", f"{text!r}: {exc}") from None
        out[est] = limit
    return out


def audit_settings(options: Mapping[str, Any]) -> tuple[AuditConfig, Policy]:
    """Validate ``options`` (any subset of :data:`DEFAULTS`) into a config and a policy."""
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
    if o["aggregation"] not in ("pairwise", "joint"):
        raise SettingError("aggregation", f"{o['aggregation']!r}: expected pairwise or joint")
    try:
        device = str(resolve_device(str(o["device"])))
    except ValueError as exc:
        raise SettingError("device", f"{o['device']!r}: {exc}") from None
    try:
        alpha = float(o["alpha"])
    except (TypeError, ValueError):
        raise SettingError("alpha", f"{o['alpha']!r}: expected a number") from None
    policy = Policy(alpha=alpha, fail_above=_fail_above(o["fail_above"]))
    policy.validate(names, ints["permutations"])  # type: ignore[arg-type]
    perms = ints["permutations"]
    config = AuditConfig(
        estimators=names,
        sliced=SlicedConfig(slices=ints["slices"], order=ints["order"],  # type: ignore[arg-type]
                            aggregation=o["aggregation"], permutations=perms),  # type: ignore[arg-type]
        linear=LinearConfig(permutations=perms),  # type: ignore[arg-type]
        rho=RhoConfig(max_rows=ints["rho_max_rows"]),
        max_rows=ints["max_rows"],
        seed=seed,
        device=device,
    )
    return config, policy
