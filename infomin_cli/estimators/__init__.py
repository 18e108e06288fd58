"""The dependence estimators: each takes arrays and an :class:`~infomin_cli.attributes.Attribute`
and returns a typed result sharing the fields of :class:`~infomin_cli.estimators.result.Estimate`.

* :func:`sliced_dependence` -- SI, the paper's sliced dependence, held out, with a permutation test
* :func:`linear_dependence` -- the top held-out canonical correlation (what a linear probe reads)
* :func:`rho_star` -- neural HGR maximal correlation (what any probe can read)

Every estimator has the call shape ``estimator(Z, attr, config, *, seed=0, device="auto")``.
"""

from infomin_cli.estimators.linear import (
    LinearAccumulator,
    LinearConfig,
    LinearResult,
    linear_dependence,
)
from infomin_cli.estimators.result import Estimate
from infomin_cli.estimators.rho import RhoConfig, RhoResult, rho_star
from infomin_cli.estimators.sliced import (
    SlicedAccumulator,
    SlicedConfig,
    SlicedFit,
    SlicedResult,
    sliced_dependence,
    sliced_in_sample,
)
from infomin_cli.estimators.tree_readout import TreeConfig

__all__ = [
    "Estimate",
    "LinearAccumulator",
    "LinearConfig",
    "LinearResult",
    "RhoConfig",
    "TreeConfig",
    "RhoResult",
    "SlicedAccumulator",
    "SlicedConfig",
    "SlicedFit",
    "SlicedResult",
    "linear_dependence",
    "rho_star",
    "sliced_dependence",
    "sliced_in_sample",
]
