"""The exit-code contract under failure: a crash exits 3 (never 1, which CI reads as "leak
found"), ``--debug`` adds the traceback without changing the code, and writing an output can
never destroy an input."""

from __future__ import annotations

import importlib
import json
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer

from infomin_cli.cli.exit_codes import EXIT_INPUT_ERROR, EXIT_INTERNAL_ERROR
from infomin_cli.errors import InputError
from infomin_cli.io.writers import (
    check_output_path,
    write_atomic,
    write_json_atomic,
    write_npy_atomic,
    write_parquet_atomic,
)

# Valid for every estimator family: one permutation test, 1/1001 below alpha = 0.01.
OK_ARGS = ["--attr", "gender", "--estimators", "sliced", "--permutations", "1000",
           "--slices", "5", "--format", "json"]
HINT = " (run with --debug for the traceback)"


def _err_lines(result) -> list[str]:
    return result.stderr.strip().splitlines()


def _app_module():
    """The module ``infomin_cli.cli.app`` (the package attribute ``app`` is the Typer app)."""
    return importlib.import_module("infomin_cli.cli.app")


@pytest.fixture
def crash(monkeypatch):
    """``crash(exc)``: the audit pipeline raises ``exc`` (the command imports ``run_audit``
    from its module when it runs, so the module attribute is what to patch)."""
    import infomin_cli.pipeline.audit as pipeline_audit

    def _crash(exc: BaseException) -> None:
        def boom(*args, **kwargs):
            raise exc

        monkeypatch.setattr(pipeline_audit, "run_audit", boom)

    return _crash


# --- exit code 3 for a crash ----------------------------------------------------------------


def test_internal_error_exits_3_one_line(invoke, emb_parquet, crash):
    crash(RuntimeError("boom: the estimator fell over\nsecond line of detail"))
    r = invoke("audit", emb_parquet, *OK_ARGS)
    assert r.exit_code == EXIT_INTERNAL_ERROR, r.output
    assert _err_lines(r) == ["internal error: RuntimeError: boom: the estimator fell over" + HINT]
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert r.stdout == ""


def test_internal_error_without_message(invoke, emb_parquet, crash):
    crash(ZeroDivisionError())
    r = invoke("audit", emb_parquet, *OK_ARGS)
    assert r.exit_code == 3
    assert _err_lines(r) == ["internal error: ZeroDivisionError" + HINT]


def test_internal_error_with_debug_shows_traceback_and_keeps_code(invoke, emb_parquet, crash):
    crash(RuntimeError("boom"))
    r = invoke("--debug", "audit", emb_parquet, *OK_ARGS)
    assert r.exit_code == EXIT_INTERNAL_ERROR
    assert "Traceback (most recent call last)" in r.stderr and "RuntimeError: boom" in r.stderr
    assert _err_lines(r)[-1] == "internal error: RuntimeError: boom"


@pytest.mark.parametrize("code", [0, 1, 2])
def test_typer_exit_passes_through(invoke, emb_parquet, crash, code):
    crash(typer.Exit(code))
    r = invoke("audit", emb_parquet, *OK_ARGS)
    assert r.exit_code == code and r.stderr == ""


def test_keyboard_interrupt_exits_130(invoke, emb_parquet, crash):
    crash(KeyboardInterrupt())
    r = invoke("audit", emb_parquet, *OK_ARGS)
    assert r.exit_code == 130 and "internal error" not in r.stderr


def test_internal_error_line():
    from infomin_cli.cli.exit_codes import internal_error_line

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    assert internal_error_line(ValueError("  a   b \n c")) == "internal error: ValueError: a b" + HINT
    assert internal_error_line(Unprintable(), debug=True) == "internal error: Unprintable"
    assert len(internal_error_line(KeyError("x" * 5000))) < 400


def test_main_turns_an_escaped_exception_into_3(monkeypatch, capsys):
    """Something failing outside a command (Typer building the command line, say)."""
    app_module = _app_module()

    def broken(*args, **kwargs):
        raise TypeError("cannot build the command line")

    monkeypatch.setattr(app_module, "app", broken)
    with pytest.raises(SystemExit) as exc:
        app_module.main(["audit", "x.parquet"])
    assert exc.value.code == EXIT_INTERNAL_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["internal error: TypeError: cannot build the command line" + HINT]
    with pytest.raises(SystemExit) as exc:
        app_module.main(["--debug", "audit", "x.parquet"])
    assert exc.value.code == EXIT_INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1] == (
        "internal error: TypeError: cannot build the command line")


def test_main_reports_a_failed_registration(monkeypatch, capsys):
    app_module = _app_module()

    monkeypatch.setattr(app_module, "registration_error",
                        ImportError("libarrow.so: cannot open shared object file"))
    with pytest.raises(SystemExit) as exc:
        app_module.main(["--version"])
    assert exc.value.code == 3
    assert capsys.readouterr().err.startswith("internal error: ImportError: libarrow.so")


def test_main_keyboard_interrupt_and_normal_exit(monkeypatch, capsys):
    from infomin_cli import __version__
    app_module = _app_module()

    with pytest.raises(SystemExit) as exc:
        app_module.main(["--version"])
    assert exc.value.code in (0, None) and capsys.readouterr().out.strip().endswith(__version__)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(app_module, "app", interrupted)
    with pytest.raises(SystemExit) as exc:
        app_module.main(["audit"])
    assert exc.value.code == 130


# --- --debug keeps the exit code ------------------------------------------------------------


def test_debug_bad_input_exits_2_with_traceback(invoke, tmp_path):
    missing = tmp_path / "missing.parquet"
    r = invoke("--debug", "inspect", missing)
    assert r.exit_code == EXIT_INPUT_ERROR
    assert "Traceback" in r.stderr and "InputError" in r.stderr
    assert _err_lines(r)[-1] == f"error: {missing}: no such file or directory"
    plain = invoke("inspect", missing)
    assert plain.exit_code == EXIT_INPUT_ERROR
    assert _err_lines(plain) == [f"error: {missing}: no such file or directory"]


def test_debug_bad_setting_exits_2_with_traceback(invoke, emb_parquet):
    r = invoke("--debug", "audit", emb_parquet, "--attr", "gender", "--slices", "0")
    assert r.exit_code == EXIT_INPUT_ERROR
    assert "Traceback" in r.stderr and "SettingError" in r.stderr
    last = _err_lines(r)[-1]
    assert last.startswith("error: --slices")


# --- seeds ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2**70, 2**63, -1])
def test_seed_out_of_range_is_an_input_error(invoke, emb_parquet, seed):
    r = invoke("audit", emb_parquet, "--attr", "gender", "--estimators", "sliced,linear",
               "--permutations", "1000", "--slices", "5", "--seed", seed)
    assert r.exit_code == EXIT_INPUT_ERROR, r.output
    err = _err_lines(r)
    assert len(err) == 1 and err[0].startswith("error: ") and "--seed" in err[0]
    assert "Traceback" not in r.output


# --- output paths never destroy data --------------------------------------------------------


def _table(n: int = 8) -> pa.Table:
    return pa.table({"x": np.arange(n), "y": np.linspace(0, 1, n)})


@pytest.fixture
def shards(tmp_path) -> tuple[Path, list[Path]]:
    d = tmp_path / "shards"
    (d / "sub").mkdir(parents=True)
    files = [d / "part-0.parquet", d / "part-1.parquet", d / "sub" / "part-2.parquet"]
    for f in files:
        pq.write_table(_table(), f)
    return d, files


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(root.rglob("*"))}


def _refused(root: Path, needle: str, target, **kwargs) -> None:
    """Every writer refuses ``target`` with ``needle`` in the message and writes nothing."""
    before = _snapshot(root)
    with pytest.raises(InputError, match=needle):
        check_output_path(target, kwargs.get("inputs", ()),
                          input_files=kwargs.get("input_files", ()))
    for write, payload in ((write_json_atomic, {"a": 1}), (write_atomic, b"bytes"),
                           (write_npy_atomic, np.zeros((2, 2))),
                           (write_parquet_atomic, _table())):
        with pytest.raises(InputError, match=needle):
            write(target, payload, **kwargs)
    assert _snapshot(root) == before


def test_shard_of_an_input_directory(tmp_path, shards):
    d, files = shards
    # The shard itself, named as one of the files read.
    _refused(tmp_path, "refusing to overwrite an input file", files[0], inputs=(d,),
             input_files=files)
    # Without the file list it is still inside the input directory.
    _refused(tmp_path, "inside the input directory", files[2], inputs=(d,))
    # A new file inside the directory (or below) would be read back as a shard.
    _refused(tmp_path, "inside the input directory", d / "report.json", inputs=(d,))
    _refused(tmp_path, "inside the input directory", d / "sub" / "new.parquet", inputs=[str(d)])
    _refused(tmp_path, "inside the input directory", d / "sub" / ".." / "r.json", inputs=(d,))


def test_files_matching_an_input_glob(tmp_path, shards, monkeypatch):
    d, files = shards
    monkeypatch.chdir(tmp_path)
    pattern = "shards/*.parquet"
    matched = [str(f) for f in files[:2]]
    _refused(tmp_path, "refusing to overwrite an input file", files[1], inputs=(pattern,),
             input_files=matched)
    _refused(tmp_path, "refusing to overwrite an input file", "shards/part-0.parquet",
             inputs=(Path(pattern),), input_files=matched)
    # Not read yet, but the same glob would pick it up next time.
    _refused(tmp_path, "matches the input pattern", d / "part-9.parquet", inputs=(pattern,))
    _refused(tmp_path, "matches the input pattern", "shards/sub/x.parquet",
             inputs=("shards/**/*.parquet",))
    # Through a symlinked directory, either way round.
    (tmp_path / "link").symlink_to(d)
    _refused(tmp_path, "matches the input pattern", d / "part-7.parquet",
             inputs=("link/*.parquet",))
    _refused(tmp_path, "matches the input pattern", "link/part-7.parquet", inputs=(pattern,))
    # Outside the pattern: allowed.
    assert check_output_path(d / "report.json", (pattern,), input_files=matched) == (
        d / "report.json").resolve()
    assert check_output_path(d / ".hidden.parquet", (pattern,)) == (
        d / ".hidden.parquet").resolve()


def test_links_to_an_input_are_refused(tmp_path, shards):
    d, files = shards
    out = tmp_path / "out"
    out.mkdir()
    (out / "sym.parquet").symlink_to(files[0])
    os.link(files[1], out / "hard.parquet")
    _refused(tmp_path, "refusing to overwrite an input file", out / "sym.parquet",
             input_files=files)
    _refused(tmp_path, "refusing to overwrite an input file", out / "hard.parquet",
             inputs=(files[1],))


def test_directories_are_refused(tmp_path, shards):
    d, files = shards
    out = tmp_path / "out"
    out.mkdir()
    _refused(tmp_path, "is a directory; give a file name", out)
    _refused(tmp_path, "is a directory; give a file name", str(out) + os.sep)
    _refused(tmp_path, "is a directory; give a file name", str(tmp_path / "new") + os.sep)
    _refused(tmp_path, "is a directory; give a file name", str(tmp_path / "report.json") + "/")
    _refused(tmp_path, "does not exist", tmp_path / "nope" / "r.json")
    _refused(tmp_path, "empty output path", "")


def test_positional_inputs_stay_supported(tmp_path):
    src = tmp_path / "in.parquet"
    pq.write_table(_table(), src)
    with pytest.raises(InputError, match="refusing to overwrite"):
        check_output_path(src, (src,))
    assert check_output_path(tmp_path / "r.json", (src,)) == (tmp_path / "r.json").resolve()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
def test_written_file_mode_follows_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        out = write_json_atomic(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    assert json.loads(out.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_replacing_a_file_keeps_its_mode(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("old")
    out.chmod(0o640)
    write_json_atomic(out, {"new": True})
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert json.loads(out.read_text()) == {"new": True}


def test_failed_write_leaves_nothing(tmp_path):
    from infomin_cli.io.writers import atomic_file

    with pytest.raises(ValueError, match="object array"):
        write_npy_atomic(tmp_path / "z.npy", np.array([object()]))
    with pytest.raises(RuntimeError, match="half-way"), atomic_file(tmp_path / "r.json") as fh:
        fh.write(b"{")
        raise RuntimeError("half-way")
    assert list(tmp_path.iterdir()) == []
