"""Every input format gives the Parquet run's audit, number for number.

The same rows (an embedding with a real dependence on two attributes) are written as CSV / TSV
(a ``[...]`` list column, or float columns), JSON Lines, Arrow IPC file and stream, Feather
v1 / v2, a Hugging Face ``save_to_disk`` directory, safetensors, ``.pt``, standard input; each
is audited and its estimates compared with the Parquet file's. ``--attrs`` likewise in each
format (and each from S3, a local moto server). Bad inputs (an unknown format, a ``.pt`` holding
a Python object, a ragged list, standard input twice) are one-line exit-2 errors naming the
file, and nothing in them is executed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from infomin_cli.errors import InputError
from infomin_cli.io import LoadOptions, inspect_file, open_dataset
from infomin_cli.io.formats import detect

N, D = 240, 8
AUDIT = ("--attr", "g", "--attr", "c", "--estimators", "sliced,linear",
         "--format", "json", "--seed", "0")
ROOT = Path(__file__).resolve().parents[1]


# -- the data, in every format -----------------------------------------------------------------
@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    """z (float32) depends on g (binary, through dim 0) and on c (continuous, through dim 1)."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(N, D)).astype(np.float32)
    g = (z[:, 0] + rng.normal(scale=0.7, size=N) > 0).astype(np.int64)
    c = z[:, 1] * 0.8 + rng.normal(scale=0.6, size=N)
    z[:7, 3] = 0.0  # whole numbers: "0" in a CSV
    z[:, 5] = np.round(z[:, 5])  # a dimension of whole numbers only: read back as integers
    return {"z": z, "g": g, "c": c}


def _table(data, embedding: str = "list") -> pa.Table:
    z = data["z"]
    if embedding == "list":
        emb = {"embedding": pa.FixedSizeListArray.from_arrays(pa.array(z.reshape(-1)), D)}
    elif embedding == "text":
        emb = {"embedding": ["[" + ", ".join(repr(float(x)) for x in row) + "]" for row in z]}
    else:
        emb = {f"e{i}": z[:, i] for i in range(D)}
    return pa.table({"g": data["g"], **emb, "c": data["c"]})


def _jsonl(path: Path, data) -> None:
    with open(path, "w") as fh:
        for z, g, c in zip(data["z"], data["g"], data["c"]):
            fh.write(json.dumps({"embedding": [float(x) for x in z],
                                 "g": int(g), "c": float(c)}) + "\n")


def _hf_dir(path: Path, table: pa.Table, swap: bool = False) -> None:
    """A ``datasets`` ``save_to_disk`` directory, as the package writes it: two IPC stream
    shards, ``state.json`` listing them, ``dataset_info.json``. ``swap``: the first rows are in
    the shard whose name sorts last (only ``state.json`` gives the order)."""
    path.mkdir()
    cut = N // 2 + 3
    names = ["data-00000-of-00002.arrow", "data-00001-of-00002.arrow"][::-1 if swap else 1]
    for name, part in zip(names, (table.slice(0, cut), table.slice(cut))):
        with pa.ipc.new_stream(path / name, table.schema) as w:
            w.write_table(part)
    (path / "state.json").write_text(json.dumps({
        "_data_files": [{"filename": n} for n in names], "_fingerprint": "0" * 16,
        "_format_columns": None, "_format_kwargs": {}, "_format_type": None,
        "_output_all_columns": False, "_split": None}))
    (path / "dataset_info.json").write_text(json.dumps({
        "citation": "", "description": "", "features": {
            "g": {"dtype": "int64", "_type": "Value"},
            "embedding": {"feature": {"dtype": "float32", "_type": "Value"}, "_type": "Sequence"},
            "c": {"dtype": "float64", "_type": "Value"}}}))


def write(fmt: str, folder: Path, data) -> tuple[Path, tuple[str, ...]]:
    """The data in ``fmt`` under ``folder``: ``(path, extra audit options)``."""
    t = _table(data)
    if fmt == "parquet":
        pq.write_table(t, p := folder / "e.parquet", row_group_size=50)
    elif fmt == "csv-list":
        pacsv.write_csv(_table(data, "text"), p := folder / "e.csv")
    elif fmt == "csv-floats":
        pacsv.write_csv(_table(data, "floats"), p := folder / "floats.csv")
    elif fmt == "tsv":
        pacsv.write_csv(_table(data, "text"), p := folder / "e.tsv",
                        pacsv.WriteOptions(delimiter="\t"))
    elif fmt == "jsonl":
        _jsonl(p := folder / "e.jsonl", data)
    elif fmt == "ipc-file":
        with pa.ipc.new_file(p := folder / "e.arrow", t.schema) as w:
            w.write_table(t)
    elif fmt == "ipc-stream":
        with pa.ipc.new_stream(p := folder / "e.ipc", t.schema) as w:
            w.write_table(t)
    elif fmt == "feather-v2":
        feather.write_feather(t, p := folder / "e.feather")
    elif fmt == "feather-v1":  # no list columns in v1
        with pytest.warns(DeprecationWarning):
            feather.write_feather(_table(data, "floats"), p := folder / "v1.feather", version=1)
        return p, ("--emb-cols", "e*")
    elif fmt == "hf":
        _hf_dir(p := folder / "hf_dataset", t)
    elif fmt == "safetensors":
        from safetensors.numpy import save_file

        save_file({"embedding": data["z"], "g": data["g"], "c": data["c"]},
                  str(p := folder / "e.safetensors"))
    elif fmt == "pt":
        torch.save({k: torch.from_numpy(v) for k, v in
                    {"embedding": data["z"], "g": data["g"], "c": data["c"]}.items()},
                   p := folder / "e.pt")
    else:
        raise AssertionError(fmt)
    return p, ()


def estimates(report: dict) -> dict:
    """The report without its ``input`` block (paths, format names, descriptions)."""
    return {k: v for k, v in report.items() if k != "input"}


def audit(*args, input: bytes | None = None) -> dict:
    from infomin_cli.cli import app

    res = CliRunner().invoke(app, [str(a) for a in ("audit", *args, *AUDIT)], input=input)
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("formats")


@pytest.fixture(scope="module")
def reference(folder, data) -> dict:
    path, _ = write("parquet", folder, data)
    report = audit(path)
    assert report["attributes"]["g"]["verdict"] == "fail"  # a real dependence, found
    assert report["attributes"]["c"]["verdict"] == "fail"
    return estimates(report)


READERS = ["csv-list", "csv-floats", "tsv", "jsonl", "ipc-file", "ipc-stream", "feather-v2",
           "feather-v1", "hf", "safetensors", "pt"]


@pytest.mark.parametrize("fmt", READERS)
def test_each_reader_gives_the_parquet_audit(fmt, folder, data, reference):
    path, extra = write(fmt, folder, data)
    report = audit(path, *extra)
    assert estimates(report) == reference
    assert report["input"]["format"] == {"csv-list": "csv", "csv-floats": "csv", "tsv": "csv",
                                         "ipc-file": "ipc", "ipc-stream": "ipc",
                                         "feather-v2": "feather", "feather-v1": "feather",
                                         "pt": "torch"}.get(fmt, fmt)
    src = open_dataset(path, ["g", "c"], LoadOptions(emb_cols=extra[1] if extra else None))
    np.testing.assert_array_equal(src.embeddings(), data["z"])  # the rows, in order


ATTR_FORMATS = ["parquet", "csv-list", "tsv", "jsonl", "ipc-file", "ipc-stream", "feather-v2",
                "hf", "safetensors", "pt"]


@pytest.mark.parametrize("fmt", ATTR_FORMATS)
def test_attrs_in_each_format(fmt, folder, data, reference, tmp_path):
    emb = tmp_path / "z.npy"
    np.save(emb, data["z"])
    attrs, _ = write(fmt, tmp_path, data)
    report = audit(emb, "--attrs", attrs)
    assert estimates(report) == reference


# -- standard input ---------------------------------------------------------------------------
def test_stdin_parquet_subprocess(folder, data, reference):
    path, _ = write("parquet", folder, data)
    res = subprocess.run([sys.executable, "-m", "infomin_cli", "audit", "-", *AUDIT],
                         input=path.read_bytes(), capture_output=True, cwd=folder, timeout=120)
    assert res.returncode in (0, 1), res.stderr.decode()
    report = json.loads(res.stdout)
    assert estimates(report) == reference
    assert report["input"]["format"] == "parquet"


@pytest.mark.parametrize("fmt", ["csv-list", "npy"])
def test_stdin_csv_and_npy(fmt, folder, data, reference, tmp_path):
    if fmt == "npy":
        np.save(tmp_path / "z.npy", data["z"])
        attrs, _ = write("parquet", tmp_path, data)
        report = audit("-", "--attrs", attrs, input=(tmp_path / "z.npy").read_bytes())
    else:
        path, _ = write(fmt, tmp_path, data)
        report = audit("-", input=path.read_bytes())
    assert estimates(report) == reference


def test_attrs_from_stdin(folder, data, reference, tmp_path):
    np.save(emb := tmp_path / "z.npy", data["z"])
    attrs, _ = write("csv-list", tmp_path, data)
    assert estimates(audit(emb, "--attrs", "-", input=attrs.read_bytes())) == reference


def test_stdin_twice_is_refused_subprocess(folder):
    res = subprocess.run([sys.executable, "-m", "infomin_cli", "audit", "-", "--attrs", "-",
                          "--attr", "g"], input=b"a,b\n1,2\n", capture_output=True, cwd=folder,
                         timeout=60)
    assert res.returncode == 2
    err = res.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("error: <stdin>: ") and "--attrs" in err
    assert res.stdout == b""


# -- object storage ---------------------------------------------------------------------------
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret-value",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def s3_server():
    """A local S3 server (moto, in a thread on 127.0.0.1): its endpoint URL."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A fresh bucket on the local S3 server: ``(filesystem, bucket)``; the environment points
    pyarrow at the server."""
    import pyarrow.fs as pafs

    for k, v in {**AWS_ENV, "AWS_ENDPOINT_URL": s3_server}.items():
        monkeypatch.setenv(k, v)
    fs = pafs.S3FileSystem(endpoint_override=s3_server, allow_bucket_creation=True,
                           access_key=AWS_ENV["AWS_ACCESS_KEY_ID"],
                           secret_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"], region="us-east-1")
    bucket = f"readers-{os.getpid()}-{np.random.default_rng().integers(1 << 30)}"
    fs.create_dir(bucket)
    return fs, bucket


def _upload(fs, local: Path, key: str) -> None:
    with fs.open_output_stream(key) as out:
        out.write(local.read_bytes())


def test_s3_attrs_and_embeddings(s3, folder, data, reference, tmp_path):
    fs, bucket = s3
    np.save(emb := tmp_path / "z.npy", data["z"])
    np.savez(npz := tmp_path / "a.npz", g=data["g"], c=data["c"])
    files = [write(fmt, tmp_path, data)[0] for fmt in ATTR_FORMATS if fmt != "hf"] + [npz]
    for attrs in files:  # every attribute file format (a save_to_disk folder is local only)
        _upload(fs, attrs, f"{bucket}/attrs/{attrs.name}")
        report = audit(emb, "--attrs", f"s3://{bucket}/attrs/{attrs.name}")
        assert estimates(report) == reference, attrs.name
    feat, _ = write("feather-v2", tmp_path, data)
    _upload(fs, feat, f"{bucket}/emb/e.feather")
    _upload(fs, emb, f"{bucket}/emb/z.npy")
    for remote in (f"s3://{bucket}/attrs/e.csv", f"s3://{bucket}/emb/e.feather"):
        assert estimates(audit(remote)) == reference, remote
    with pytest.raises(InputError, match=r"z\.npy: npy embeddings are read from local files"):
        open_dataset(f"s3://{bucket}/emb/z.npy", [])


# -- inspect and apply --------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,found", [
    ("csv-list", "column 'embedding' (text lists"), ("csv-floats", "8 float columns"),
    ("jsonl", "column 'embedding' (list<float64>)"), ("hf", "column 'embedding'"),
    ("safetensors", "tensor 'embedding' (float32, 240×8)"),
    ("pt", "tensor 'embedding' (float32, 240×8)")])
def test_inspect_describes_each_format(fmt, found, tmp_path, data):
    path, _ = write(fmt, tmp_path, data)
    report = inspect_file(path, LoadOptions(), attrs=["g", "c"])
    assert report["embedding"]["source"].startswith(found)
    assert report["embedding"]["dim"] == D and report["rows"] == N
    assert {c["name"] for c in report["columns"]} >= {"g", "c"}
    assert report["attributes"]["g"]["kind"] == "binary"


def test_inspect_skips_nested_json_fields(tmp_path):
    lines = [{"embedding": [i, 1.5, -i], "meta": {"k": i}, "g": i % 2} for i in range(6)]
    (tmp_path / "n.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    report = inspect_file(tmp_path / "n.jsonl")
    meta = next(c for c in report["columns"] if c["name"] == "meta")
    assert meta["kind"] == "skipped" and meta["distinct"] is None
    assert report["embedding"]["dim"] == 3


@pytest.fixture(scope="module")
def projection(folder) -> Path:
    from torch import nn

    from infomin_cli.debias.projection import Projection

    torch.manual_seed(0)
    proj = Projection.from_module("linear", nn.Linear(D, 3), np.zeros(D), np.ones(D))
    return proj.save(folder / "p.safetensors")


@pytest.mark.parametrize("fmt", ["csv-list", "jsonl", "pt"])
def test_apply_reads_each_format(fmt, projection, folder, data, invoke, tmp_path):
    ref_in, _ = write("parquet", folder, data)
    path, _ = write(fmt, tmp_path, data)
    assert invoke("apply", projection, ref_in, "--out", tmp_path / "ref.npy").exit_code == 0
    res = invoke("apply", projection, path, "--out", tmp_path / "out.npy")
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), np.load(tmp_path / "ref.npy"))
    if fmt != "pt":  # a table input: Parquet output keeps the other columns
        res = invoke("apply", projection, path, "--out", tmp_path / "out.parquet")
        assert res.exit_code == 0, res.output
        out = pq.read_table(tmp_path / "out.parquet")
        assert out.column("g").to_pylist() == data["g"].tolist()
        np.testing.assert_array_equal(np.stack(out.column("embedding").to_pylist()),
                                      np.load(tmp_path / "ref.npy"))


# -- errors -------------------------------------------------------------------------------------
def _one_line_exit_2(res, *fragments):
    assert res.exit_code == 2, res.output
    err = res.stderr
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for frag in fragments:
        assert frag in err, (frag, err)
    return err


def test_unknown_format(invoke, tmp_path, data):
    (tmp_path / "x.dat").write_text("hello world\n")
    _one_line_exit_2(invoke("audit", tmp_path / "x.dat", "--attr", "g"), "x.dat",
                     "unknown format", "Parquet", "CSV", "safetensors", ".pt")
    np.save(tmp_path / "z.npy", data["z"])
    _one_line_exit_2(invoke("audit", tmp_path / "z.npy", "--attrs", tmp_path / "x.dat",
                            "--attr", "g"), "x.dat", "unknown format")


class _Sentinel:
    """Unpickling this runs ``os.mkdir(path)``: what a hostile checkpoint would do."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_pt_with_python_object_is_refused_unexecuted(invoke, tmp_path, data):
    sentinel = tmp_path / "pwned"
    bad = tmp_path / "bad.pt"
    torch.save({"embedding": torch.from_numpy(data["z"]), "x": _Sentinel(str(sentinel))}, bad)
    err = _one_line_exit_2(invoke("audit", bad, "--attr", "g"), "bad.pt", "refusing to unpickle")
    assert "it holds a posix.mkdir" in err
    np.save(tmp_path / "z.npy", data["z"])
    _one_line_exit_2(invoke("audit", tmp_path / "z.npy", "--attrs", bad, "--attr", "g"),
                     "bad.pt", "refusing to unpickle")
    assert not sentinel.exists()
    torch.save([torch.zeros(3, 2)], tmp_path / "list.pt")  # safe to load, but not a dict
    _one_line_exit_2(invoke("inspect", tmp_path / "list.pt"), "list.pt", "not a tensor or a dict")
    torch.load(bad, weights_only=False)  # the file really is hostile: plain torch.load runs it
    assert sentinel.exists()


def test_pt_zip_is_not_npz(tmp_path, data):
    torch.save({"embedding": torch.from_numpy(data["z"])}, tmp_path / "model.bin")
    with open(tmp_path / "arrays.bin", "wb") as fh:
        np.savez(fh, embedding=data["z"])
    assert detect(str(tmp_path / "model.bin")) == "torch"
    assert detect(str(tmp_path / "arrays.bin")) == "npz"
    for name in ("model.bin", "arrays.bin"):
        np.testing.assert_array_equal(open_dataset(tmp_path / name, []).embeddings(), data["z"])


def test_ragged_csv_list(invoke, tmp_path):
    rows = ["[0.1, 0.2, 0.3]"] * 5
    rows[3] = "[0.1, 0.2]"
    (tmp_path / "r.csv").write_text("embedding,g\n" + "".join(f'"{r}",{i % 2}\n'
                                                             for i, r in enumerate(rows)))
    _one_line_exit_2(invoke("audit", tmp_path / "r.csv", "--attr", "g"), "r.csv",
                     "column 'embedding'", "ragged", "row 3")
    (tmp_path / "n.csv").write_text('embedding,g\n"[0.1, x]",0\n"[1, 2]",1\n')
    _one_line_exit_2(invoke("inspect", tmp_path / "n.csv"), "n.csv", "row 0", "not a list of numbers")


def test_hf_shard_order_and_dataset_dict(tmp_path, data):
    root = tmp_path / "dd"
    root.mkdir()
    (root / "dataset_dict.json").write_text('{"splits": ["train"]}')
    _hf_dir(root / "train", _table(data))
    with pytest.raises(InputError, match=r"a Hugging Face DatasetDict; give one split's "
                                         r"directory \(.*dd/train\)"):
        open_dataset(root, [])
    np.testing.assert_array_equal(open_dataset(root / "train", []).embeddings(), data["z"])
    _hf_dir(tmp_path / "swapped", _table(data), swap=True)
    np.testing.assert_array_equal(open_dataset(tmp_path / "swapped", []).embeddings(), data["z"])


def test_ray_engine_refuses_non_parquet(invoke, tmp_path, data):
    path, _ = write("csv-list", tmp_path, data)
    _one_line_exit_2(invoke("audit", path, "--attr", "g", "--engine", "ray"), "e.csv",
                     "ray engine reads Parquet")


@pytest.mark.parametrize("suffix", ["npz", "safetensors"])
def test_attribute_arrays_of_different_lengths_are_refused(invoke, tmp_path, data, suffix):
    """Both attribute-array readers refuse arrays of unequal length: one line naming the
    file, exit 2, no report written."""
    emb, _ = write("parquet", tmp_path, data)
    bad = tmp_path / f"attrs.{suffix}"
    cols = {"g": data["g"], "c": data["c"][:-3]}
    if suffix == "npz":
        np.savez(bad, **cols)
    else:
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v) for k, v in cols.items()}, str(bad))
    out = tmp_path / "report.json"
    res = invoke("audit", emb, "--attrs", bad, "--attr", "g", "-o", out)
    _one_line_exit_2(res, f"attrs.{suffix}", "arrays of different lengths")
    assert not out.exists()
