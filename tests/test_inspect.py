"""``inspect_file`` and ``infomin inspect``: reports, and one clean line for each bad input."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pyarrow as pa
import pytest
from conftest import DIM, N_ROWS, list_array

from infomin_cli.errors import InputError
from infomin_cli.io import LoadOptions, inspect_file, open_dataset

# -- the report ------------------------------------------------------------------------


def test_inspect_file_report(emb_parquet, emb):
    r = inspect_file(emb_parquet, LoadOptions())
    assert r["rows"] == N_ROWS and r["format"] == "parquet" and r["files"] == 1
    assert r["embedding"] == {"source": f"column 'embedding' (fixed_size_list<float32>[{DIM}])",
                              "column": "embedding", "dim": DIM, "dtype": "float32"}
    norms = np.linalg.norm(emb.astype(np.float64), axis=1)
    assert r["norms"]["min"] == pytest.approx(norms.min())
    assert r["norms"]["median"] == pytest.approx(np.median(norms))
    assert r["norms"]["mean"] == pytest.approx(norms.mean())
    assert r["norms"]["max"] == pytest.approx(norms.max())
    assert r["dead_dims"] == 0 and r["zero_rows"] == 0
    cols = {c["name"]: c for c in r["columns"]}
    assert "embedding" not in cols
    assert {k: c["kind"] for k, c in cols.items()} == {
        "gender": "binary", "race": "categorical", "age": "continuous", "score": "continuous",
        "group": "categorical", "uid": "id",
    }
    assert cols["race"]["distinct"] == 4 and cols["race"]["type"] == "string"
    assert all(c["missing"] == 0 for c in cols.values())
    assert "attributes" not in r
    json.dumps(r)  # JSON-ready


def test_inspect_missing_dead_and_skipped(write_parquet, emb):
    data = emb.copy()
    data[:, 2] = 0.5  # a dead dimension
    score = np.linspace(0, 1, N_ROWS)
    score[:4] = np.nan
    path = write_parquet("e.parquet", {
        "embedding": list_array(data, "list"),
        "score": score,
        "const": np.full(N_ROWS, 3),
        "when": pa.array(np.arange(N_ROWS), pa.timestamp("s")),
    })
    r = inspect_file(path, LoadOptions(id_col=None, attr_kinds={"score": "continuous"}),
                     attrs=["score"])
    cols = {c["name"]: c for c in r["columns"]}
    assert r["dead_dims"] == 1
    assert cols["score"]["missing"] == 4 and cols["score"]["kind"] == "continuous"
    assert cols["const"]["kind"] == "skipped" and cols["const"]["note"] == "single value"
    assert cols["when"]["kind"] == "skipped"
    assert r["rows_kept"] == N_ROWS - 4
    assert r["attributes"]["score"] == {"kind": "continuous", "classes": None, "width": 1,
                                        "dropped": 4}


def test_inspect_with_attrs_file(emb_npy, attrs_csv):
    r = inspect_file(emb_npy, LoadOptions(attrs_file=attrs_csv, id_col=None), attrs=["race"])
    assert r["format"] == "npy" and r["embedding"]["column"] is None
    assert r["attrs_file"] == str(attrs_csv)
    assert {c["name"] for c in r["columns"]} == {"gender", "race", "age", "score", "group", "uid"}
    assert r["attributes"]["race"]["classes"] == ["a", "b", "c", "d"]


# -- the command -----------------------------------------------------------------------


def test_cli_table(invoke, emb_parquet):
    res = invoke("inspect", emb_parquet)
    assert res.exit_code == 0, res.output
    for text in ("embedding", "fixed_size_list<float32>[6]", "gender", "binary", "dead dims"):
        assert text in res.stdout
    assert res.stderr == ""


def test_cli_json_only_on_stdout(invoke, emb_npy, attrs_csv):
    res = invoke("inspect", emb_npy, "--attrs", attrs_csv, "--attr", "gender",
                 "--attr-kind", "gender=categorical", "--format", "json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["rows"] == N_ROWS and report["embedding"]["dim"] == DIM
    assert report["attributes"]["gender"]["kind"] == "categorical"
    assert res.stderr == ""


def test_cli_emb_cols_and_id_col(invoke, write_parquet, tmp_path, emb, attr_columns):
    cols = {f"e{i}": emb[:, i] for i in range(DIM)}
    path = write_parquet("e.parquet", {"uid": attr_columns["uid"], **cols})
    order = np.arange(N_ROWS)[::-1]
    write_parquet("a.parquet", {k: v[order] for k, v in attr_columns.items()})
    res = invoke("inspect", path, "--emb-cols", "e*", "--attrs", tmp_path / "a.parquet",
                 "--id-col", "uid", "--attr", "race", "--format", "json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["embedding"]["dim"] == DIM
    assert {c["name"]: c["kind"] for c in report["columns"]}["uid"] == "id"


# -- bad input: one line on stderr, exit 2, no traceback, nothing written ----------------


@pytest.fixture
def bad(tmp_path, invoke):
    """``bad(args, *fragments)``: run ``infomin inspect ARGS`` and check the error line."""

    def _check(args, *fragments):
        before = sorted(os.listdir(tmp_path))
        res = invoke("inspect", *args)
        assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
        err = res.stderr
        assert err.startswith("error: ") and err.count("\n") == 1, err
        for frag in fragments:
            assert frag in err, (frag, err)
        assert "Traceback" not in res.output
        assert res.stdout == ""
        assert sorted(os.listdir(tmp_path)) == before
        return err

    return _check


def test_missing_file(bad, tmp_path):
    bad([tmp_path / "nope.parquet"], "nope.parquet", "no such file")


def test_corrupt_parquet(bad, tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not really parquet")
    bad([tmp_path / "bad.parquet"], "bad.parquet", "cannot read as Parquet")


def test_no_embedding_column(bad, write_parquet):
    path = write_parquet("e.parquet", {"a": np.arange(5), "b": ["x"] * 5})
    bad([path], "e.parquet", "no embedding column", "a (int64)", "--emb-col")


def test_several_candidates(bad, write_parquet, emb):
    path = write_parquet("e.parquet", {"e1": list_array(emb), "e2": list_array(emb)})
    bad([path], "e.parquet", "several embedding candidates (e1, e2)", "--emb-col")


def test_unknown_emb_col(bad, emb_parquet):
    bad([emb_parquet, "--emb-col", "embeding"], "embeding", "did you mean 'embedding'")


def test_ragged_lists(bad, write_parquet):
    arr = pa.array([[1.0, 2.0, 3.0]] * 30 + [[1.0, 2.0]] * 3 + [[1.0, 2.0, 3.0]] * 3,
                   pa.list_(pa.float32()))
    path = write_parquet("e.parquet", {"emb": arr, "g": ["a", "b"] * 18})
    bad([path], "e.parquet", "column 'emb'", "ragged list lengths (3 rows", "row 30 has 2")


def test_non_numeric_embedding(bad, write_parquet):
    path = write_parquet("e.parquet", {"emb": [["a", "b"]] * 4, "g": ["x", "y"] * 2})
    bad([path], "e.parquet", "column 'emb'", "non-numeric embedding", "list<string>")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf(bad, write_parquet, emb, value):
    data = emb.copy()
    data[[4, 9, 50], 1] = value
    path = write_parquet("e.parquet", {"embedding": list_array(data)}, row_group_size=16)
    bad([path], "e.parquet", "column 'embedding'", "rows with NaN or inf", "first at row 4")
    src = open_dataset(path, [])
    with pytest.raises(InputError, match=r"3 rows with NaN or inf values \(first at row 4\)"):
        src.embeddings()


@pytest.mark.parametrize("shape", [(10,), (4, 3, 2)])
def test_npy_wrong_ndim(bad, tmp_path, shape):
    np.save(tmp_path / "e.npy", np.zeros(shape, np.float32))
    bad([tmp_path / "e.npy"], "e.npy", f"{len(shape)}-D", "expected a 2-D array")


def test_object_npy(bad, tmp_path):
    np.save(tmp_path / "o.npy", np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True)
    bad([tmp_path / "o.npy"], "o.npy", "Python objects", "refusing to unpickle")


def test_pickle_named_npy(bad, tmp_path):
    (tmp_path / "p.npy").write_bytes(pickle.dumps(np.zeros((3, 3))))
    bad([tmp_path / "p.npy"], "p.npy", "pickle", "refusing to unpickle")


def test_attrs_length_mismatch(bad, tmp_path, emb_npy):
    (tmp_path / "a.csv").write_text("g\n" + "\n".join("ab"[i % 2] for i in range(N_ROWS - 1)))
    bad([emb_npy, "--attrs", tmp_path / "a.csv"], "a.csv", "59 rows", "emb.npy has 60")


def test_unknown_attribute(bad, emb_parquet):
    bad([emb_parquet, "--attr", "gendr"], "emb.parquet", "'gendr'", "did you mean 'gender'")


def test_single_value_attribute(bad, write_parquet, emb):
    path = write_parquet("e.parquet", {"embedding": list_array(emb), "g": ["a"] * N_ROWS})
    bad([path, "--attr", "g"], "e.parquet", "column 'g'", "only one distinct value ('a')")


def test_empty_file(bad, write_parquet, tmp_path):
    path = write_parquet("e.parquet", {"emb": pa.array([], pa.list_(pa.float32(), 4))})
    bad([path], "e.parquet", "no rows")
    np.save(tmp_path / "e.npy", np.zeros((0, 4), np.float32))
    bad([tmp_path / "e.npy"], "e.npy", "no rows")


def test_duplicate_ids(bad, write_parquet, tmp_path, emb, attr_columns):
    uid = attr_columns["uid"].copy()
    path = write_parquet("e.parquet", {"embedding": list_array(emb), "uid": uid})
    uid[[1, 2]] = uid[0]
    write_parquet("a.parquet", {"uid": uid, "g": attr_columns["gender"]})
    bad([path, "--attrs", tmp_path / "a.parquet", "--id-col", "uid"],
        "a.parquet", "column 'uid'", "2 duplicate ids", "'u0000'")


@pytest.mark.parametrize("spec", ["gender", "gender=", "=binary", "gender:binary",
                                  "gender=ordinal"])
def test_bad_attr_kind(bad, emb_parquet, spec):
    bad([emb_parquet, "--attr", "gender", "--attr-kind", spec], "--attr-kind")


def test_continuous_string_attribute(bad, emb_parquet):
    bad([emb_parquet, "--attr", "race", "--attr-kind", "race=continuous"],
        "column 'race'", "cannot be continuous")


def test_strict_missing(bad, write_parquet, emb):
    g = np.array(["a", "b"] * (N_ROWS // 2), dtype=object)
    g[5] = None
    path = write_parquet("e.parquet", {"embedding": list_array(emb), "g": g})
    bad([path, "--attr", "g", "--strict"], "e.parquet", "column 'g'", "1 of 60 rows")


def test_debug_shows_traceback(cli_app, tmp_path):
    from typer.testing import CliRunner

    res = CliRunner().invoke(cli_app, ["--debug", "inspect", str(tmp_path / "nope.parquet")])
    # --debug adds the traceback and keeps the exit code of a bad input
    assert res.exit_code == 2 and "Traceback" in res.stderr and "InputError" in res.stderr


def test_integer_id_column_is_shown_as_id(write_parquet, emb):
    path = write_parquet("e.parquet", {"embedding": list_array(emb),
                                       "row": np.random.default_rng(0).permutation(N_ROWS),
                                       "income": np.arange(N_ROWS) * 1000 + 7})
    cols = {c["name"]: c["kind"] for c in inspect_file(path)["columns"]}
    assert cols == {"row": "id", "income": "continuous"}


def test_huge_values_have_finite_norms(write_parquet):
    data = np.array([[1e300, 1.0], [3.0, 4.0]] * 3)
    path = write_parquet("e.parquet", {"emb": list_array(data, "list", pa.float64())})
    r = inspect_file(path)
    assert r["norms"]["max"] == pytest.approx(1e300) and r["norms"]["min"] == 5.0
    with pytest.raises(InputError, match="3 rows with values too large for float32"):
        open_dataset(path, []).embeddings()


def test_null_embedding_row(bad, write_parquet):
    arr = pa.array([[1.0, 2.0], None, [3.0, 4.0]], pa.list_(pa.float32(), 2))
    path = write_parquet("e.parquet", {"emb": arr})
    bad([path], "e.parquet", "column 'emb'", "1 row with a null embedding (first at row 1)")


def test_streaming_nan_error_names_the_batch(write_parquet, emb):
    data = emb.copy()
    data[33, 0] = np.nan
    path = write_parquet("e.parquet", {"embedding": list_array(data)}, row_group_size=10)
    src = open_dataset(path, [])
    it = src.iter_embeddings(10)
    for _ in range(3):
        next(it)
    with pytest.raises(InputError, match=r"1 row with NaN or inf values in rows 30-39 \(first at "
                                         r"row 33\)"):
        next(it)


def test_option_conflicts(bad, emb_parquet, emb_npy):
    bad([emb_parquet, "--emb-col", "embedding", "--emb-cols", "e*"], "--emb-col", "--emb-cols")
    bad([emb_parquet, "--id-col", "uid"], "emb.parquet", "--id-col uid needs an attribute file")
    bad([emb_npy, "--emb-cols", "e*"], "emb.npy", "--emb-cols")
    bad([emb_npy, "--attr", "gender"], "emb.npy", "'gender'", "give the attributes with --attrs")
