"""Round trips: every embedding format and layout gives back the same array."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from conftest import DIM, N_ROWS, list_array

from infomin_cli.io import DatasetSource, LoadOptions, open_dataset

FLOATS = {"float16": pa.float16(), "float32": pa.float32(), "float64": pa.float64()}


@pytest.mark.parametrize("kind", ["list", "large_list", "fixed_size_list"])
@pytest.mark.parametrize("dtype", list(FLOATS))
def test_parquet_list_round_trip(write_parquet, emb, kind, dtype):
    data = emb.astype(dtype)
    path = write_parquet("e.parquet", {"e": list_array(data, kind, FLOATS[dtype]),
                                       "g": ["a", "b"] * (N_ROWS // 2)}, row_group_size=7)
    src = open_dataset(path, [])
    assert isinstance(src, DatasetSource)
    assert (src.n_rows, src.n_rows_read, src.dim) == (N_ROWS, N_ROWS, DIM)
    assert src.dtype == np.dtype(dtype)
    assert src.emb_desc.startswith(f"column 'e' ({kind}<{dtype}>")
    assert src.attributes == {} and src.dropped == {}
    out = src.embeddings()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, data.astype(np.float32))
    np.testing.assert_array_equal(src.embeddings(np.float64), data.astype(np.float64))


def test_emb_col_picks_among_several(write_parquet, emb):
    other = np.ones((N_ROWS, 3), np.float32)
    path = write_parquet("e.parquet", {"a": list_array(other), "b": list_array(emb)})
    src = open_dataset(path, [], LoadOptions(emb_col="b"))
    np.testing.assert_array_equal(src.embeddings(), emb)


def test_emb_cols_glob(write_parquet, emb):
    cols = {f"emb_{i}": emb[:, i] for i in range(DIM)}
    path = write_parquet("e.parquet", {"id": np.arange(N_ROWS), **cols, "embx": np.zeros(N_ROWS)})
    src = open_dataset(path, [], LoadOptions(emb_cols="emb_*"))
    assert src.dim == DIM and src.dtype == np.float32
    assert src.emb_desc == f"{DIM} columns 'emb_*' (float32)"
    np.testing.assert_array_equal(src.embeddings(), emb)
    np.testing.assert_array_equal(np.concatenate(list(src.iter_embeddings(7))), emb)


def test_npy_memmap(emb_npy, emb):
    src = open_dataset(emb_npy, [])
    assert src.format == "npy" and src.dim == DIM and src.dtype == np.float32
    assert isinstance(src._backend.arr, np.memmap)
    np.testing.assert_array_equal(src.embeddings(), emb)
    batches = list(src.iter_embeddings(25))
    assert [len(b) for b in batches] == [25, 25, 10]
    assert all(b.flags.writeable for b in batches)


def test_npz_single_and_named(tmp_path, emb):
    one = tmp_path / "one.npz"
    np.savez(one, emb=emb.astype(np.float64), labels=np.arange(N_ROWS) % 2)
    src = open_dataset(one, ["labels"])
    assert src.format == "npz" and src.dtype == np.float64
    np.testing.assert_array_equal(src.embeddings(), emb)
    assert src.attributes["labels"].kind == "binary"
    two = tmp_path / "two.npz"
    np.savez_compressed(two, a=emb, b=emb[:, :2].copy())
    src = open_dataset(two, [], LoadOptions(emb_col="b"))
    np.testing.assert_array_equal(src.embeddings(), emb[:, :2])


@pytest.mark.parametrize("layout", ["dir", "glob"])
def test_shards_equal_single_file(tmp_path, write_parquet, emb, attr_columns, layout):
    whole = write_parquet("whole.parquet", {"embedding": list_array(emb), **attr_columns})
    bounds = [0, 7, 20, 21, 45, N_ROWS]  # uneven shards; 12 > 2 checks natural file order
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        name = f"shards/part-{i if i < 4 else 12}.parquet"
        write_parquet(name, {"embedding": list_array(emb[a:b]),
                             **{k: v[a:b] for k, v in attr_columns.items()}}, row_group_size=5)
    (tmp_path / "shards" / "_SUCCESS").write_text("")
    target = tmp_path / "shards" if layout == "dir" else str(tmp_path / "shards" / "part-*.parquet")
    attrs = ["gender", "race", "score"]
    one, many = open_dataset(whole, attrs), open_dataset(target, attrs)
    assert len(many.files) == 5 and many.n_rows == N_ROWS
    np.testing.assert_array_equal(many.embeddings(), one.embeddings())
    for a in attrs:
        np.testing.assert_array_equal(many.attributes[a].values, one.attributes[a].values)
    np.testing.assert_array_equal(np.concatenate(list(many.iter_embeddings(4))), emb)
    np.testing.assert_array_equal(many.sample(10, seed=3), one.sample(10, seed=3))


@pytest.mark.parametrize("batch_rows", [1, 7, 16, 59, 60, 1000])
def test_iter_embeddings_matches_embeddings(emb_parquet, batch_rows):
    src = open_dataset(emb_parquet, ["gender"])
    batches = list(src.iter_embeddings(batch_rows))
    assert all(len(b) == batch_rows for b in batches[:-1])
    assert 0 < len(batches[-1]) <= batch_rows
    np.testing.assert_array_equal(np.concatenate(batches), src.embeddings())


@pytest.mark.parametrize("fixture", ["emb_parquet", "emb_npy"])
def test_sample_seeded(request, emb, fixture):
    src = open_dataset(request.getfixturevalue(fixture), [])
    a, b, c = src.sample(20, seed=7), src.sample(20, seed=7), src.sample(20, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    idx = src.sample_indices(20, seed=7)
    assert len(np.unique(idx)) == 20 and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(a, emb[idx])
    np.testing.assert_array_equal(src.sample(10_000, seed=1), emb)


def test_dropped_rows_are_skipped_everywhere(write_parquet, emb, attr_columns):
    score = attr_columns["score"].copy()
    score[[3, 17, 40]] = np.nan
    path = write_parquet("e.parquet", {"embedding": list_array(emb), "score": score},
                         row_group_size=8)
    src = open_dataset(path, ["score"])
    kept = np.setdiff1d(np.arange(N_ROWS), [3, 17, 40])
    assert src.n_rows == N_ROWS - 3 and src.dropped == {"score": 3}
    np.testing.assert_array_equal(src.kept_rows, kept)
    np.testing.assert_array_equal(src.embeddings(), emb[kept])
    np.testing.assert_array_equal(np.concatenate(list(src.iter_embeddings(5))), emb[kept])
    idx = src.sample_indices(9, seed=0)
    np.testing.assert_array_equal(src.sample(9, seed=0), emb[kept][idx])
    np.testing.assert_array_equal(src.attributes["score"].values, score[kept])


def test_parquet_take_streams_any_order(write_parquet, emb):
    """The Parquet backend's ``take`` (used by ``sample``) returns rows in the order asked."""
    path = write_parquet("t.parquet", {"embedding": list_array(emb)}, row_group_size=7)
    src = open_dataset(path, [])
    rows = np.random.default_rng(0).permutation(len(emb))[:25]
    got = src._backend.take(rows, batch_rows=5)
    np.testing.assert_array_equal(got, emb[rows])
    np.testing.assert_array_equal(src.sample(10, seed=3), emb[src.sample_indices(10, 3)])


def test_nonfinite_rows_fast_path_is_exact():
    from infomin_cli.io.source import nonfinite_rows

    x = np.ones((6, 4))
    x[1, 2] = np.nan
    x[3, 0] = np.inf
    x[4, :] = 1e308  # finite, but the row sum overflows: must not be flagged
    x[5, 1] = -np.inf
    np.testing.assert_array_equal(nonfinite_rows(x), [False, True, False, True, False, True])
    np.testing.assert_array_equal(nonfinite_rows(x[:4].astype(np.float32)),
                                  [False, True, False, True])
