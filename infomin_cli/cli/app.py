"""The ``infomin`` Typer application: global options and the registered commands.

:func:`main` is the console script. It keeps the exit-code contract even when something
escapes the commands' own error handler (a command module that fails to import, Typer
failing to build the command line): that is an internal error, exit code 3, never 1.
"""

from __future__ import annotations

import sys
import traceback

import typer

from infomin_cli._version import __version__
from infomin_cli.cli.exit_codes import EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED, internal_error_line
from infomin_cli.cli.state import STATE

app = typer.Typer(
    name="infomin",
    help="Audit embeddings for information about an attribute, and remove it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"infomin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool | None = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    """Global options; ``--debug`` is read by the commands' error handler."""
    STATE.debug = debug


def _register(typer_app: typer.Typer) -> None:
    from infomin_cli.cli.commands import audit, check, debias, inspect

    typer_app.command("inspect")(inspect.inspect)
    typer_app.command("audit")(audit.audit)
    typer_app.command("check")(check.check)
    typer_app.command("debias")(debias.debias)
    typer_app.command("apply")(debias.apply)


# A command module that fails to import (a broken install, a bug) is reported by main() as an
# internal error (exit 3) instead of an import traceback (exit 1). Importing ``app`` directly
# then gives an app without commands; ``registration_error`` says why.
registration_error: Exception | None = None
try:
    _register(app)
except Exception as _exc:  # re-raised by main()
    registration_error = _exc


def main(argv: list[str] | None = None) -> None:
    """Run ``infomin`` and exit: 0 pass, 1 a check failed, 2 bad input, 3 internal error."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        if registration_error is not None:
            raise registration_error
        app(args=args, standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # Escaped the commands' handler: Typer itself, or registration. --debug may not have
        # been parsed yet, so the raw arguments are consulted too.
        debug = STATE.debug or "--debug" in args
        if debug:
            traceback.print_exc(file=sys.stderr)
        sys.stderr.write(internal_error_line(exc, debug=debug) + "\n")
        sys.stderr.flush()
        sys.exit(EXIT_INTERNAL_ERROR)
