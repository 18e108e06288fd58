"""What to read from a dataset: the embedding column(s), the attribute file and its key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LoadOptions:
    emb_col: str | None = None  # list column (or NPZ / safetensors / .pt array): the embedding
    emb_cols: str | None = None  # glob over numeric scalar columns, e.g. 'emb_*'
    attrs_file: str | Path | None = None  # separate attribute file, any input format
    id_col: str | None = None  # align attrs_file to the embeddings by this key (else row order)
    attr_kinds: dict[str, str] = field(default_factory=dict)  # e.g. {"age": "categorical"}
    strict: bool = False  # missing attribute values: error instead of dropping rows
