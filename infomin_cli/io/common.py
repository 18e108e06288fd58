"""Small helpers shared by the readers: error translation, type names, column suggestions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pyarrow as pa

from infomin_cli.errors import InputError


def first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


@contextmanager
def reading(path: str, what: str = "Parquet") -> Iterator[None]:
    """Turn pyarrow / OS errors raised while reading ``path`` into one-line InputErrors."""
    try:
        yield
    except InputError:
        raise
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a directory, expected a {what} file") from exc
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read as {what}: {arrow_reason(exc, path)}") from exc


def arrow_reason(exc: BaseException, path: str) -> str:
    """The useful part of a pyarrow error (which shard, and what is wrong)."""
    text = str(exc)
    shard = re.search(r"(?:input source|schema from) '([^']+)'", text)
    where = f"{shard.group(1)}: " if shard and shard.group(1) != str(path) else ""
    if "magic bytes not found" in text:
        return f"{where}not a Parquet file (corrupt, truncated or another format)"
    # "Error creating dataset. Could not read schema from 'x'. Is this a 'csv' file?: Could
    # not open CSV input source 'x': Invalid: <the reason>" -> "<the reason>"
    text = re.sub(r"^Error creating dataset\..*?input source '[^']*': (?:Invalid: )?", "", text,
                  flags=re.DOTALL)
    return where + first_line(RuntimeError(text))


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def is_list_type(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def is_number_type(t: pa.DataType) -> bool:
    return pa.types.is_floating(t) or pa.types.is_integer(t)


def type_name(t: pa.DataType) -> str:
    """A short, numpy-flavoured name: ``float32``, ``string``, ``fixed_size_list<float32>[768]``."""
    if pa.types.is_dictionary(t):
        return f"dictionary<{type_name(t.value_type)}>"
    if is_list_type(t):
        kind = (
            "fixed_size_list"
            if pa.types.is_fixed_size_list(t)
            else "large_list" if pa.types.is_large_list(t) else "list"
        )
        size = f"[{t.list_size}]" if pa.types.is_fixed_size_list(t) else ""
        return f"{kind}<{type_name(t.value_type)}>{size}"
    if is_number_type(t):
        return np.dtype(t.to_pandas_dtype()).name
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_large_string(t) or pa.types.is_string(t):
        return "string"
    return str(t)


def natural_key(s: str) -> list:
    """Sort ``part-2`` before ``part-10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s)]


def column_not_found(file: str, name: str, available: Sequence[str], what: str = "column") -> InputError:
    close = difflib.get_close_matches(name, list(available), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    names = list(available)
    shown = ", ".join(names[:15]) + (", …" if len(names) > 15 else "")
    listing = f" (available: {shown})" if names else " (the file has no other columns)"
    return InputError(f"{file}: {what} {name!r}: not found{hint}{listing}")


class InMemoryTable:
    """Column access shared by attribute tables read whole into ``self.table`` (CSV, NPY)."""

    table: pa.Table
    schema: pa.Schema

    @property
    def column_names(self) -> list[str]:
        return list(self.table.column_names)

    def column_type(self, name: str) -> pa.DataType:
        return self.schema.field(name).type

    def read(self, names: Sequence[str]) -> pa.Table:
        return self.table.select(list(names))
