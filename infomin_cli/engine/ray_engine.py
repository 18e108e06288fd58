"""Former home of both Ray jobs, kept for callers not yet moved: the audit pass is
:mod:`infomin_cli.engine.ray_audit`, ``apply``'s map :mod:`infomin_cli.engine.ray_apply`."""

from infomin_cli.engine.ray_apply import apply
from infomin_cli.engine.ray_common import connect, require_ray

__all__ = ["apply", "connect", "require_ray"]
