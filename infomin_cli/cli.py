"""The ``infomin`` command line: a thin layer that loads, calls estimators, renders."""

from __future__ import annotations

import sys

import typer

from infomin_cli import __version__
from infomin_cli.errors import InputError

app = typer.Typer(
    name="infomin",
    help="Audit embeddings for information about an attribute, and remove it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


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
    _state["debug"] = debug


def _register() -> None:
    # Each command module adds itself to ``app``; only commands that work are registered.
    from infomin_cli.commands import register_all

    register_all(app)


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except InputError as exc:  # raised outside a command's own handler
        if _state["debug"]:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
