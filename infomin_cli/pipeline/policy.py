"""The verdict: when does an attribute fail an audit (and, later, a ``check``)?

A :class:`Policy` holds the rule; :meth:`Policy.decide` turns the results of every attribute
into verdicts; :meth:`Policy.rules` says the rule in words; :meth:`Policy.validate` refuses
settings that can never fail. Nothing here knows about command-line flags: errors are
:class:`~infomin_cli.errors.SettingError` naming the setting, the CLI adds its flag.

Significance (``alpha``). Every permutation test that ran -- of every estimator, for every
attribute -- is one member of a single family, and the family's p-values are adjusted together
(``correction``: ``holm`` by default, ``bonferroni``, or ``none``). An attribute fails when one
of its adjusted p-values is at most ``alpha``. With Holm or Bonferroni, an embedding independent
of *all* its attributes fails the audit with probability at most ``alpha``, whatever the number
of attributes and estimators (Holm's step-down is uniformly more powerful than Bonferroni and
needs no assumption on how the tests depend on each other).

Effect sizes (``fail_above``). ``{estimator: Threshold(value, bound)}``: the attribute fails when
the chosen number exceeds ``value``. ``bound`` is ``lower`` (default: the lower end of the 95%
bootstrap interval -- fail only when the leak is *confidently* above the limit, so sampling
noise alone does not break a build), ``point`` (the estimate) or ``upper`` (the upper end --
fail unless the data show the leak is below the limit: the strict choice for a release gate).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from infomin_cli.errors import SettingError
from infomin_cli.estimators.registry import BARE_THRESHOLD, REGISTRY, spec

CORRECTIONS: tuple[str, ...] = ("holm", "bonferroni", "none")
BOUNDS: tuple[str, ...] = ("lower", "point", "upper")
Bound = Literal["lower", "point", "upper"]


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown estimator {name!r} (choose from {', '.join(REGISTRY)})")


def parse_estimators(names: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated string or a list -> a tuple of registry names, in order, unique."""
    if not isinstance(names, (str, list, tuple)):
        raise ValueError(f"expected a comma-separated string or a list, got {names!r}")
    items = names.split(",") if isinstance(names, str) else [str(n) for n in names]
    out = tuple(dict.fromkeys(p.strip().lower() for p in items if p.strip()))
    if not out:
        raise ValueError(f"name at least one of {', '.join(REGISTRY)}")
    for n in out:
        if n not in REGISTRY:
            raise _unknown(n)
    return out


@dataclass(frozen=True)
class Threshold:
    value: float
    bound: Bound = "lower"

    def to_json(self) -> dict:
        return {"value": self.value, "bound": self.bound}


def parse_threshold(text: str) -> tuple[str, Threshold]:
    """``"NAME[:BOUND]=X"`` -> ``(NAME, Threshold(X, BOUND))``, the bound ``lower`` by
    default; a bare ``"X"`` is a threshold on the registry's ``BARE_THRESHOLD`` estimator."""
    name, sep, num = text.partition("=")
    if not sep:
        name, num = BARE_THRESHOLD, text
    name, _, bound = name.strip().lower().partition(":")
    bound = bound or "lower"
    if name not in REGISTRY:
        raise _unknown(name)
    if bound not in BOUNDS:
        raise ValueError(f"unknown bound {bound!r} (choose from {', '.join(BOUNDS)})")
    try:
        value = float(num)
    except ValueError:
        raise ValueError(f"{num.strip()!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError("the threshold must lie in [0, 1]")
    return name, Threshold(value, bound)  # type: ignore[arg-type]


def adjust(pvalues: list[float], method: str) -> list[float]:
    """Family-wise adjusted p-values (same order as given)."""
    m = len(pvalues)
    if method == "none" or m == 0:
        return list(pvalues)
    if method == "bonferroni":
        return [min(1.0, p * m) for p in pvalues]
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


@dataclass(frozen=True)
class FamilyTest:
    """One member of the family: the test of one estimator, or of several combined on shared
    permutations (by min-p); ``p_adjusted`` is filled in by the policy."""

    estimators: tuple[str, ...]
    p: float
    p_adjusted: float | None = None

    @property
    def label(self) -> str:
        return "+".join(spec(e).label for e in self.estimators)

    def to_json(self) -> dict:
        return {"estimators": list(self.estimators), "p": self.p, "p_adjusted": self.p_adjusted}


@dataclass(frozen=True)
class Decision:
    """One attribute's verdict: ``reasons`` in words, ``decided_by`` the estimators whose test
    or threshold failed it, ``tests`` its family members with their adjusted p-values."""

    verdict: str
    reasons: tuple[str, ...]
    decided_by: tuple[str, ...]
    tests: tuple[FamilyTest, ...]


@dataclass(frozen=True)
class Policy:
    alpha: float = 0.01
    correction: str = "holm"
    fail_above: dict[str, Threshold] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha < 1.0:
            raise SettingError("alpha", f"{self.alpha}: expected a level in [0, 1)")
        if self.correction not in CORRECTIONS:
            raise SettingError("correction", f"{self.correction!r}: choose from "
                               f"{', '.join(CORRECTIONS)}")
        # A bare number is a threshold on the default bound.
        object.__setattr__(self, "fail_above", {
            k: v if isinstance(v, Threshold) else Threshold(float(v))
            for k, v in self.fail_above.items()})
        for name, th in self.fail_above.items():
            if name not in REGISTRY or not 0.0 <= th.value <= 1.0 or th.bound not in BOUNDS:
                raise SettingError("fail_above", f"{name}={th.value}: unknown estimator or bound, "
                                   "or a threshold outside [0, 1]")

    def to_json(self) -> dict:
        return {"alpha": self.alpha, "correction": self.correction,
                "fail_above": {k: v.to_json() for k, v in self.fail_above.items()}}

    @classmethod
    def from_json(cls, data: dict) -> Policy:
        return cls(alpha=data["alpha"], correction=data.get("correction", "holm"),
                   fail_above={k: Threshold(v["value"], v["bound"]) if isinstance(v, dict)
                               else Threshold(float(v)) for k, v in data["fail_above"].items()})

    def family_size(self, estimators: tuple[str, ...], attributes: int) -> int:
        """Tests in the family: every estimator (each has a permutation test) for every
        attribute, when significance is on."""
        return len(estimators) * attributes if self.alpha > 0 else 0

    def smallest_level(self, estimators: tuple[str, ...], attributes: int) -> float:
        """The smallest level a single p-value is compared with (``alpha / m`` for Holm and
        Bonferroni, ``alpha`` without correction)."""
        m = self.family_size(estimators, attributes)
        if m == 0:
            return 0.0
        return self.alpha if self.correction == "none" else self.alpha / m

    def permutations_needed(self, estimators: tuple[str, ...], attributes: int) -> int:
        """Permutations B for which the smallest p-value ``1 / (B + 1)`` is at most half the
        smallest level (so that a clear leak can fail the audit); at least 1000."""
        level = self.smallest_level(estimators, attributes)
        if level <= 0:
            return 1000
        return max(1000, int(2.0 / level))

    def validate(self, estimators: tuple[str, ...], permutations: int, attributes: int = 1) -> None:
        """Refuse thresholds on estimators that do not run, and a permutation count whose
        smallest p-value, ``1 / (B + 1)``, can never reach the smallest level."""
        for est in self.fail_above:
            if est not in estimators:
                raise SettingError("fail_above", f"{est}=...: estimator {est!r} is not among the "
                                   f"estimators run ({', '.join(estimators)})")
        level = self.smallest_level(estimators, attributes)
        if level > 0 and 1.0 / (permutations + 1) > level:
            m = self.family_size(estimators, attributes)
            raise SettingError(
                "permutations", f"{permutations}: the smallest possible p-value, "
                f"1/{permutations + 1}, is above alpha/{m} = {level:g} ({m} tests: "
                f"{len(estimators)} estimators x {attributes} attributes), so no attribute could "
                f"ever fail; use {self.permutations_needed(estimators, attributes)} or more "
                "(or alpha 0)"
            )

    def decide(self, results: dict[str, dict[str, Any]],
               tests: dict[str, list[FamilyTest]] | None = None) -> dict[str, Decision]:
        """``results[attribute][estimator]`` is a result (or None). ``tests[attribute]`` lists
        the attribute's members of the family (default: one per estimator with a p-value; the
        audit passes estimators that share permutations as one combined member).
        Every member of every attribute is adjusted as one family, then thresholds apply."""
        if tests is None:
            tests = {a: [FamilyTest((e,), per[e].p_value) for e in REGISTRY
                         if per.get(e) is not None and getattr(per[e], "p_value", None) is not None]
                     for a, per in results.items()}
        keys = [(a, i) for a in results for i in range(len(tests.get(a, [])))]
        adjusted = dict(zip(keys, adjust([tests[a][i].p for a, i in keys], self.correction)))
        out: dict[str, Decision] = {}
        for attr, per in results.items():
            reasons: list[str] = []
            decided: list[str] = []
            members = []
            for i, test in enumerate(tests.get(attr, [])):
                pa = adjusted[(attr, i)]
                members.append(replace(test, p_adjusted=pa))
                if self.alpha > 0 and pa <= self.alpha:
                    note = "" if self.correction == "none" else f", {self.correction}-adjusted {pa:.2g}"
                    reasons.append(f"{test.label} p={test.p:.2g}{note} <= alpha {self.alpha:g}")
                    decided.extend(e for e in test.estimators if e not in decided)
            for name, th in self.fail_above.items():
                res = per.get(name)
                if res is None:
                    continue
                x = _bounded(res, th.bound)
                if x is not None and x > th.value:
                    what = {"lower": "lower 95% bound", "upper": "upper 95% bound",
                            "point": "estimate"}[th.bound]
                    reasons.append(f"{spec(name).label} {what} {x:.3f} > {th.value:g}")
                    if name not in decided:
                        decided.append(name)
            out[attr] = Decision("fail" if reasons else "pass", tuple(reasons), tuple(decided),
                                 tuple(members))
        return out

    def rules(self, estimators: tuple[str, ...]) -> list[str]:
        """The rule in words, e.g. ``["fail when a Holm-adjusted p (LABEL, ...; all attributes
        one family) <= 0.01"]`` with the estimators' registry labels."""
        out = []
        if self.alpha > 0:
            names = ", ".join(spec(e).label for e in estimators)
            how = {"holm": "Holm-adjusted ", "bonferroni": "Bonferroni-adjusted ", "none": ""}
            out.append(f"fail when a {how[self.correction]}p ({names}; all attributes one "
                       f"family) <= {self.alpha:g}")
        for k, th in self.fail_above.items():
            what = {"lower": "lower 95% bound", "upper": "upper 95% bound", "point": "estimate"}
            out.append(f"fail when {spec(k).label} {what[th.bound]} > {th.value:g}")
        return out


def _bounded(result: Any, bound: str) -> float | None:
    if bound == "point":
        return result.value
    ci = getattr(result, "ci", None)
    if ci is None:  # no interval computed: fall back to the estimate
        return result.value
    return ci[0] if bound == "lower" else ci[1]
