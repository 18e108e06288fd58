"""One module per command; each defines the command function that :mod:`~infomin_cli.cli.app`
registers."""
