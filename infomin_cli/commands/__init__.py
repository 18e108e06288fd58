"""CLI commands; each module defines ``register(app)``."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    from infomin_cli.commands import audit as _audit
    from infomin_cli.commands import inspect as _inspect

    _inspect.register(app)
    _audit.register(app)
