"""One table of the audit's estimators: every other module reads names, labels, report blocks,
config types and threshold keys from here (as hyppo's ``INDEP_TESTS``).

Adding an estimator is its module, one :class:`EstimatorSpec` in :data:`REGISTRY`, and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infomin_cli.estimators.linear import LinearAccumulator, LinearConfig, linear_dependence
from infomin_cli.estimators.rho import RhoConfig, rho_star
from infomin_cli.estimators.sliced import SlicedAccumulator, SlicedConfig, sliced_dependence


@dataclass(frozen=True)
class EstimatorSpec:
    """What the pipeline and the reports need to know of one estimator.

    ``name``: the key of settings, thresholds (``fail_above``), baselines and
    :attr:`AuditConfig` fields; ``label``: plain text in verdict reasons and JSON;
    ``symbol``: terminal label; ``block``: the estimator's block in the JSON report;
    ``config_type``: its config dataclass; ``function``: ``f(Z, attr, config, *, seed,
    device)``; ``accumulator``: its streaming accumulator (None: it runs on a subsample after
    the streaming pass); ``summary``: one line saying what the number is.
    """

    name: str
    label: str
    symbol: str
    block: str
    config_type: type
    function: Callable[..., Any]
    accumulator: type | None
    summary: str

    @property
    def markdown(self) -> str:
        """The label for Markdown (``*`` escaped so it is not emphasis)."""
        return self.symbol.replace("*", "\\*")

    @property
    def streamed(self) -> bool:
        return self.accumulator is not None


REGISTRY: dict[str, EstimatorSpec] = {
    spec.name: spec
    for spec in (
        EstimatorSpec("sliced", "SI", "SI", "sliced", SlicedConfig, sliced_dependence,
                      SlicedAccumulator,
                      "SI: sliced dependence, the top canonical correlation of slice features"),
        EstimatorSpec("linear", "linear", "linear", "linear", LinearConfig, linear_dependence,
                      LinearAccumulator,
                      "linear: the top held-out canonical correlation (what a linear probe reads)"),
        EstimatorSpec("rho", "rho*", "ρ*", "rho_star", RhoConfig, rho_star, None,
                      "ρ*: neural HGR maximal correlation on held-out test rows"),
    )
}

#: Estimator names in registry order (the default set of an audit).
NAMES: tuple[str, ...] = tuple(REGISTRY)


def spec(name: str) -> EstimatorSpec:
    """The registry entry of ``name``; ``KeyError`` naming the choices otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown estimator {name!r} (choose from {', '.join(NAMES)})") from None
