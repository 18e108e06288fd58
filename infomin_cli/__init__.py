"""infomin: audit learned representations for information about an attribute.

The library is usable without the command line::

    import infomin_cli as im
    sex = im.Attribute.categorical("sex", labels)
    im.sliced_dependence(Z, sex, im.SlicedConfig(), seed=0).p_value
    im.linear_dependence(Z, sex, seed=0).value
    im.rho_star(Z, sex, seed=0).value
    im.audit_arrays(Z, [sex]).verdict

Layers (data flows one way): :mod:`~infomin_cli.io` (readers, sources, writers) ->
:mod:`~infomin_cli.stats` (the shared statistics core) -> :mod:`~infomin_cli.estimators` ->
:mod:`~infomin_cli.pipeline` (audit, policy, config) -> :mod:`~infomin_cli.report` ->
:mod:`~infomin_cli.cli`.
"""

from infomin_cli._version import __version__  # noqa: E402

from infomin_cli.attributes import Attribute  # noqa: E402
from infomin_cli.debias.config import DebiasConfig  # noqa: E402
from infomin_cli.debias.fit import debias  # noqa: E402
from infomin_cli.debias.projection import Projection  # noqa: E402
from infomin_cli.errors import InputError, SettingError  # noqa: E402
from infomin_cli.estimators import (  # noqa: E402
    Estimate,
    LinearAccumulator,
    LinearConfig,
    LinearResult,
    RhoConfig,
    RhoResult,
    SlicedAccumulator,
    SlicedConfig,
    SlicedFit,
    SlicedResult,
    linear_dependence,
    rho_star,
    sliced_dependence,
    sliced_in_sample,
)
from infomin_cli.io import (  # noqa: E402
    DatasetSource,
    InMemorySource,
    LoadOptions,
    Source,
    open_dataset,
)
from infomin_cli.pipeline.audit import (  # noqa: E402
    AttributeAudit,
    AuditConfig,
    AuditResult,
    audit_arrays,
    run_audit,
)
from infomin_cli.pipeline.config import audit_settings  # noqa: E402
from infomin_cli.pipeline.policy import Policy  # noqa: E402
from infomin_cli.report import build_report  # noqa: E402
from infomin_cli.stats.features import AttributeEncoder, SliceFeaturizer  # noqa: E402
from infomin_cli.stats.standardize import Standardizer  # noqa: E402

__all__ = [
    "Attribute",
    "AttributeAudit",
    "AttributeEncoder",
    "AuditConfig",
    "AuditResult",
    "DatasetSource",
    "DebiasConfig",
    "Estimate",
    "InMemorySource",
    "InputError",
    "LinearAccumulator",
    "LinearConfig",
    "LinearResult",
    "LoadOptions",
    "Policy",
    "Projection",
    "RhoConfig",
    "RhoResult",
    "SettingError",
    "SliceFeaturizer",
    "SlicedAccumulator",
    "SlicedConfig",
    "SlicedFit",
    "SlicedResult",
    "Source",
    "Standardizer",
    "__version__",
    "audit_arrays",
    "audit_settings",
    "build_report",
    "debias",
    "linear_dependence",
    "open_dataset",
    "rho_star",
    "run_audit",
    "sliced_dependence",
    "sliced_in_sample",
]
