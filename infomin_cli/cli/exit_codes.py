"""The exit-code contract of the ``infomin`` command (documented in README.md)."""

EXIT_OK = 0  # every check passed
EXIT_CHECK_FAILED = 1  # a threshold was crossed: the data leaks an attribute
EXIT_INPUT_ERROR = 2  # bad usage or input: one line on stderr
