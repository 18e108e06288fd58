"""``--engine ray``: a local Ray cluster (2 CPUs) gives the local engine's report and output.

* audit reports (JSON) equal the local engine's to float64 rounding, on the shipped shards and
  on uneven layouts (blocks that straddle files, dropped rows), for several block counts;
* ``apply --engine ray`` writes Parquet shards equal row for row to the local output, every
  other column kept;
* a worker killed mid-job (Ray retries its task) gives the same report;
* object storage (a local S3 server, moto) for the local and the ray engine;
* a bad URI, an unreachable cluster, a missing Ray: one line, exit 2.

Ray is an optional extra (``pip install '.[ray]'``); CI installs it (README's test
command). These tests skip only outside CI when Ray is not importable.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from infomin_cli.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SHARDS = ROOT / "sample_data" / "adult_shards"

try:
    import ray
except ImportError:  # pragma: no cover - CI installs the extra
    ray = None
    if os.environ.get("CI"):
        raise
    pytest.skip("ray is not installed (pip install '.[ray]'); CI always runs these",
                allow_module_level=True)

AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret-value",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def s3():
    """A local S3 server (moto, in a thread on 127.0.0.1): the endpoint URL, or None when
    moto is not installed."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - moto is in the test extra
        if os.environ.get("CI"):
            raise
        yield None
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def ray_session(s3):
    """One local Ray for the module (2 CPUs); workers see the local S3 endpoint."""
    env = dict(AWS_ENV, AWS_ENDPOINT_URL=s3) if s3 else {}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": env})
    yield ray
    ray.shutdown()


@pytest.fixture
def aws_env(s3, monkeypatch):
    if s3 is None:
        pytest.skip("moto is not installed")
    for k, v in {**AWS_ENV, "AWS_ENDPOINT_URL": s3}.items():
        monkeypatch.setenv(k, v)
    return s3


def _close(a, b, path="report"):
    """Equal JSON values, numbers to a relative 1e-9 (float64 rounding of merged sums)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _audit_json(invoke, *args):
    res = invoke("audit", *args, "--format", "json")
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.stdout)


def _strip_input(report):
    """The report without the input's name (the same data under two paths)."""
    report = json.loads(json.dumps(report))
    report.get("input", {}).pop("path", None)
    report.get("input", {}).pop("files", None)
    return report


AUDIT_ARGS = ("--attr", "sex", "--attr", "race", "--attr", "age", "--rho-max-rows", "400",
              "--permutations", "1200")


@pytest.mark.slow
def test_cli_audit_ray_equals_local_on_shards(ray_session, invoke):
    local = _audit_json(invoke, SHARDS, *AUDIT_ARGS)
    remote = _audit_json(invoke, SHARDS, *AUDIT_ARGS, "--engine", "ray")
    assert (local.pop("engine"), remote.pop("engine")) == ("local", "ray")  # where it ran
    _close(local, remote)
    assert local["attributes"]  # a real report, not an empty one


def _uneven_dataset(tmp_path: Path) -> Path:
    """Adult's rows re-cut into 7 shards of uneven size, with missing attribute values (rows
    dropped), so blocks straddle files and kept rows differ from read rows."""
    table = pq.read_table(SHARDS)
    sex = table.column("sex").to_pylist()
    for i in range(3, len(sex), 97):
        sex[i] = None
    table = table.set_column(table.schema.get_field_index("sex"), "sex", pa.array(sex))
    out = tmp_path / "uneven"
    out.mkdir()
    cuts = [0, 333, 1700, 1701, 4100, 5000, 7333, table.num_rows]
    for k, (a, b) in enumerate(zip(cuts, cuts[1:])):
        pq.write_table(table.slice(a, b - a), out / f"part-{k}.parquet", row_group_size=600)
    return out


def _results(result):
    out = {}
    for name, a in result.attributes.items():
        for est in ("sliced", "linear"):
            r = a.estimates[est]
            out[f"{name}.{est}"] = (r.value, r.p_value, tuple(r.ci), r.n_eval, r.null_q95)
    return out


@pytest.mark.slow
def test_ray_audit_equals_local_whatever_the_blocks(ray_session, tmp_path, monkeypatch):
    """Uneven shards, dropped rows, small local batches; three Ray block sizes."""
    from infomin_cli.engine import ray_audit
    from infomin_cli.io import open_dataset
    from infomin_cli.pipeline.audit import run_audit
    from infomin_cli.pipeline.config import audit_settings

    path = _uneven_dataset(tmp_path)
    src = open_dataset(path, ["sex", "race", "age"])
    assert src.n_rows < src.n_rows_read  # rows were dropped
    cfg, pol = audit_settings({"estimators": "sliced,linear", "permutations": 300, "alpha": 0},
                              attributes=3)
    cfg = cfg.tuned("sliced", batch_rows=700)
    local = _results(run_audit(src, cfg, pol))
    read = ray_audit.read
    for block_bytes in (40_000, 150_000, None):
        monkeypatch.setattr(ray_audit, "read", lambda r, b, c, _bb, bb=block_bytes:
                            read(r, b, c, bb))
        got = _results(run_audit(src, replace(cfg, engine="ray"), pol))
        for key, want in local.items():
            _close(list(want), list(got[key]), f"{key} (block_bytes={block_bytes})")


@pytest.mark.slow
def test_a_worker_killed_mid_job_gives_the_same_report(ray_session, tmp_path, monkeypatch):
    from infomin_cli.engine import ray_audit
    from infomin_cli.io import open_dataset
    from infomin_cli.pipeline.audit import run_audit
    from infomin_cli.pipeline.config import audit_settings

    src = open_dataset(SHARDS, ["sex", "age"])
    cfg, pol = audit_settings({"estimators": "sliced,linear", "permutations": 300, "alpha": 0},
                              attributes=2)
    cfg = cfg.tuned("sliced", batch_rows=1000)
    local = _results(run_audit(src, cfg, pol))
    marker = tmp_path / "killed"
    monkeypatch.setenv(ray_audit.KILL_HOOK_ENV, str(marker))
    read = ray_audit.read
    monkeypatch.setattr(ray_audit, "read", lambda r, b, c, _bb: read(r, b, c, 100_000))
    got = _results(run_audit(src, replace(cfg, engine="ray"), pol))
    assert marker.exists(), "the hook did not kill a worker"
    assert int(marker.read_text()) != os.getpid()  # a worker died, not the driver
    for key, want in local.items():
        _close(list(want), list(got[key]), key)


def _projection(tmp_path: Path, dim: int = 32) -> Path:
    import torch
    from torch import nn

    from infomin_cli.debias.projection import Projection

    torch.manual_seed(0)
    head = nn.Sequential(nn.Linear(dim, 8), nn.SiLU(), nn.Linear(8, 5))
    rng = np.random.default_rng(0)
    proj = Projection.from_module("mlp", head, torch.from_numpy(rng.normal(size=dim)
                                                                .astype(np.float32)),
                                  torch.ones(dim), {"method": "slice"},
                                  noise=torch.full((5,), 0.3), noise_seed=7)
    path = tmp_path / "proj.safetensors"
    proj.save(path)
    return path


def test_apply_ray_writes_shards_equal_row_for_row(ray_session, invoke, tmp_path):
    """Equal row for row, output noise included: it is keyed by the row, not by the batch or
    shard that holds it."""
    proj = _projection(tmp_path)
    res = invoke("apply", proj, SHARDS, "--out", tmp_path / "local.parquet", "--batch-rows", "1500")
    assert res.exit_code == 0, res.output
    res = invoke("apply", proj, SHARDS, "--out", tmp_path / "ray_out", "--batch-rows", "1500",
                 "--engine", "ray")
    assert res.exit_code == 0, res.output
    shards = sorted((tmp_path / "ray_out").glob("*.parquet"))
    assert shards
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ray_out")]  # no temp left
    local = pq.read_table(tmp_path / "local.parquet").sort_by("id")
    remote = pa.concat_tables([pq.read_table(p) for p in shards]).sort_by("id")
    assert remote.column_names == local.column_names  # every other column kept, same order
    assert remote.num_rows == local.num_rows == 8000
    for col in local.column_names:
        if col != "embedding":
            assert remote.column(col).equals(local.column(col)), col
    a = np.stack(local.column("embedding").to_numpy(zero_copy_only=False))
    b = np.stack(remote.column("embedding").to_numpy(zero_copy_only=False))
    assert a.shape == (8000, 5)
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    # a second run does not write into a non-empty directory
    res = invoke("apply", proj, SHARDS, "--out", tmp_path / "ray_out", "--engine", "ray")
    assert res.exit_code == 2 and "not empty" in res.output


def _upload_shards(endpoint: str, bucket: str, prefix: str) -> None:
    import pyarrow.fs as pafs

    fs = pafs.S3FileSystem(endpoint_override=endpoint, allow_bucket_creation=True,
                           access_key=AWS_ENV["AWS_ACCESS_KEY_ID"],
                           secret_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"], region="us-east-1")
    fs.create_dir(bucket)
    for f in sorted(SHARDS.glob("*.parquet")):
        pafs.copy_files(str(f), f"{bucket}/{prefix}/{f.name}", destination_filesystem=fs)


@pytest.mark.slow
def test_object_storage_local_and_ray_engines(ray_session, invoke, aws_env, tmp_path):
    _upload_shards(aws_env, "lake", "adult")
    args = ("--attr", "sex", "--attr", "age", "--estimators", "sliced,linear",
            "--permutations", "600")
    local_file = _audit_json(invoke, SHARDS, *args)
    s3_local = _audit_json(invoke, "s3://lake/adult", *args)
    s3_glob = _audit_json(invoke, "s3://lake/adult/part-*.parquet", *args)
    s3_ray = _audit_json(invoke, "s3://lake/adult/", *args, "--engine", "ray")
    assert s3_ray.pop("engine") == "ray" and s3_local["engine"] == "local"
    s3_ray["engine"] = "local"  # where it ran: the one difference
    for other in (s3_local, s3_glob, s3_ray):
        _close(_strip_input(local_file), _strip_input(other))
    # apply: read from and write to the bucket, both engines
    proj = _projection(tmp_path)
    res = invoke("apply", proj, "s3://lake/adult", "--out", "s3://lake/clean/local.parquet")
    assert res.exit_code == 0, res.output
    res = invoke("apply", proj, "s3://lake/adult", "--out", "s3://lake/clean-ray",
                 "--engine", "ray")
    assert res.exit_code == 0, res.output
    import pyarrow.fs as pafs

    fs, _ = pafs.FileSystem.from_uri("s3://lake/x")
    local = pq.read_table("lake/clean/local.parquet", filesystem=fs).sort_by("id")
    remote = pq.read_table("lake/clean-ray", filesystem=fs).sort_by("id")
    assert remote.num_rows == local.num_rows == 8000
    assert remote.column("sex").equals(local.column("sex"))


def test_raylet_warnings_go_to_stderr_not_into_the_json_report(ray_session, capsys):
    """Ray's driver relays the raylet's warnings ("WARNING: 8 PYTHON worker processes have
    been started ...", seen under load in the middle of a --format json report) through
    ray._private.worker.print_to_stdstream as stdout lines, whatever log_to_driver says. Once
    the engine has connected they go to stderr; a worker's own stdout is left as Ray has it."""
    import ray._private.worker as ray_worker

    from infomin_cli.engine.ray_common import connect

    connect()
    connect()  # idempotent: one wrapper, not two
    message = "WARNING: 8 PYTHON worker processes have been started (infomin test)"
    # exactly what Ray's listen_error_messages thread passes
    ray_worker.print_to_stdstream({"lines": [message], "pid": "raylet", "is_err": False},
                                  ignore_prefix=False)
    ray_worker.print_to_stdstream({"lines": ["a worker's print (infomin test)"], "pid": 4321,
                                   "is_err": False}, ignore_prefix=False)
    out, err = capsys.readouterr()
    assert message in err and message not in out
    assert "a worker's print" in out


@pytest.mark.parametrize("uri, expect", [
    ("foo://bucket/x.parquet", "unknown storage scheme"),
    ("s3://no-such-bucket/embeddings/", "no such object or prefix"),
    ("s3://user:hunter2@lake/adult", "credentials in a URI are refused"),
])
def test_bad_uri_is_one_line_exit_2(ray_session, invoke, aws_env, uri, expect):
    for engine in ("local", "ray"):
        res = invoke("audit", uri, "--attr", "sex", "--engine", engine)
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and expect in lines[0], res.output
        assert "hunter2" not in res.output and AWS_ENV["AWS_SECRET_ACCESS_KEY"] not in res.output


def test_unreachable_cluster_is_one_line_exit_2(tmp_path):
    """A fresh process (no Ray session) told to use a cluster where nothing listens."""
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:1"}
    proc = subprocess.run(
        [sys.executable, "-m", "infomin_cli", "audit", str(SHARDS), "--attr", "sex",
         "--engine", "ray"], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "RAY_ADDRESS=127.0.0.1:1" in lines[0], proc.stderr


def test_missing_ray_is_one_clear_error(monkeypatch):
    from infomin_cli.engine import ray_common

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r"pip install '\.\[ray\]'"):
        ray_common.require_ray()


def test_engine_in_check_config(tmp_path):
    from infomin_cli.pipeline.check_config import load_config

    cfg = tmp_path / "infomin.toml"
    cfg.write_text(f'engine = "ray"\n[[checks]]\nname = "a"\ninput = "{SHARDS}"\n'
                   'attributes = ["sex"]\n[[checks]]\nname = "b"\n'
                   'input = "s3://lake/adult"\nattributes = ["sex"]\nengine = "local"\n')
    checks = load_config(cfg).checks
    assert [c.config.engine for c in checks] == ["ray", "local"]
    assert checks[1].input == "s3://lake/adult"
    cfg.write_text(f'engine = "spark"\n[[checks]]\nname = "a"\ninput = "{SHARDS}"\n'
                   'attributes = ["sex"]\n')
    with pytest.raises(InputError, match="engine 'spark': expected local or ray"):
        load_config(cfg)


def test_engine_layer_imports_no_cli_and_ray_lazily():
    import ast

    import infomin_cli

    pkg = Path(infomin_cli.__file__).parent
    for path in (pkg / "engine").glob("*.py"):
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in top if isinstance(n, ast.ImportFrom) and n.module}
        assert "ray" not in names, path  # imported lazily: the default install has no ray
        assert not any(m.startswith(("typer", "infomin_cli.cli")) for m in names), path
