"""The library's error type for data it cannot use.

:class:`InputError` is a :class:`ValueError` whose message names the file, the column and the
problem, e.g. ``emb.parquet: column 'emb': ragged list lengths (3 rows of length 767)``. The
readers raise it; estimators raise plain ``ValueError`` and the audit pipeline re-raises those
as :class:`InputError` naming the file and attribute. Exit codes are the CLI's business
(:mod:`infomin_cli.cli.app`), not the library's.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input data or settings, described in one line."""


class SettingError(InputError):
    """A bad setting. ``key`` names it (``permutations``, ``fail_above``) and ``problem`` says
    what is wrong, starting with the value, so that a front end can name its own flag or TOML
    key: ``--permutations 5: ...``."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key} {problem}")
        self.key = key
        self.problem = problem


class NotEstimable(ValueError):
    """The data allow no estimate of this kind for this attribute (e.g. a class so rare that the
    training rows hold a single class). The audit reports why and runs the other estimators;
    it is neither a crash nor bad input."""
