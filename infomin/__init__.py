"""``import infomin``: the distribution's name for the library whose package is ``infomin_cli``.

Everything a user calls is re-exported here (``infomin.__all__``), imported on first use as in
``infomin_cli``; submodules stay under ``infomin_cli`` (``infomin_cli.debias.sweep``,
``infomin_cli.estimators.registry``, ...).
"""

from __future__ import annotations

from typing import Any

import infomin_cli
from infomin_cli import __all__, __version__  # noqa: F401


def __getattr__(name: str) -> Any:
    return getattr(infomin_cli, name)


def __dir__() -> list[str]:
    return dir(infomin_cli)
