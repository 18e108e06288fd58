"""What an audit runs: :class:`AuditConfig`, importable without torch (settings are built and
validated before any estimator is loaded). :mod:`~infomin_cli.pipeline.audit` runs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from infomin_cli.estimators.registry import NAMES, REGISTRY, spec
from infomin_cli.stats.choices import DEFAULT_SAMPLE_ROWS


@dataclass(frozen=True)
class AuditConfig:
    """What to run. ``configs``: registry name -> that estimator's config (a name left out
    gets its config type's defaults). ``seed`` and ``device`` are set here once and passed to
    every estimator; the estimator configs hold only their own settings."""

    estimators: tuple[str, ...] = NAMES
    configs: Mapping[str, Any] = field(default_factory=dict)
    max_rows: int | None = None  # seeded subsample for every estimator
    seed: int = 0
    device: str = "auto"
    calibration_rows: int = DEFAULT_SAMPLE_ROWS
    #: where the streaming pass runs: "local" (this process) or "ray" (Ray Data blocks on a
    #: cluster, merged here; :mod:`infomin_cli.engine.ray_audit`). Same report either way.
    engine: str = "local"

    def __post_init__(self) -> None:
        for name in (*self.estimators, *self.configs):
            spec(name)  # KeyError naming the choices
        object.__setattr__(self, "configs", {
            name: self.configs[name] if name in self.configs else s.config_type()
            for name, s in REGISTRY.items()})

    def of(self, name: str) -> Any:
        """The config of estimator ``name``."""
        return self.configs[name]

    def tuned(self, name: str, **changes: Any) -> AuditConfig:
        """A copy with ``changes`` made to estimator ``name``'s config."""
        return replace(self, configs={**self.configs, name: replace(self.of(name), **changes)})

    @property
    def streamed(self) -> tuple[str, ...]:
        """The estimators run in the streaming pass, in registry order."""
        return tuple(n for n, s in REGISTRY.items() if n in self.estimators and s.streamed)

    @property
    def subsampled(self) -> tuple[str, ...]:
        """The estimators run on a subsample after the pass, in registry order."""
        return tuple(n for n, s in REGISTRY.items() if n in self.estimators and not s.streamed)

    @property
    def batch_rows(self) -> int:
        """Rows per batch of the streaming pass: the smallest ``batch_rows`` of the streamed
        estimators' configs."""
        return min((self.of(n).batch_rows for n in self.streamed), default=65536)
