"""The attribute columns of a dataset, found in the attribute file or beside the embeddings,
and aligned with the embedding rows (by an id column, or by row order)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from infomin_cli.errors import InputError
from infomin_cli.io.attrs import align_by_id, open_table
from infomin_cli.io.common import column_not_found
from infomin_cli.io.kinds import check_kind_name, normalize
from infomin_cli.io.options import LoadOptions


def load_attribute_columns(backend, attrs: Sequence[str], options: LoadOptions):
    """``({attr: (column, file)}, attrs_table_or_None)`` aligned with the embedding rows."""
    path = backend.path
    table = open_table(options.attrs_file) if options.attrs_file is not None else None
    afile = str(options.attrs_file) if table is not None else None
    if options.id_col and table is None:
        raise InputError(f"{path}: --id-col {options.id_col} needs an attribute file (--attrs)")
    if len(set(attrs)) != len(attrs):
        dup = sorted({a for a in attrs if list(attrs).count(a) > 1})
        raise InputError(f"attribute {dup[0]!r} is given more than once")
    for name, kind in options.attr_kinds.items():
        check_kind_name(name, kind)
        if name not in attrs:
            raise InputError(f"--attr-kind {name}={kind}: {name!r} is not an attribute being loaded")

    from_table: dict[str, str] = {}  # attr -> column in the attribute file
    from_emb: list[str] = []
    table_cols = [] if table is None else [c for c in table.column_names if c != options.id_col]
    for a in attrs:
        if a in table_cols:
            from_table[a] = a
        elif a in backend.other_columns and a != options.id_col:
            from_emb.append(a)
        elif a in backend.columns:
            raise InputError(f"{path}: column {a!r}: is the embedding, not an attribute")
        elif table is not None and getattr(table, "single", False) and len(attrs) == 1:
            from_table[a] = table_cols[0]
        elif table is None and not backend.other_columns:
            raise InputError(
                f"{path}: attribute {a!r}: the file holds only embeddings; "
                "give the attributes with --attrs FILE"
            )
        else:
            available = table_cols + [c for c in backend.other_columns if c != options.id_col]
            raise column_not_found(afile or path, a, available, "attribute column")

    columns: dict[str, tuple[pa.Array, str]] = {}
    if table is not None:
        if options.id_col:
            index = align_by_id(backend, path, table, afile, options.id_col)
        else:
            index = None
            if table.n_rows != backend.n_rows:
                raise InputError(
                    f"{afile}: {table.n_rows} rows, but {path} has {backend.n_rows} embeddings; "
                    "row counts must match (or align by a key with --id-col)"
                )
        if from_table:
            read = table.read(list(dict.fromkeys(from_table.values())))
            if index is not None:
                read = read.take(pa.array(index))
            for a, col in from_table.items():
                columns[a] = (normalize(read.column(col)), afile)
    if from_emb:
        read = backend.read(from_emb)
        for a in from_emb:
            columns[a] = (normalize(read.column(a)), path)
    return {a: columns[a] for a in attrs}, table
