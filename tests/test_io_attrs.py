"""Attributes: separate files, id alignment, kind inference and overrides, missing values."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from conftest import N_ROWS, list_array

from infomin_cli.errors import InputError
from infomin_cli.io import CATEGORICAL_MAX, LoadOptions, open_dataset


def _same_attrs(a, b):
    for name in a.attributes:
        x, y = a.attributes[name], b.attributes[name]
        assert (x.kind, x.classes) == (y.kind, y.classes), name
        np.testing.assert_array_equal(x.values, y.values)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("by_id", [False, True])
def test_attrs_file_matches_same_file(tmp_path, write_parquet, emb, emb_parquet, attr_columns,
                                      fmt, by_id):
    names = ["gender", "race", "age", "score"]
    order = np.random.default_rng(5).permutation(N_ROWS) if by_id else np.arange(N_ROWS)
    table = pa.table({k: v[order] for k, v in attr_columns.items()})
    path = tmp_path / f"attrs.{fmt}"
    if fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        write_parquet(path.name, {k: table.column(k) for k in table.column_names})
    emb_only = write_parquet("emb_only.parquet",
                             {"embedding": list_array(emb), "uid": attr_columns["uid"]})
    opts = LoadOptions(attrs_file=path, id_col="uid" if by_id else None)
    src = open_dataset(emb_only, names, opts)
    ref = open_dataset(emb_parquet, names)
    assert list(src.attributes) == names
    _same_attrs(src, ref)
    np.testing.assert_array_equal(src.embeddings(), emb)


def test_npy_attrs_file(tmp_path, emb_npy, attr_columns):
    np.save(tmp_path / "age.npy", attr_columns["age"])
    src = open_dataset(emb_npy, ["age"], LoadOptions(attrs_file=tmp_path / "age.npy"))
    assert src.attributes["age"].kind == "continuous"
    np.testing.assert_array_equal(src.attributes["age"].values, attr_columns["age"])
    # any single requested name maps onto a plain array
    pos = np.random.default_rng(0).normal(size=(N_ROWS, 3))
    np.save(tmp_path / "pos.npy", pos)
    src = open_dataset(emb_npy, ["location"], LoadOptions(attrs_file=tmp_path / "pos.npy"))
    attr = src.attributes["location"]
    assert attr.kind == "multidim" and attr.values.shape == (N_ROWS, 3)
    np.testing.assert_allclose(attr.values, pos)


def test_npy_attrs_csv_by_row_order(emb_npy, attrs_csv, attr_columns):
    src = open_dataset(emb_npy, ["race", "gender"], LoadOptions(attrs_file=attrs_csv))
    race = src.attributes["race"]
    assert race.kind == "categorical" and race.classes == ("a", "b", "c", "d")
    np.testing.assert_array_equal(np.array(race.classes)[race.values], attr_columns["race"])


def test_kind_inference(write_parquet, emb, rng):
    n = N_ROWS
    cols = {
        "embedding": list_array(emb),
        "flag": rng.integers(0, 2, n).astype(bool),
        "two_floats": rng.choice([0.5, 1.5], n),
        "small_int": np.arange(n) % CATEGORICAL_MAX,
        "big_int": np.arange(n) % (CATEGORICAL_MAX + 1),
        "float": rng.normal(size=n),
        "words": rng.choice(["x", "y", "z"], n),
        "vec": list_array(rng.normal(size=(n, 3)), "list", pa.float64()),
        "vec1": list_array(rng.normal(size=(n, 1)), "fixed_size_list", pa.float64()),
        "dict": pa.array(rng.choice(["p", "q", "r"], n)).dictionary_encode(),
    }
    path = write_parquet("e.parquet", cols)
    names = [c for c in cols if c not in ("embedding", "vec")]
    src = open_dataset(path, names + ["vec"], LoadOptions(emb_col="embedding"))
    kinds = {k: a.kind for k, a in src.attributes.items()}
    assert kinds == {
        "flag": "binary", "two_floats": "binary", "small_int": "categorical",
        "big_int": "continuous", "float": "continuous", "words": "categorical",
        "vec1": "continuous", "dict": "categorical", "vec": "multidim",
    }
    assert src.attributes["flag"].classes == ("False", "True")
    assert src.attributes["two_floats"].classes == ("0.5", "1.5")
    # integer classes sort by value, not as strings
    assert src.attributes["small_int"].classes[:3] == ("0", "1", "2")
    assert src.attributes["small_int"].classes[-1] == str(CATEGORICAL_MAX - 1)


def test_kind_overrides(emb_parquet):
    opts = LoadOptions(attr_kinds={"age": "categorical", "group": "continuous",
                                   "gender": "categorical"})
    src = open_dataset(emb_parquet, ["age", "group", "gender"], opts)
    assert src.attributes["age"].kind == "categorical"
    assert src.attributes["group"].kind == "continuous"
    assert src.attributes["gender"].kind == "categorical"
    assert src.attributes["gender"].classes == ("f", "m")


@pytest.mark.parametrize("attr, kind, msg", [
    ("race", "continuous", "cannot be continuous: type string"),
    ("race", "binary", "cannot be binary: 4 distinct"),
    ("age", "multidim", "cannot be multidim"),
    ("age", "ordinal", "unknown kind 'ordinal'"),
])
def test_bad_overrides(emb_parquet, attr, kind, msg):
    with pytest.raises(InputError, match=msg):
        open_dataset(emb_parquet, [attr], LoadOptions(attr_kinds={attr: kind}))


def test_override_for_unloaded_attribute(emb_parquet):
    with pytest.raises(InputError, match="'age' is not an attribute being loaded"):
        open_dataset(emb_parquet, ["race"], LoadOptions(attr_kinds={"age": "continuous"}))


def test_missing_values_drop_or_strict(tmp_path, write_parquet, emb, emb_npy, attr_columns):
    race = attr_columns["race"].astype(object)
    race[[1, 2]] = None
    score = attr_columns["score"].copy()
    score[[2, 5, 9]] = np.nan
    path = write_parquet("e.parquet", {"embedding": list_array(emb), "race": race,
                                       "score": score})
    src = open_dataset(path, ["race", "score"])
    assert src.dropped == {"race": 2, "score": 3}
    assert src.n_rows_read == N_ROWS and src.n_rows == N_ROWS - 4
    assert len(src.attributes["race"]) == len(src.attributes["score"]) == src.n_rows
    assert len(src.embeddings()) == src.n_rows
    with pytest.raises(InputError, match=r"e\.parquet: column 'race': 2 of 60 rows have a missing"):
        open_dataset(path, ["race", "score"], LoadOptions(strict=True))
    # CSV: empty cells are missing; NPY attributes: NaN is missing
    csv = tmp_path / "a.csv"
    csv.write_text("g\n" + "\n".join("" if i in (0, 4) else "ab"[i % 2] for i in range(N_ROWS)))
    src = open_dataset(emb_npy, ["g"], LoadOptions(attrs_file=csv))
    assert src.dropped == {"g": 2} and src.attributes["g"].kind == "binary"
    with pytest.raises(InputError, match=r"a\.csv: column 'g': 2 of 60"):
        open_dataset(emb_npy, ["g"], LoadOptions(attrs_file=csv, strict=True))


def test_multidim_with_nan_element_is_missing(write_parquet, emb, rng):
    vec = rng.normal(size=(N_ROWS, 2))
    vec[7, 1] = np.nan
    path = write_parquet("e.parquet", {"embedding": list_array(emb),
                                       "vec": list_array(vec, "list", pa.float64())})
    src = open_dataset(path, ["vec"], LoadOptions(emb_col="embedding"))
    assert src.dropped == {"vec": 1} and src.attributes["vec"].values.shape == (N_ROWS - 1, 2)


def test_all_rows_dropped(write_parquet, emb):
    path = write_parquet("e.parquet", {"embedding": list_array(emb),
                                       "x": pa.nulls(N_ROWS, pa.float64())})
    with pytest.raises(InputError, match="no rows left"):
        open_dataset(path, ["x"])


def test_id_alignment_errors(tmp_path, write_parquet, emb, attr_columns):
    uid = attr_columns["uid"]
    emb_file = write_parquet("e.parquet", {"embedding": list_array(emb), "uid": uid})
    dup = uid.copy()
    dup[3] = dup[4]
    write_parquet("dup.parquet", {"uid": dup, "g": attr_columns["gender"]})
    with pytest.raises(InputError, match=r"dup\.parquet: column 'uid': 1 duplicate ids"):
        open_dataset(emb_file, ["g"], LoadOptions(attrs_file=tmp_path / "dup.parquet",
                                                  id_col="uid"))
    write_parquet("short.parquet", {"uid": uid[:-5], "g": attr_columns["gender"][:-5]})
    with pytest.raises(InputError, match="5 of 60 embedding ids have no row"):
        open_dataset(emb_file, ["g"], LoadOptions(attrs_file=tmp_path / "short.parquet",
                                                  id_col="uid"))
    extra = np.concatenate([uid, ["zz1", "zz2"]])
    write_parquet("long.parquet", {"uid": extra, "g": np.resize(attr_columns["gender"], 62)})
    with pytest.raises(InputError, match="2 of 62 attribute ids have no embedding"):
        open_dataset(emb_file, ["g"], LoadOptions(attrs_file=tmp_path / "long.parquet",
                                                  id_col="uid"))
    with pytest.raises(InputError, match="id column"):
        open_dataset(emb_file, ["g"], LoadOptions(attrs_file=tmp_path / "short.parquet",
                                                  id_col="nope"))


def test_integer_ids_against_csv_strings(tmp_path, write_parquet, emb):
    ids = np.arange(100, 100 + N_ROWS)
    emb_file = write_parquet("e.parquet", {"embedding": list_array(emb), "id": ids})
    order = np.random.default_rng(2).permutation(N_ROWS)
    csv = tmp_path / "a.csv"
    csv.write_text("id,g\n" + "\n".join(f"{ids[i]},{'ab'[i % 2]}" for i in order))
    src = open_dataset(emb_file, ["g"], LoadOptions(attrs_file=csv, id_col="id"))
    np.testing.assert_array_equal(src.attributes["g"].values, np.arange(N_ROWS) % 2)


def test_single_column_csv_blank_lines(tmp_path, emb_npy):
    rows = ["" if i == 10 else "ab"[i % 2] for i in range(N_ROWS)]
    csv = tmp_path / "g.csv"
    csv.write_text("g\n" + "\n".join(rows) + "\n\n")  # a trailing blank line is not a row
    src = open_dataset(emb_npy, ["g"], LoadOptions(attrs_file=csv))
    assert src.n_rows_read == N_ROWS and src.dropped == {"g": 1}
