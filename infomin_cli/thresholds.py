"""CI thresholds: when does an attribute fail an audit?

``alpha`` applies to the permutation p-values: SI, and linear when it runs, each held to
``alpha / m`` for the ``m`` tests run (Bonferroni; 0 disables it).
``fail_above`` maps an estimator (``sliced``, ``linear``, ``rho``) to a value above which the
attribute fails. ``--fail-above 0.1`` means ``sliced=0.1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infomin_cli.errors import InputError

ESTIMATORS: tuple[str, ...] = ("sliced", "linear", "rho")


@dataclass(frozen=True)
class Thresholds:
    alpha: float = 0.01
    fail_above: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"alpha": self.alpha, "fail_above": dict(self.fail_above)}


def parse_estimators(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    if not names:
        raise InputError("--estimators: name at least one of sliced, linear, rho")
    for n in names:
        if n not in ESTIMATORS:
            raise InputError(f"--estimators: unknown estimator {n!r} (choose from sliced, linear, rho)")
    return names


def parse_fail_above(items: list[str] | None) -> dict[str, float]:
    """``['0.2', 'rho=0.3']`` -> ``{'sliced': 0.2, 'rho': 0.3}``."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, num = item.partition("=")
        if not sep:
            name, num = "sliced", item
        name = name.strip().lower()
        if name not in ESTIMATORS:
            raise InputError(
                f"--fail-above {item!r}: unknown estimator {name!r} (choose from sliced, linear, rho)"
            )
        try:
            value = float(num)
        except ValueError:
            raise InputError(f"--fail-above {item!r}: {num!r} is not a number") from None
        if not 0.0 <= value <= 1.0:
            raise InputError(f"--fail-above {item!r}: the threshold must lie in [0, 1]")
        out[name] = value
    return out


def check_alpha(alpha: float) -> float:
    if not 0.0 <= alpha < 1.0:
        raise InputError(f"--alpha {alpha}: expected a level in [0, 1)")
    return alpha
