"""Shared CLI pieces: loader options (reused by every command that reads embeddings),
``--attr-kind`` parsing, and the error-handling wrapper that turns bad input into one line.

Library errors name settings (``alpha``, ``permutations``); :func:`handles_input_errors`
translates a :class:`~infomin_cli.errors.SettingError` into the flag's name.

A command declares the loader options with the ``Annotated`` aliases below and turns them
into :class:`~infomin_cli.io.LoadOptions` with :func:`load_options`::

    @handles_input_errors
    def audit(file: FileArg, emb_col: EmbColOpt = None, emb_cols: EmbColsOpt = None,
              attrs: AttrsFileOpt = None, id_col: IdColOpt = None,
              attr_kind: AttrKindOpt = None, strict: StrictOpt = False) -> None:
        options = load_options(emb_col, emb_cols, attrs, id_col, attr_kind, strict)
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from enum import Enum
from typing import Annotated, TypeVar

import pyarrow as pa
import typer

from infomin_cli.attributes import KINDS
from infomin_cli.cli.exit_codes import EXIT_INPUT_ERROR, EXIT_INTERNAL_ERROR, internal_error_line
from infomin_cli.cli.state import STATE
from infomin_cli.engine import ENGINES
from infomin_cli.errors import InputError, SettingError
from infomin_cli.io import LoadOptions

FileArg = Annotated[
    str,
    typer.Argument(
        metavar="FILE",
        help="Embeddings: Parquet (file, directory/glob of shards, s3://...), CSV/TSV, JSON "
             "Lines, Arrow IPC/Feather, a Hugging Face save_to_disk directory, .npy/.npz, "
             ".safetensors, .pt, or - for stdin.",
        show_default=False,
    ),
]
EmbColOpt = Annotated[
    str | None,
    typer.Option("--emb-col", metavar="COLUMN",
                 help="The list column holding the embedding (or the NPZ / safetensors / .pt "
                      "array name)."),
]
EmbColsOpt = Annotated[
    str | None,
    typer.Option("--emb-cols", metavar="GLOB",
                 help="Build the embedding from numeric scalar columns matching GLOB, e.g. 'emb_*'."),
]
AttrsFileOpt = Annotated[
    str | None,
    typer.Option("--attrs", metavar="FILE",
                 help="Attributes in a separate file (any FILE format, local, s3://... or -), "
                      "aligned by row order or by --id-col."),
]
IdColOpt = Annotated[
    str | None,
    typer.Option("--id-col", metavar="COLUMN",
                 help="Align --attrs to the embeddings by this key column (present in both)."),
]
AttrKindOpt = Annotated[
    list[str] | None,
    typer.Option("--attr-kind", metavar="NAME=KIND",
                 help=f"Override an attribute's inferred kind ({', '.join(KINDS)}); repeatable."),
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Fail on missing attribute values instead of dropping rows."),
]


def parse_attr_kinds(items: list[str] | None) -> dict[str, str]:
    """``["age=categorical", ...]`` -> ``{"age": "categorical"}``; InputError on bad syntax."""
    kinds: dict[str, str] = {}
    for item in items or []:
        name, sep, kind = item.partition("=")
        name, kind = name.strip(), kind.strip()
        if not sep or not name or not kind or "=" in kind:
            raise InputError(f"--attr-kind {item!r}: expected NAME=KIND, e.g. age=categorical")
        if kind not in KINDS:
            raise InputError(
                f"--attr-kind {item!r}: unknown kind {kind!r} (choose {', '.join(KINDS)})"
            )
        if kinds.get(name, kind) != kind:
            raise InputError(f"--attr-kind: {name!r} is given two kinds ({kinds[name]}, {kind})")
        kinds[name] = kind
    return kinds


def load_options(emb_col: str | None = None, emb_cols: str | None = None,
                 attrs: str | None = None, id_col: str | None = None,
                 attr_kind: list[str] | None = None, strict: bool = False) -> LoadOptions:
    """The shared loader options as :class:`LoadOptions` (validating ``--attr-kind``)."""
    if emb_col and emb_cols:
        raise InputError("give either --emb-col or --emb-cols, not both")
    return LoadOptions(
        emb_col=emb_col,
        emb_cols=emb_cols,
        attrs_file=attrs,
        id_col=id_col,
        attr_kinds=parse_attr_kinds(attr_kind),
        strict=strict,
    )


def debug_enabled() -> bool:
    """``infomin --debug ...`` (set by the root command)."""
    return STATE.debug


def flag(key: str) -> str:
    """The command-line flag of a setting: ``rho_max_rows`` -> ``--rho-max-rows``."""
    return "--" + key.replace("_", "-")


def fail(message: str, code: int = EXIT_INPUT_ERROR) -> None:
    """Print ``error: <message>`` (one line) on stderr and exit with ``code`` (2: bad input).

    Under ``infomin --debug``, called while handling an exception, the traceback comes first;
    the exit code is the same either way.
    """
    from infomin_cli.io.uri import redact_text

    _traceback_if_debug()
    line = " ".join(redact_text(message).split())
    typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


def _traceback_if_debug() -> None:
    if debug_enabled() and sys.exc_info()[1] is not None:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()


def internal_error(exc: BaseException) -> None:
    """Print ``internal error: <Type>: <message>`` (one line; under ``--debug`` after the
    traceback) on stderr and exit with code 3. Never 1: that would read as "leak found"."""
    from infomin_cli.io.uri import redact_text

    _traceback_if_debug()
    typer.echo(redact_text(internal_error_line(exc, debug=debug_enabled())), err=True)
    raise typer.Exit(EXIT_INTERNAL_ERROR)


# Typer's own control flow: ``typer.Exit`` (exit codes, ``--version``), ``typer.Abort`` and
# click's usage errors (``typer.BadParameter`` ...). They are not errors of ours and pass
# through. ``ClickException`` is looked up through ``BadParameter`` because recent Typer
# releases vendor click (``typer._click``) while older ones use ``click`` itself.
_TYPER_SIGNALS: tuple[type[BaseException], ...] = (
    typer.Exit,
    typer.Abort,
    next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"),
)

#: ``--engine``: stream here, or on a Ray cluster (``RAY_ADDRESS``, else a local Ray).
Engine = Enum("Engine", {e: e for e in ENGINES}, type=str)


def install_hint(extra: str) -> str:
    """How help text says to install an optional extra (one wording everywhere), escaped
    for Typer's rich markup, which would otherwise take ``[ray]`` for a style and drop it."""
    from typer.core import DEFAULT_MARKUP_MODE

    bracket = "\\[" if DEFAULT_MARKUP_MODE == "rich" else "["
    return f"pip install '.{bracket}{extra}]' from a clone of infomin"


EngineOpt = Annotated[
    Engine,
    typer.Option("--engine", help="local: stream in this process; ray: Ray Data blocks on the "
                 "cluster at RAY_ADDRESS (else a local Ray), same result "
                 f"({install_hint('ray')})."),
]


class Format(str, Enum):
    """``--format``: a table for people, or JSON only on stdout for machines."""

    table = "table"
    json = "json"


FormatOpt = Annotated[Format, typer.Option("--format", help="table, or JSON only on stdout.")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bars or spinners on stderr (errors and warnings still "
    "go there); the result on stdout and the files written are the same.")]
HtmlOpt = Annotated[str | None, typer.Option(
    "--html", metavar="FILE", help="Also write a self-contained HTML report here (atomically): "
    "tables and charts, no script; for a pull request or a CI artefact.")]


def check_html_path(path: str | None) -> None:
    """``--html FILE``: refuse a file name that does not end in ``.html`` or ``.htm``."""
    if path is not None and not path.lower().endswith((".html", ".htm")):
        raise InputError(f"--html {path}: the file name must end in .html or .htm")


def check_outputs(outputs: dict[str, str | None], inputs: tuple[str, ...]) -> None:
    """Every path option of a command checked in one place, before anything is read.

    ``outputs``: ``{flag: path}`` (None = not given), ``inputs``: the input paths. Refuses a
    path of either kind that carries credentials (the message redacts them), an output that
    would land on an input, its shards or its glob, and two outputs on one path (a projection's
    sidecar counts as an output). Errors name the flag."""
    from infomin_cli.io.uri import check_no_credentials, is_uri
    from infomin_cli.io.writers import check_output_path

    for path in inputs:
        if is_uri(path):
            check_no_credentials(path)
    seen: dict[str, str] = {}
    for flag_name, path in outputs.items():
        if path is None:
            continue
        try:
            if is_uri(path):
                check_no_credentials(path)
                key = str(path)
            else:
                key = str(check_output_path(path, inputs))
        except InputError as exc:
            raise InputError(f"{flag_name} {exc}") from exc
        if key in seen:
            raise InputError(f"{flag_name} {path}: is also the path of {seen[key]}; give each "
                             "output its own path")
        seen[key] = flag_name


F = TypeVar("F", bound=Callable)


def handles_input_errors(fn: F) -> F:
    """Decorate a command: bad input becomes one line on stderr and exit code 2; any other
    exception (a bug) one ``internal error:`` line and exit code 3.

    Catches :class:`InputError` and, as a fallback, reading errors (``OSError``, pyarrow
    errors) that the io layer did not already translate. Under ``infomin --debug`` the
    traceback is printed before that line; the exit code does not change. ``typer.Exit`` and
    Typer's other signals, ``KeyboardInterrupt`` and ``SystemExit`` pass through.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _TYPER_SIGNALS:
            raise
        except SettingError as exc:
            fail(f"{flag(exc.key)} {exc.problem}")
        except InputError as exc:
            fail(str(exc))
        except (OSError, pa.ArrowException) as exc:
            name = getattr(exc, "filename", None)
            fail(f"{name}: {exc}" if name else f"cannot read input: {exc}")
        except Exception as exc:
            internal_error(exc)

    return wrapper  # type: ignore[return-value]
