"""The dependence estimators: each takes arrays and an :class:`~infomin_cli.attributes.Attribute`
and returns a typed result sharing the fields of :class:`~infomin_cli.estimators.result.Estimate`.

* :func:`sliced_dependence` -- SI, the paper's sliced dependence, held out, with a permutation test
* :func:`linear_dependence` -- the top held-out canonical correlation (what a linear probe reads)
* :func:`rho_star` -- neural HGR maximal correlation (what any probe can read)

Every estimator has the call shape ``estimator(Z, attr, config, *, seed=0, device="auto")``.

Names are imported on first use, so reading the configs or the registry never loads torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infomin_cli._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Estimate": "infomin_cli.estimators.result:Estimate",
    "LinearAccumulator": "infomin_cli.estimators.linear:LinearAccumulator",
    "LinearConfig": "infomin_cli.estimators.configs:LinearConfig",
    "LinearResult": "infomin_cli.estimators.linear:LinearResult",
    "RhoConfig": "infomin_cli.estimators.configs:RhoConfig",
    "TreeConfig": "infomin_cli.estimators.configs:TreeConfig",
    "RhoResult": "infomin_cli.estimators.rho:RhoResult",
    "SlicedAccumulator": "infomin_cli.estimators.sliced:SlicedAccumulator",
    "SlicedConfig": "infomin_cli.estimators.configs:SlicedConfig",
    "SlicedFit": "infomin_cli.estimators.sliced:SlicedFit",
    "SlicedResult": "infomin_cli.estimators.sliced:SlicedResult",
    "linear_dependence": "infomin_cli.estimators.linear:linear_dependence",
    "rho_star": "infomin_cli.estimators.rho:rho_star",
    "sliced_dependence": "infomin_cli.estimators.sliced:sliced_dependence",
    "sliced_in_sample": "infomin_cli.estimators.sliced:sliced_in_sample",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from infomin_cli.estimators.configs import LinearConfig, RhoConfig, SlicedConfig, TreeConfig
    from infomin_cli.estimators.linear import LinearAccumulator, LinearResult, linear_dependence
    from infomin_cli.estimators.result import Estimate
    from infomin_cli.estimators.rho import RhoResult, rho_star
    from infomin_cli.estimators.sliced import (
        SlicedAccumulator,
        SlicedFit,
        SlicedResult,
        sliced_dependence,
        sliced_in_sample,
    )

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
