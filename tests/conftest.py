"""Shared fixtures: small embedding / attribute files written into ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
import torch

# Tests are small: one intra-op thread avoids oversubscription (spinning OpenMP threads) when
# the machine is shared, and keeps timings stable. Results do not depend on it.
torch.set_num_threads(1)

N_ROWS = 60
DIM = 6


def list_array(emb: np.ndarray, kind: str = "fixed_size_list", value_type=None):
    """``emb`` (n, d) as a ``list`` / ``large_list`` / ``fixed_size_list`` arrow array."""
    n, d = emb.shape
    values = pa.array(emb.reshape(-1), type=value_type or pa.float32())
    if kind == "fixed_size_list":
        return pa.FixedSizeListArray.from_arrays(values, d)
    offsets = np.arange(0, n * d + 1, d)
    if kind == "large_list":
        return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def emb(rng) -> np.ndarray:
    return rng.normal(size=(N_ROWS, DIM)).astype(np.float32)


@pytest.fixture
def attr_columns(rng) -> dict[str, np.ndarray]:
    return {
        "gender": rng.choice(["f", "m"], N_ROWS),
        "race": rng.choice(["a", "b", "c", "d"], N_ROWS),
        "age": rng.integers(18, 90, N_ROWS),
        "score": rng.normal(size=N_ROWS),
        "group": rng.integers(0, 5, N_ROWS),
        "uid": np.array([f"u{i:04d}" for i in range(N_ROWS)]),
    }


@pytest.fixture
def write_parquet(tmp_path):
    """``write_parquet(name, {col: values}, **write_table_kwargs) -> Path``."""

    def _write(name: str, columns: dict, **kwargs) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), path, **kwargs)
        return path

    return _write


@pytest.fixture
def emb_parquet(write_parquet, emb, attr_columns) -> Path:
    """A Parquet file: fixed_size_list<float32> ``embedding`` + attribute columns."""
    return write_parquet("emb.parquet", {"embedding": list_array(emb), **attr_columns},
                         row_group_size=16)


@pytest.fixture
def emb_npy(tmp_path, emb) -> Path:
    path = tmp_path / "emb.npy"
    np.save(path, emb)
    return path


@pytest.fixture
def attrs_csv(tmp_path, attr_columns) -> Path:
    path = tmp_path / "attrs.csv"
    pa.csv.write_csv(pa.table(attr_columns), path)
    return path


@pytest.fixture
def cli_app():
    """The Typer app (its commands are registered when it is imported)."""
    from infomin_cli.cli import app
    from infomin_cli.cli.state import STATE

    STATE.debug = False
    yield app
    STATE.debug = False


@pytest.fixture
def invoke(cli_app, tmp_path, monkeypatch):
    """Run ``infomin ARGS`` in-process (cwd = tmp_path); returns the click Result."""
    from typer.testing import CliRunner

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def _invoke(*args: str):
        return runner.invoke(cli_app, [str(a) for a in args])

    return _invoke
