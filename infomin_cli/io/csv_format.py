"""Embeddings in CSV / TSV files: which columns hold them, and how list cells are parsed.

The rule (``infomin audit/inspect/debias/apply FILE.csv``), first match wins:

1. ``--emb-cols 'GLOB'``: the numeric columns whose names match, in file order;
2. ``--emb-col NAME``: that column, a list per cell;
3. the ONE text column whose cells look like lists, ``"[0.1, 0.2, ...]"`` (JSON style, or
   numpy's ``[0.1 0.2 ...]``), not named as an attribute: parsed as float64; every row must
   have the same length (a ragged row is an error naming it);
4. otherwise every float column not named as an attribute (``--attr``) or the id column
   (``--id-col``), in file order, with the integer columns named like them (``e7`` among
   float ``e0`` ... ``e31``: a dimension written as whole numbers); other integer and text
   columns stay attributes.

Every other column may be an attribute. ``.tsv`` is tab-separated, ``.csv`` / ``.txt``
comma-separated (standard input: tab-separated when its first line has tabs and no commas);
a first line of numbers only is data, not a header (columns ``f0``, ``f1``, ...); empty and
``NA``-like cells are missing values. JSON Lines files follow rules 1, 2 and 4 with a JSON
array field as the list column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from infomin_cli.errors import InputError
from infomin_cli.io.common import InMemoryTable, first_line, reading

_SEPARATOR = r"\s*,\s*|\s+"  # "0.1, 0.2" (JSON) or "0.1 0.2" (numpy's repr)


def delimiter_of(name: str, head: bytes = b"") -> str:
    """Tab for ``.tsv`` (or a first line with tabs and no commas when the name says
    nothing, as for standard input), else comma."""
    lower = name.lower()
    if lower.endswith(".tsv"):
        return "\t"
    if lower.endswith((".csv", ".txt")):
        return ","
    first = head.split(b"\n", 1)[0]
    return "\t" if b"\t" in first and b"," not in first else ","


def has_header(head: bytes, delimiter: str) -> bool:
    """False when the first line holds only numbers (``np.savetxt`` writes no header)."""
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip()
    if not first:
        return True
    for field in first.split(delimiter.encode()):
        try:
            float(field.strip().strip(b'"'))
        except ValueError:
            return True
    return False


def csv_options(name: str, head: bytes, ignore_empty_lines: bool = True):
    """``(read, parse, convert)`` options for a CSV / TSV file whose first bytes are ``head``."""
    delimiter = delimiter_of(name, head)
    return (
        pacsv.ReadOptions(autogenerate_column_names=not has_header(head, delimiter)),
        pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=ignore_empty_lines),
        pacsv.ConvertOptions(strings_can_be_null=True),
    )


def looks_like_lists(col: pa.ChunkedArray | pa.Array) -> bool:
    """Whether the first non-null cell of a text column is ``[...]``."""
    values = col.drop_null()
    if len(values) == 0:
        return False
    cell = str(values[0].as_py()).strip()
    return cell.startswith("[") and cell.endswith("]")


def parse_lists(arr: pa.Array | pa.ChunkedArray, path: str, label: str,
                rows: np.ndarray) -> pa.ListArray:
    """Text cells ``"[0.1, 0.2]"`` -> a ``list<float64>`` array (``rows``: their row numbers,
    for messages); InputError naming the first cell that is not a list of numbers."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    text = pc.utf8_trim_whitespace(arr)
    framed = pc.and_(pc.starts_with(text, "["), pc.ends_with(text, "]"))
    if not pc.all(framed).as_py():
        i = int(np.argmin(framed.to_numpy(zero_copy_only=False)))
        raise InputError(f"{path}: {label}: row {rows[i]}: not a list [...]: "
                         f"{_short(arr[i].as_py())!r}")
    inner = pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(text, 1, -1))
    parts = pc.split_pattern_regex(inner, _SEPARATOR)
    try:
        values = pc.cast(parts.values, pa.float64())
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: {label}: row {rows[_first_bad(parts)]}: not a list of "
                         f"numbers: {first_line(exc)}") from None
    return pa.ListArray.from_arrays(parts.offsets, values)


def _first_bad(parts: pa.ListArray) -> int:
    """The first row with a cell that is not a number (only called when there is one)."""
    for i, cell in enumerate(parts.to_pylist()):
        try:
            pc.cast(pa.array(cell, pa.string()), pa.float64())
        except pa.ArrowInvalid:
            return i
    return 0


def _short(text, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CsvTable(InMemoryTable):
    """A CSV / TSV file read with ``pyarrow.csv``; empty cells and ``NA``-like cells are missing.

    ``data``: the file's bytes (standard input, a downloaded object) instead of a local path.
    """

    fmt = "csv"

    def __init__(self, path: str, data: bytes | None = None) -> None:
        self.path = path
        self.files = [path]
        if data is None and not Path(path).is_file():
            raise InputError(f"{path}: no such file")
        head, tail = _ends(path, data)
        self.single = False
        with reading(path, "CSV"):
            self.table = self._read(path, data, head, ignore_empty_lines=True)
            if self.table.num_columns == 1:
                # one column: a blank line is a missing value, not a line to skip
                table = self._read(path, data, head, ignore_empty_lines=False)
                self.table = table.slice(0, table.num_rows - _trailing_blank_lines(tail))
                # no header: one unnamed column stands for whichever attribute is asked
                self.single = self.column_names == ["f0"] and not has_header(
                    head, delimiter_of(path, head))
        self.schema = self.table.schema
        self.n_rows = self.table.num_rows

    @staticmethod
    def _read(path: str, data: bytes | None, head: bytes, ignore_empty_lines: bool) -> pa.Table:
        read, parse, convert = csv_options(path, head, ignore_empty_lines)
        source = path if data is None else pa.BufferReader(data)
        return pacsv.read_csv(source, read_options=read, parse_options=parse,
                              convert_options=convert)


def _ends(path: str, data: bytes | None) -> tuple[bytes, bytes]:
    """The first 64 KiB and the last 4 KiB of a file (or of ``data``)."""
    if data is not None:
        return data[:65536], data[-4096:]
    with reading(path, "CSV"), open(path, "rb") as fh:
        head = fh.read(65536)
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 4096))
        return head, fh.read()


def _trailing_blank_lines(tail: bytes) -> int:
    """Blank lines at the very end of a file (after the last line's newline)."""
    tail = tail.replace(b"\r", b"")
    stripped = tail.rstrip(b"\n")
    newlines = len(tail) - len(stripped)
    return max(0, newlines - 1)
