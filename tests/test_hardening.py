"""What a bad-input sweep found, one test per finding: credentials never echoed by any path
option, two outputs never on one path, a projection never replaced without --force, bad
requests refused (exit 2) before any fit or write, and no debris from a killed write."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import list_array
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infomin_cli.cli import app

SECRET = "s3://AKIAEXAMPLEKEY:SUPERSECRET@bucket/x"
QUERY = "s3://bucket/x?secret_key=SUPERSECRET"


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(2)
    n = 400
    z = rng.standard_normal((n, 6)).astype(np.float32)
    t = (z[:, 0] > 0).astype(int)
    rare = np.where(np.arange(n) == 0, "only-one", np.where(t == 1, "a", "b"))
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"embedding": list_array(z), "t": t, "rare": rare,
                             "y": (z[:, 1] > 0).astype(int)}), path)
    (tmp_path / "cfg.toml").write_text(
        f'estimators = ["linear"]\n[[checks]]\nname = "c"\ninput = "{path}"\n'
        'attributes = ["t"]\n')
    return path


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def _path_options(data, tmp_path):
    """Every command with each of its path options in turn set to ``{uri}``."""
    d, cfg, proj = str(data), str(tmp_path / "cfg.toml"), str(tmp_path / "p.safetensors")
    fit = ["--max-steps", "1"]
    return [
        ["inspect", "{uri}"],
        ["audit", "{uri}", "--attr", "t"],
        ["audit", d, "--attr", "t", "--attrs", "{uri}"],
        ["audit", d, "--attr", "t", "--output", "{uri}"],
        ["check", "--config", cfg, "--output", "{uri}"],
        ["check", "--config", cfg, "--junit-xml", "{uri}"],
        ["check", "--config", cfg, "--markdown", "{uri}"],
        ["check", "--config", cfg, "--baseline", "{uri}"],
        ["debias", d, "--attr", "t", "--projection", "{uri}", *fit],
        ["debias", d, "--attr", "t", "--projection", proj, "--out", "{uri}", *fit],
        ["debias", d, "--attr", "t", "--projection", proj, "--output", "{uri}", *fit],
        ["debias", d, "--attr", "t", "--projection", proj, "--plot", "{uri}", *fit],
        ["debias", d, "--attr", "t", "--attrs", "{uri}", "--projection", proj, *fit],
        ["apply", "{uri}", d, "--out", str(tmp_path / "o.parquet")],
        ["apply", proj, d, "--out", "{uri}"],
        ["apply", proj, "{uri}", "--out", str(tmp_path / "o.parquet")],
    ]


@pytest.mark.parametrize("uri", [SECRET, QUERY])
def test_no_path_option_echoes_credentials(data, tmp_path, uri):
    before = _listing(tmp_path)
    for args in _path_options(data, tmp_path):
        r = _invoke(*[a.replace("{uri}", uri) for a in args])
        assert r.exit_code == 2, (args, r.output)
        assert "SUPERSECRET" not in r.output and "AKIAEXAMPLEKEY" not in r.output, (args,
                                                                                  r.output)
        assert "credentials in a URI" in r.output, (args, r.output)
    assert _listing(tmp_path) == before


def test_two_outputs_on_one_path_are_refused(data, tmp_path):
    p = tmp_path / "p.safetensors"
    cfg = tmp_path / "cfg.toml"
    before = _listing(tmp_path)
    cases = [
        ["debias", data, "--attr", "t", "--projection", p, "--out", p],
        ["debias", data, "--attr", "t", "--projection", p, "--output", f"{p}.json"],
        ["debias", data, "--attr", "t", "--projection", p, "--plot", f"{p}.json"],
        ["debias", data, "--attr", "t", "--projection", p, "--out", tmp_path / "o.parquet",
         "--output", tmp_path / "o.parquet"],
        ["check", "--config", cfg, "--output", tmp_path / "x", "--junit-xml", tmp_path / "x"],
        ["check", "--config", cfg, "--output", tmp_path / "x", "--markdown", tmp_path / "x"],
    ]
    for args in cases:
        r = _invoke(*args)
        assert r.exit_code == 2 and "is also the path of" in r.output, (args, r.output)
    assert _listing(tmp_path) == before


def test_a_projection_is_replaced_only_with_force(data, tmp_path):
    p = tmp_path / "p.safetensors"
    args = ["debias", data, "--attr", "t", "--projection", p, "--max-steps", "2"]
    assert _invoke(*args).exit_code == 0
    saved = p.read_bytes(), (tmp_path / "p.safetensors.json").read_bytes()
    r = _invoke(*args, "--seed", "5")
    assert r.exit_code == 2 and "--force" in r.output
    assert (p.read_bytes(), (tmp_path / "p.safetensors.json").read_bytes()) == saved
    # a sidecar alone (another projection's, or left behind) is protected too
    q = tmp_path / "q.safetensors"
    (tmp_path / "q.safetensors.json").write_text("{}")
    assert _invoke("debias", data, "--attr", "t", "--projection", q).exit_code == 2
    assert (tmp_path / "q.safetensors.json").read_text() == "{}"
    r = _invoke(*args, "--seed", "5", "--force")
    assert r.exit_code == 0, r.output
    assert p.read_bytes() != saved[0]


@pytest.mark.parametrize("extra, needle", [
    (["--attr", "rare"], "'only-one' (1 row) has fewer than 5 rows"),
    (["--attr", "t", "--target", "rare"], "'only-one' (1 row)"),
    (["--attr", "t", "--dim", "7"], "--dim 7 is larger than the embedding's dimension 6"),
    (["--attr", "t", "--dim", "5000"], "--dim 5000 is larger"),
    (["--attr", "t", "--method", "pearson", "--model", "mlp"], "--model linear"),
    (["--attr", "t", "--method", "adversarial", "--network-critic"], "--method adversarial"),
    (["--attr", "t", "--method", "leace", "--network-critic"], "critic of the slice penalty"),
    (["--attr", "t", "--out", "clean.csv"], "cannot tell the output format"),
    (["--attr", "t", "--beta", "1,,2"], "--beta '1,,2'"),
])
def test_bad_requests_are_refused_before_any_fit_or_write(data, tmp_path, extra, needle):
    extra = [str(tmp_path / e) if e.endswith(".csv") else e for e in extra]
    before = _listing(tmp_path)
    r = _invoke("debias", data, *extra, "--projection", tmp_path / "p.safetensors",
                "--output", tmp_path / "r.json")
    assert r.exit_code == 2 and needle in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
    assert _listing(tmp_path) == before


def test_an_unwritable_output_folder_is_named_before_the_work(data, tmp_path, monkeypatch):
    """The message names the output and its folder, not a temp file, and comes before the
    audit (the process may be root here, so the permission is simulated)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        False if os.fspath(p) == str(locked) else real(p, mode, **kw)))
    called = []
    monkeypatch.setattr("infomin_cli.pipeline.audit.run_audit",
                        lambda *a, **k: called.append(1))
    r = _invoke("audit", data, "--attr", "t", "--output", locked / "r.json")
    assert r.exit_code == 2 and "cannot write in directory" in r.output, r.output
    assert str(locked / "r.json") in r.output and ".tmp" not in r.output
    assert called == []


def test_a_killed_write_leaves_no_debris_on_the_next_run(data, tmp_path):
    """A temp file of a writer that no longer exists is removed by the next write to that
    path; one of a live writer is kept."""
    out = tmp_path / "clean.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".clean.parquet.{dead}.abc123.tmp"
    live = tmp_path / f".clean.parquet.{os.getpid()}.def456.tmp"
    other = tmp_path / f".other.parquet.{dead}.abc123.tmp"
    for f in (stale, live, other):
        f.write_bytes(b"x" * 100)
    r = _invoke("debias", data, "--attr", "t", "--projection", tmp_path / "p.safetensors",
                "--out", out, "--max-steps", "2")
    assert r.exit_code == 0, r.output
    assert out.exists() and not stale.exists() and live.exists() and other.exists()


@pytest.mark.slow
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(beta=None, dim=None, leak=0.125, method="leace", model="linear")  # was exit 3
@given(beta=st.one_of(st.none(), st.text(alphabet="0123456789.,-e x", max_size=8)),
       dim=st.one_of(st.none(), st.integers(-2, 9)),
       leak=st.one_of(st.none(), st.floats(-1, 2), st.just(float("nan"))),
       method=st.sampled_from(["slice", "pearson", "leace", "nope"]),
       model=st.sampled_from(["linear", "mlp"]))
def test_debias_options_keep_the_exit_code_contract(data, tmp_path, beta, dim, leak, method,
                                                    model):
    """Odd option values: 0 (done), 1 (--max-leakage not met) or 2 with one line and nothing
    written -- never 3."""
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    args = ["debias", data, "--attr", "t", "--projection", work / "p.safetensors",
            "--method", method, "--model", model, "--max-steps", "1"]
    args += [] if beta is None else ["--beta", beta]
    args += [] if dim is None else ["--dim", str(dim)]
    args += [] if leak is None else ["--max-leakage", str(leak)]
    r = _invoke(*args)
    assert r.exit_code in (0, 1, 2), r.output
    if r.exit_code == 2:
        assert not any(work.iterdir())


def test_the_debias_measurement_names_the_input_not_memory():
    """An error of the before/after audit inside debias names the input file (it said
    ``<memory>``)."""
    import infomin_cli as im
    from infomin_cli.debias.run import measure

    z = np.random.default_rng(0).standard_normal((200, 4)).astype(np.float32)
    bad = im.Attribute.continuous("y", np.r_[np.ones(199), np.nan])
    with pytest.raises(im.InputError, match=r"^in\.parquet: attribute 'y'"):
        measure(z, [bad], 0, "cpu", "in.parquet")


@pytest.fixture
def fitted(data, tmp_path):
    """A projection fitted once on ``data`` (its own folder)."""
    folder = tmp_path / "fitted"
    folder.mkdir()
    proj = folder / "p.safetensors"
    r = _invoke("debias", data, "--attr", "t", "--projection", proj, "--model", "linear",
                "--max-steps", "2")
    assert r.exit_code == 0, r.output
    return proj


@pytest.mark.slow
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.one_of(st.none(), st.integers(-3, 10**7)),
       name=st.sampled_from(["o.parquet", "o.npy", "o.csv", "o", "O.PARQUET", "o.pq", "sub/o.npy",
                             ".", "o.npz"]),
       out_col=st.one_of(st.none(), st.sampled_from(["embedding", "clean", "t", ""])),
       emb_col=st.one_of(st.none(), st.sampled_from(["embedding", "t", "nope"])))
def test_apply_options_keep_the_exit_code_contract(data, fitted, tmp_path, batch, name, out_col,
                                                  emb_col):
    """Odd apply options: 0 with the rows written, or 2 with one line and nothing written --
    never 3 (and the input and the projection untouched)."""
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    before = data.read_bytes(), fitted.read_bytes()
    args = ["apply", fitted, data, "--out", work / name]
    args += [] if batch is None else ["--batch-rows", str(batch)]
    args += [] if out_col is None else ["--out-col", out_col]
    args += [] if emb_col is None else ["--emb-col", emb_col]
    r = _invoke(*args)
    assert r.exit_code in (0, 2), r.output
    if r.exit_code == 2:
        assert len(r.output.strip().splitlines()) == 1 and not any(work.iterdir())
    else:
        assert (work / name).exists()
    assert (data.read_bytes(), fitted.read_bytes()) == before
