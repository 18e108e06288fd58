"""infomin: audit learned representations for information about an attribute, and remove it.

The library is usable without the command line (``import infomin`` is the same package)::

    import infomin as im
    sex = im.Attribute.categorical("sex", labels)
    im.sliced_dependence(Z, sex, im.SlicedConfig(), seed=0).p_value
    im.rho_star(Z, sex, seed=0).value
    im.audit_arrays(Z, [sex]).verdict
    proj, history = im.debias(Z, [sex], [income], im.DebiasConfig(), seed=0)

Plain arrays, lists, tensors, pandas Series / DataFrames and dicts of them work too (kinds are
inferred as the command line infers them: :mod:`infomin_cli.inputs`), results have
``to_dict()`` / ``to_frame()``, and :class:`Debiaser` is the fit / transform form::

    im.audit_arrays(df_embeddings, {"sex": labels, "age": ages}).to_frame()
    clean = im.Debiaser(beta=1.0, seed=0).fit(Z, labels, target=income).transform(Z)

``__all__`` holds what a user calls; everything else stays in its module. Layers (data flows
one way): :mod:`~infomin_cli.io` -> :mod:`~infomin_cli.stats` -> :mod:`~infomin_cli.estimators`
-> :mod:`~infomin_cli.engine` -> :mod:`~infomin_cli.pipeline` -> :mod:`~infomin_cli.debias`
-> :mod:`~infomin_cli.report` -> :mod:`~infomin_cli.cli`.

Names are imported on first use (PEP 562), so ``import infomin_cli`` -- and the command line's
``--help``, ``--version`` and ``inspect`` -- never pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from infomin_cli._lazy import lazy_exports
from infomin_cli._version import __version__

# public name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    "Attribute": "infomin_cli.attributes:Attribute",
    "DebiasConfig": "infomin_cli.debias.config:DebiasConfig",
    "Debiaser": "infomin_cli.debias.debiaser:Debiaser",
    "FitHistory": "infomin_cli.debias.fit:FitHistory",
    "debias": "infomin_cli.debias.fit:debias",
    "Projection": "infomin_cli.debias.projection:Projection",
    "DebiasRun": "infomin_cli.debias.run:DebiasRun",
    "run_debias": "infomin_cli.debias.run:run_debias",
    "BetaTrial": "infomin_cli.debias.sweep:BetaTrial",
    "sweep_beta": "infomin_cli.debias.sweep:sweep_beta",
    "InputError": "infomin_cli.errors:InputError",
    "NotEstimable": "infomin_cli.errors:NotEstimable",
    "SettingError": "infomin_cli.errors:SettingError",
    "Estimate": "infomin_cli.estimators.result:Estimate",
    "LinearConfig": "infomin_cli.estimators.configs:LinearConfig",
    "LinearResult": "infomin_cli.estimators.linear:LinearResult",
    "linear_dependence": "infomin_cli.estimators.linear:linear_dependence",
    "RhoConfig": "infomin_cli.estimators.configs:RhoConfig",
    "RhoResult": "infomin_cli.estimators.rho:RhoResult",
    "rho_star": "infomin_cli.estimators.rho:rho_star",
    "SlicedConfig": "infomin_cli.estimators.configs:SlicedConfig",
    "SlicedResult": "infomin_cli.estimators.sliced:SlicedResult",
    "sliced_dependence": "infomin_cli.estimators.sliced:sliced_dependence",
    "TreeConfig": "infomin_cli.estimators.configs:TreeConfig",
    "REGISTRY": "infomin_cli.estimators.registry:REGISTRY",
    "InMemorySource": "infomin_cli.io.source:InMemorySource",
    "Source": "infomin_cli.io.source:Source",
    "open_dataset": "infomin_cli.io.source:open_dataset",
    "LoadOptions": "infomin_cli.io.options:LoadOptions",
    "AttributeAudit": "infomin_cli.pipeline.audit:AttributeAudit",
    "AuditConfig": "infomin_cli.pipeline.audit_config:AuditConfig",
    "AuditResult": "infomin_cli.pipeline.audit:AuditResult",
    "audit_arrays": "infomin_cli.pipeline.audit:audit_arrays",
    "run_audit": "infomin_cli.pipeline.audit:run_audit",
    "CheckRun": "infomin_cli.pipeline.check:CheckRun",
    "run_checks": "infomin_cli.pipeline.check:run_checks",
    "load_check_config": "infomin_cli.pipeline.check_config:load_config",
    "audit_settings": "infomin_cli.pipeline.config:audit_settings",
    "Policy": "infomin_cli.pipeline.policy:Policy",
    "build_report": "infomin_cli.report.build:build_report",
    "check_report": "infomin_cli.report.build:check_report",
}

__all__ = [
    "REGISTRY",
    "Attribute",
    "AttributeAudit",
    "AuditConfig",
    "AuditResult",
    "BetaTrial",
    "CheckRun",
    "DebiasConfig",
    "DebiasRun",
    "Debiaser",
    "Estimate",
    "FitHistory",
    "InMemorySource",
    "InputError",
    "LinearConfig",
    "LinearResult",
    "LoadOptions",
    "NotEstimable",
    "Policy",
    "Projection",
    "RhoConfig",
    "TreeConfig",
    "RhoResult",
    "SettingError",
    "SlicedConfig",
    "SlicedResult",
    "Source",
    "__version__",
    "audit_arrays",
    "audit_settings",
    "build_report",
    "check_report",
    "debias",
    "linear_dependence",
    "load_check_config",
    "open_dataset",
    "rho_star",
    "run_audit",
    "run_checks",
    "run_debias",
    "sliced_dependence",
    "sweep_beta",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

# ``debias`` is the function (``im.debias``) and also a subpackage. Load the (light) subpackage
# here so that the import system binds it now, then unbind it: the name resolves to the
# function on first use, and later imports of ``infomin_cli.debias.*`` do not rebind it.
importlib.import_module("infomin_cli.debias")
del globals()["debias"]

if TYPE_CHECKING:  # what static tools see: the same names, imported eagerly
    from infomin_cli.attributes import Attribute
    from infomin_cli.debias.config import DebiasConfig
    from infomin_cli.debias.debiaser import Debiaser
    from infomin_cli.debias.fit import FitHistory, debias
    from infomin_cli.debias.projection import Projection
    from infomin_cli.debias.run import DebiasRun, run_debias
    from infomin_cli.debias.sweep import BetaTrial, sweep_beta
    from infomin_cli.errors import InputError, NotEstimable, SettingError
    from infomin_cli.estimators.configs import LinearConfig, RhoConfig, SlicedConfig, TreeConfig
    from infomin_cli.estimators.linear import LinearResult, linear_dependence
    from infomin_cli.estimators.registry import REGISTRY
    from infomin_cli.estimators.result import Estimate
    from infomin_cli.estimators.rho import RhoResult, rho_star
    from infomin_cli.estimators.sliced import SlicedResult, sliced_dependence
    from infomin_cli.io.options import LoadOptions
    from infomin_cli.io.source import InMemorySource, Source, open_dataset
    from infomin_cli.pipeline.audit import (
        AttributeAudit,
        AuditConfig,
        AuditResult,
        audit_arrays,
        run_audit,
    )
    from infomin_cli.pipeline.check import CheckRun, run_checks
    from infomin_cli.pipeline.check_config import load_config as load_check_config
    from infomin_cli.pipeline.config import audit_settings
    from infomin_cli.pipeline.policy import Policy
    from infomin_cli.report.build import build_report, check_report
