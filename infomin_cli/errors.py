"""Errors the CLI turns into one line on stderr and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INPUT_ERROR = 2


class InputError(Exception):
    """Bad input or usage: printed as one line (``error: <message>``), exit code 2.

    The message must name the file and, where it applies, the column and the problem,
    e.g. ``emb.parquet: column 'emb': ragged list lengths (3 rows of length 767, expected 768)``.
    """

    exit_code = EXIT_INPUT_ERROR
