"""``-`` as a path: the bytes of standard input, read once into memory (named ``<stdin>``).

Several readers may open ``-`` in one run (``apply`` opens its input twice): the bytes are read
on first use and kept for the same ``sys.stdin``.
"""

from __future__ import annotations

import sys

from infomin_cli.errors import InputError

STDIN = "-"
STDIN_NAME = "<stdin>"

_cache: list = []  # [(stream, bytes)]: the stream they were read from, and its bytes


def is_stdin(path) -> bool:
    return str(path) == STDIN


def stdin_bytes() -> bytes:
    """Everything on standard input (read on the first call); InputError when it is a
    terminal or empty."""
    stream = sys.stdin
    if _cache and _cache[0][0] is stream:
        return _cache[0][1]
    if stream is None:
        raise InputError(f"{STDIN_NAME}: no standard input to read")
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        raise InputError(f"{STDIN_NAME}: '-' reads the data from standard input, which is a "
                         "terminal; pipe a file in (e.g. infomin inspect - < data.parquet)")
    data = getattr(stream, "buffer", stream).read()
    if isinstance(data, str):
        data = data.encode()
    if not data:
        raise InputError(f"{STDIN_NAME}: no data (standard input is empty)")
    _cache[:] = [(stream, data)]
    return data
