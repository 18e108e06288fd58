"""The command line: a thin layer that parses flags, calls the library, renders, exits.

Only this package knows flag names and exit codes (:mod:`~infomin_cli.cli.exit_codes`).
"""

from infomin_cli.cli.app import app, main

__all__ = ["app", "main"]
