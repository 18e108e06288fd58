"""``import infomin``: the distribution's name for the library whose package is ``infomin_cli``.

Everything a user calls is re-exported here (``infomin.__all__``); submodules stay under
``infomin_cli`` (``infomin_cli.debias.sweep``, ``infomin_cli.estimators.registry``, ...).
"""

from infomin_cli import *  # noqa: F403
from infomin_cli import __all__, __version__  # noqa: F401
