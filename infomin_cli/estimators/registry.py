"""One table of the audit's estimators: every other module reads names, labels, report blocks,
config types and threshold keys from here (as hyppo's ``INDEP_TESTS``).

Adding an estimator is its module, one :class:`EstimatorSpec` in :data:`REGISTRY`, and tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infomin_cli.estimators.configs import LinearConfig, RhoConfig, SlicedConfig


def _load(entry: str) -> Any:
    """``"package.module:name"`` -> the object (the module imported on first use)."""
    module, name = entry.split(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class EstimatorSpec:
    """What the pipeline and the reports need to know of one estimator.

    ``name``: the key of ``--estimators``, of thresholds (``fail_above``, a check's
    ``[thresholds]`` table), of baselines and of :class:`AuditConfig`'s configs; ``label``:
    plain text in verdict reasons and JSON; ``symbol``: terminal label; ``block``: the
    estimator's block in the JSON report; ``config_type``: its config dataclass (importable without torch);
    ``entry``: ``"module:function"`` of :attr:`function`,
    ``f(Z, attr, config, *, seed, device)`` (one that runs on a subsample also takes
    ``progress``, a ``(epoch, max epochs, value)`` callback, and its config a ``max_rows``:
    the subsample's size); ``accumulator_entry``: ``"module:class"`` of :attr:`accumulator`,
    its streaming :class:`~infomin_cli.estimators.accumulator.Accumulator` (None: it runs on a
    subsample after the streaming pass). Both are imported on first use, so reading the table
    (the command line's help, settings validation) never loads torch; ``summary``: one line saying what the number is;
    ``settings``: ``{audit setting: config field}``, the flat settings (command-line flags, a
    check's TOML keys) that set its config, shared settings (``permutations``) included;
    ``joint_null``: its full-sample permutation null is drawn on the same row permutations as
    every other estimator with this flag, so their tests combine into one (min-p);
    ``ci_column``: the terminal table gives its 95% interval a column of its own and explains
    the number below the table (``summary``).
    """

    name: str
    label: str
    symbol: str
    block: str
    config_type: type
    entry: str
    accumulator_entry: str | None
    summary: str
    settings: Mapping[str, str] = field(default_factory=dict)
    joint_null: bool = False
    ci_column: bool = False

    @property
    def markdown(self) -> str:
        """The label for Markdown (``*`` escaped so it is not emphasis)."""
        return self.symbol.replace("*", "\\*")

    @property
    def function(self) -> Callable[..., Any]:
        return _load(self.entry)

    @property
    def accumulator(self) -> type | None:
        return None if self.accumulator_entry is None else _load(self.accumulator_entry)

    @property
    def streamed(self) -> bool:
        return self.accumulator_entry is not None

    def config(self, settings: Mapping[str, Any]) -> Any:
        """Its config from validated flat settings (only the keys of :attr:`settings`)."""
        return self.config_type(**{f: settings[k] for k, f in self.settings.items()})

    def default(self, setting: str) -> Any:
        """The config dataclass's default of a flat setting."""
        return self.config_type.__dataclass_fields__[self.settings[setting]].default


_SLICED = {"slices": "slices", "order": "order", "aggregation": "aggregation",
           "permutations": "permutations", "rank_transform": "rank_transform"}
_LINEAR = {"permutations": "permutations"}
_RHO = {"rho_max_rows": "max_rows", "permutations": "permutations",
        "rank_transform": "rank_transform"}

REGISTRY: dict[str, EstimatorSpec] = {
    spec.name: spec
    for spec in (
        EstimatorSpec("sliced", "SI", "SI", "sliced", SlicedConfig,
                      "infomin_cli.estimators.sliced:sliced_dependence",
                      "infomin_cli.estimators.sliced:SlicedAccumulator",
                      "SI: sliced dependence, the top canonical correlation of slice features",
                      _SLICED, joint_null=True),
        EstimatorSpec("linear", "linear", "linear", "linear", LinearConfig,
                      "infomin_cli.estimators.linear:linear_dependence",
                      "infomin_cli.estimators.linear:LinearAccumulator",
                      "linear: the top held-out canonical correlation (what a linear probe reads)",
                      _LINEAR, joint_null=True),
        EstimatorSpec("rho", "rho*", "ρ*", "rho_star", RhoConfig,
                      "infomin_cli.estimators.rho:rho_star", None,
                      "ρ*: HGR maximal correlation on held-out test rows, the larger of a "
                      "network's and boosted trees' read-out", _RHO,
                      ci_column=True),
    )
}

#: The estimator a bare threshold (``--fail-above 0.1``) applies to.
BARE_THRESHOLD = "sliced"

#: Estimator names in registry order (the default set of an audit).
NAMES: tuple[str, ...] = tuple(REGISTRY)

#: The order of the estimators' columns in report tables: from the weakest probe to the
#: strongest (an estimator left out goes last).
COLUMNS: tuple[str, ...] = ("linear", "sliced", "rho")


def columns(names) -> list[str]:
    """``names`` (registry names) in table-column order."""
    rank = {n: i for i, n in enumerate(COLUMNS)}
    return sorted((n for n in REGISTRY if n in names), key=lambda n: rank.get(n, len(rank)))


def spec(name: str) -> EstimatorSpec:
    """The registry entry of ``name``; ``KeyError`` naming the choices otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown estimator {name!r} (choose from {', '.join(NAMES)})") from None
