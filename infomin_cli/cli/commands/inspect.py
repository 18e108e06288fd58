"""``infomin inspect FILE``: describe an embedding file and what its columns would become."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from infomin_cli.cli.options import (
    AttrKindOpt,
    AttrsFileOpt,
    EmbColOpt,
    EmbColsOpt,
    FileArg,
    Format,
    IdColOpt,
    QuietOpt,
    StrictOpt,
    handles_input_errors,
    load_options,
)
from infomin_cli.cli.progress import interactive, status
from infomin_cli.io import inspect_file


@handles_input_errors
def inspect(
    file: FileArg,
    emb_col: EmbColOpt = None,
    emb_cols: EmbColsOpt = None,
    attrs: AttrsFileOpt = None,
    id_col: IdColOpt = None,
    attr: Annotated[
        list[str] | None,
        typer.Option("--attr", metavar="NAME",
                     help="Also load and validate this attribute, as audit would; repeatable."),
    ] = None,
    attr_kind: AttrKindOpt = None,
    strict: StrictOpt = False,
    fmt: Annotated[
        Format, typer.Option("--format", help="Output: a table, or JSON only on stdout.")
    ] = Format.table,
    quiet: QuietOpt = False,
) -> None:
    """Rows, embedding column, dimension, dtype, norms, and the kind each column would get."""
    options = load_options(emb_col, emb_cols, attrs, id_col, attr_kind, strict)
    with status(f"reading {file}", interactive(quiet)):
        report = inspect_file(file, options, attrs=attr or [])
    if fmt == Format.json:
        typer.echo(json.dumps(report, indent=2))
    else:
        from infomin_cli.report import render_inspect

        render_inspect(report)

