"""Process-wide CLI state set by the root command's options (``--debug``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CliState:
    debug: bool = False


STATE = CliState()
