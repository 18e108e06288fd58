"""The ``infomin`` Typer application: global options and the registered commands."""

from __future__ import annotations

import typer

from infomin_cli import __version__
from infomin_cli.cli.commands import audit, inspect
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


app.command("inspect")(inspect.inspect)
app.command("audit")(audit.audit)


def main(argv: list[str] | None = None) -> None:
    app(args=argv, standalone_mode=True)
