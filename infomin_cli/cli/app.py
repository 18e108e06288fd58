"""The ``infomin`` Typer application: global options and the registered commands.

:func:`main` is the console script. It keeps the exit-code contract even when something
escapes the commands' own error handler (a command module that fails to import, Typer
failing to build the command line): that is an internal error, exit code 3, never 1.

Shell completion is Typer's (``--install-completion``, ``--show-completion``); a completion
request imports the commands' options only, never torch. Help prints a metavar for every
value (never Typer's ``<int>``/``<bool>`` type placeholders, no placeholder for a flag) and,
under ``NO_COLOR``, no ANSI styling at all (so do Typer's usage errors).
"""

from __future__ import annotations

import sys
import traceback

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from infomin_cli._version import __version__
from infomin_cli.cli.exit_codes import EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED, internal_error_line
from infomin_cli.cli.state import STATE

_TYPE_NAMES = {"int": "INTEGER", "float": "NUMBER", "str": "TEXT"}


def _help_metavars(params: list) -> list:
    """Typer's help (recent releases) shows a value's type as ``<int>``, and ``<bool>`` even
    for a flag: a flag gets no placeholder, an option without a metavar its type in capitals
    (``INTEGER``, ``[table|json]``), an argument its name only. Older Typer releases, without
    these placeholders (no ``type_descriptor``), are left as they are."""
    for param in params:
        desc = getattr(param, "type_descriptor", None)
        if desc is None:
            continue
        if isinstance(param, TyperArgument):
            param.__class__ = _Argument
        elif param.metavar is None:
            if getattr(param, "is_flag", False):
                param.metavar = ""
            elif desc.is_choice:
                choices = desc.choices or ()
                param.metavar = "[" + "|".join(getattr(c, "value", str(c)) for c in choices) + "]"
            else:
                param.metavar = _TYPE_NAMES.get(param.bare_type(), "VALUE")
    return params


def _plain_help_if_no_color() -> None:
    """``NO_COLOR`` (non-empty): Typer's help and usage errors without any ANSI styling (its
    ``COLOR_SYSTEM`` set to ``None``; rich's ``no_color`` would keep bold)."""
    from infomin_cli.report.terminal import no_color

    if no_color() or "typer.rich_utils" in sys.modules:
        import typer.rich_utils

        typer.rich_utils.COLOR_SYSTEM = None if no_color() else "auto"


class _Argument(TyperArgument):
    def display_type_rich(self, ctx) -> None:
        return None


class _Command(TyperCommand):
    def get_params(self, ctx) -> list:
        return _help_metavars(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx) -> list:
        return _help_metavars(super().get_params(ctx))

    def main(self, *args, **kwargs):
        _plain_help_if_no_color()
        return super().main(*args, **kwargs)


app = typer.Typer(
    name="infomin",
    cls=_Group,
    help="Audit embeddings for information about an attribute, and remove it.",
    no_args_is_help=True,
    add_completion=True,
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

    typer_app.command("inspect", cls=_Command)(inspect.inspect)
    typer_app.command("audit", cls=_Command)(audit.audit)
    typer_app.command("check", cls=_Command)(check.check)
    typer_app.command("debias", cls=_Command)(debias.debias)
    typer_app.command("apply", cls=_Command)(debias.apply)


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
        app(args=args, prog_name="infomin", standalone_mode=True)
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
