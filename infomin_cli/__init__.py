"""infomin: audit learned representations for information about an attribute, and remove it.

The library is usable without the command line (``import infomin`` is the same package)::

    import infomin as im
    sex = im.Attribute.categorical("sex", labels)
    im.sliced_dependence(Z, sex, im.SlicedConfig(), seed=0).p_value
    im.rho_star(Z, sex, seed=0).value
    im.audit_arrays(Z, [sex]).verdict
    proj, history = im.debias(Z, [sex], [income], im.DebiasConfig(), seed=0)

``__all__`` holds what a user calls; everything else stays in its module. Layers (data flows
one way): :mod:`~infomin_cli.io` -> :mod:`~infomin_cli.stats` -> :mod:`~infomin_cli.estimators`
-> :mod:`~infomin_cli.engine` -> :mod:`~infomin_cli.pipeline` -> :mod:`~infomin_cli.debias`
-> :mod:`~infomin_cli.report` -> :mod:`~infomin_cli.cli`.
"""

from infomin_cli._version import __version__
from infomin_cli.attributes import Attribute
from infomin_cli.debias.config import DebiasConfig
from infomin_cli.debias.fit import FitHistory, debias
from infomin_cli.debias.projection import Projection
from infomin_cli.debias.run import DebiasRun, run_debias
from infomin_cli.debias.sweep import BetaTrial, sweep_beta
from infomin_cli.errors import InputError, NotEstimable, SettingError
from infomin_cli.estimators import (
    Estimate,
    LinearConfig,
    LinearResult,
    RhoConfig,
    RhoResult,
    SlicedConfig,
    SlicedResult,
    TreeConfig,
    linear_dependence,
    rho_star,
    sliced_dependence,
)
from infomin_cli.estimators.registry import REGISTRY
from infomin_cli.io import InMemorySource, LoadOptions, Source, open_dataset
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
from infomin_cli.report import build_report, check_report

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
