"""The exit-code contract of the ``infomin`` command (documented in README.md).

A crash never exits 1: CI reads 1 as "the data leaks an attribute". Anything unexpected exits
:data:`EXIT_INTERNAL_ERROR` with one ``internal error: ...`` line (see :func:`internal_error_line`).
This module imports nothing but the standard library, so that the entry point can report an
internal error even when the rest of the package failed to import.
"""

EXIT_OK = 0  # every check passed
EXIT_CHECK_FAILED = 1  # a threshold was crossed: the data leaks an attribute
EXIT_INPUT_ERROR = 2  # bad usage or input: one line on stderr
EXIT_INTERNAL_ERROR = 3  # a bug or a broken installation: one line on stderr (--debug: traceback)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


def internal_error_line(exc: BaseException, debug: bool = False) -> str:
    """``internal error: <Type>: <first line of the message>``, plus a hint to rerun with
    ``--debug`` unless the traceback is already shown."""
    try:
        lines = str(exc).strip().splitlines()
    except Exception:  # an exception whose message cannot be built
        lines = []
    first = " ".join(lines[0].split()) if lines else ""
    if len(first) > 300:
        first = first[:297] + "..."
    line = f"internal error: {type(exc).__name__}" + (f": {first}" if first else "")
    return line if debug else f"{line} (run with --debug for the traceback)"
