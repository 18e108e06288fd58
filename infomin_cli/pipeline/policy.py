"""The verdict: when does an attribute fail an audit (and, later, a ``check``)?

A :class:`Policy` holds the thresholds; :meth:`Policy.judge` turns one attribute's results into
``("fail", reasons)`` or ``("pass", ())``; :meth:`Policy.rules` says the rule in words for the
report; :meth:`Policy.validate` refuses settings that can never fail. Nothing here knows about
command-line flags: messages name the setting (``alpha``, ``fail_above``), the CLI adds flags.

* ``alpha`` -- the permutation p-values (SI, and linear when it runs) are each held to
  ``alpha / m`` for the ``m`` tests run (Bonferroni), so an attribute independent of the
  embedding fails with probability at most ``alpha``; 0 turns significance off.
* ``fail_above`` -- an estimator (``sliced``, ``linear``, ``rho``) and a value above which the
  attribute fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infomin_cli.errors import SettingError

ESTIMATORS: tuple[str, ...] = ("sliced", "linear", "rho")
TESTED: tuple[str, ...] = ("sliced", "linear")  # estimators with a permutation p-value
LABELS = {"sliced": "SI", "linear": "linear", "rho": "rho*"}


def parse_estimators(names: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"sliced,linear"`` or a list -> a tuple of known estimator names, in order, unique."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out = tuple(dict.fromkeys(p.strip().lower() for p in items if p.strip()))
    if not out:
        raise ValueError(f"name at least one of {', '.join(ESTIMATORS)}")
    for n in out:
        if n not in ESTIMATORS:
            raise ValueError(f"unknown estimator {n!r} (choose from {', '.join(ESTIMATORS)})")
    return out


def parse_threshold(text: str) -> tuple[str, float]:
    """``"0.2"`` -> ``("sliced", 0.2)``; ``"rho=0.3"`` -> ``("rho", 0.3)``."""
    name, sep, num = text.partition("=")
    if not sep:
        name, num = "sliced", text
    name = name.strip().lower()
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r} (choose from {', '.join(ESTIMATORS)})")
    try:
        value = float(num)
    except ValueError:
        raise ValueError(f"{num.strip()!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError("the threshold must lie in [0, 1]")
    return name, value


@dataclass(frozen=True)
class Policy:
    alpha: float = 0.01
    fail_above: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha < 1.0:
            raise SettingError("alpha", f"{self.alpha}: expected a level in [0, 1)")
        for name, value in self.fail_above.items():
            if name not in ESTIMATORS or not 0.0 <= value <= 1.0:
                raise SettingError("fail_above", f"{name}={value}: unknown estimator or a "
                                   "threshold outside [0, 1]")

    def to_json(self) -> dict:
        return {"alpha": self.alpha, "fail_above": dict(self.fail_above)}

    def tests(self, estimators: tuple[str, ...]) -> list[str]:
        """The estimators whose permutation p-value the verdict uses."""
        return [e for e in TESTED if e in estimators] if self.alpha > 0 else []

    def validate(self, estimators: tuple[str, ...], permutations: int) -> None:
        """Refuse thresholds on estimators that do not run, and a permutation count whose
        smallest p-value, ``1 / (B + 1)``, can never fall below ``alpha / m``."""
        for est in self.fail_above:
            if est not in estimators:
                raise SettingError("fail_above", f"{est}=...: estimator {est!r} is not among the "
                                   f"estimators run ({', '.join(estimators)})")
        tests = self.tests(estimators)
        if tests:
            level = self.alpha / len(tests)
            if 1.0 / (permutations + 1) >= level:
                need = int(len(tests) / self.alpha)
                raise SettingError(
                    "permutations", f"{permutations}: the smallest possible p-value, "
                    f"1/{permutations + 1}, is not below alpha/{len(tests)} = {level:g}, so no "
                    f"attribute could ever fail; use {need} or more (or alpha 0)"
                )

    def judge(self, results: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
        """``results`` maps an estimator name to its result (or None)."""
        reasons: list[str] = []
        tests = [(LABELS[e], results[e].p_value) for e in TESTED
                 if results.get(e) is not None and results[e].p_value is not None]
        if self.alpha > 0 and tests:
            level = self.alpha / len(tests)
            for label, p in tests:
                if p < level:
                    bound = f"alpha {self.alpha:g}" + (f"/{len(tests)}" if len(tests) > 1 else "")
                    reasons.append(f"{label} p={p:.2g} < {bound}")
        for name, limit in self.fail_above.items():
            res = results.get(name)
            if res is not None and res.value > limit:
                reasons.append(f"{LABELS[name]} {res.value:.3f} > {limit:g}")
        return ("fail" if reasons else "pass"), tuple(reasons)

    def rules(self, estimators: tuple[str, ...]) -> list[str]:
        """The rule in words, e.g. ``["fail when SI p or linear p < 0.01/2"]``."""
        out = []
        tests = self.tests(estimators)
        if tests:
            names = " or ".join(LABELS[t] + " p" for t in tests)
            split = f"/{len(tests)}" if len(tests) > 1 else ""
            out.append(f"fail when {names} < {self.alpha:g}{split}")
        out += [f"fail when {k} > {v:g}" for k, v in self.fail_above.items()]
        return out
