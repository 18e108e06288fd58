"""The library's public surface and its layering: what users import, and what may import what."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import infomin_cli as im
from infomin_cli.stats.features import AttributeEncoder

PKG = Path(im.__file__).resolve().parent


def test_import_infomin_is_the_same_library():
    import infomin

    assert infomin.__all__ == im.__all__ and infomin.__version__ == im.__version__
    assert infomin.rho_star is im.rho_star and infomin.Projection is im.Projection


def test_all_holds_what_users_call_not_internals():
    for name in ("audit_arrays", "debias", "Projection", "sweep_beta", "run_checks",
                 "NotEstimable", "REGISTRY", "DebiasConfig", "AuditResult"):
        assert name in im.__all__, name
    for name in ("Standardizer", "LinearAccumulator", "SlicedAccumulator", "SliceFeaturizer",
                 "AttributeEncoder"):
        assert name not in im.__all__, name


def test_all_is_importable_and_complete():
    for name in im.__all__:
        assert hasattr(im, name), name
    for name in ("sliced_dependence", "linear_dependence", "rho_star", "run_audit",
                 "SlicedConfig", "LinearConfig", "RhoConfig", "Policy", "InMemorySource"):
        assert name in im.__all__


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


@pytest.mark.parametrize("layer", ["stats", "estimators", "pipeline", "io", "report"])
def test_library_layers_know_nothing_of_the_cli(layer):
    for path in (PKG / layer).glob("*.py"):
        imports = _imports(path)
        assert not any(m == "typer" or m.startswith(("typer.", "infomin_cli.cli"))
                       for m in imports), path
        text = path.read_text()
        assert "exit_code" not in text and "sys.exit" not in text, path


def test_estimators_do_not_import_each_other_or_raise_input_error():
    names = ("sliced", "linear", "rho")
    for name in names:
        imports = _imports(PKG / "estimators" / f"{name}.py")
        for other in names:
            if other != name:
                assert not any(m.startswith(f"infomin_cli.estimators.{other}") for m in imports)
        assert "infomin_cli.errors.InputError" not in imports


def test_stats_core_does_not_import_estimators():
    for path in (PKG / "stats").glob("*.py"):
        assert not any(m.startswith(("infomin_cli.estimators", "infomin_cli.pipeline"))
                       for m in _imports(path)), path


# Layers in import order: a module imports its own layer and earlier ones only. io and stats
# share the foundation (the sources draw their rows through stats.sampling).
LAYERS = {"_version": 0, "errors": 0, "attributes": 0, "records": 0, "io": 1, "inputs": 1, "stats": 1, "estimators": 2,
          "pipeline": 3, "engine": 3, "debias": 3, "report": 4, "cli": 5}


def _module_name(path: Path) -> str:
    parts = ("infomin_cli", *path.relative_to(PKG).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _import_statements(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import in the file, in functions and ``TYPE_CHECKING``
    blocks too; relative imports resolved (``names`` empty for ``import x``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.append((module, [a.name for a in node.names]))
    return out


def _import_graph() -> dict[str, set[str]]:
    """``{module: modules of infomin_cli it imports}``: ``from pkg import name`` counts as an
    import of ``pkg.name`` when that is a module, else of ``pkg``."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for module, names in _import_statements(name, path):
            targets = {f"{module}.{n}" for n in names if f"{module}.{n}" in modules}
            if len(targets) < len(names) or not names:
                targets.add(module)
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_modules():
    graph = _import_graph()
    assert "infomin_cli.pipeline.audit" in graph and graph["infomin_cli.cli.app"]
    # the root imports everything; imports of the root are the next test's business
    graph = {m: ts - {"infomin_cli"} for m, ts in graph.items() if m != "infomin_cli"}
    assert _cycles(graph) == []


def test_no_submodule_imports_the_package_root():
    bad = []
    for name, path in _modules().items():
        if name == "infomin_cli":
            continue
        for module, _ in _import_statements(name, path):
            if module == "infomin_cli":
                bad.append(name)
    assert bad == [], f"import from infomin_cli._version (or the module itself): {bad}"


def test_no_module_imports_a_later_layer():
    bad = []
    for name, targets in _import_graph().items():
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in LAYERS:
            continue
        for t in targets:
            tparts = t.split(".")
            if len(tparts) >= 2 and LAYERS.get(tparts[1], -1) > LAYERS[parts[1]]:
                bad.append(f"{name} -> {t}")
    assert sorted(bad) == [], bad


def test_results_share_the_compared_fields():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 4))
    t = im.Attribute.continuous("t", z[:, 0] + rng.standard_normal(400))
    results = [
        im.sliced_dependence(z, t, im.SlicedConfig(slices=8, permutations=99, bootstrap=20)),
        im.linear_dependence(z, t, im.LinearConfig(permutations=99, bootstrap=20)),
    ]
    for r in results:
        assert isinstance(r, im.Estimate)
        for field in ("value", "ci", "p_value", "null_q95", "n_eval", "corr"):
            assert hasattr(r, field)
        assert 0 < r.p_value <= 1 and r.n_eval > 0


def test_one_seed_one_calibration_sample_library_and_audit():
    """``sliced_dependence`` and the audit draw the same calibration rows for one seed, so a
    subsampled standardiser gives the same SI either way."""
    rng = np.random.default_rng(1)
    n = 3000
    z = rng.standard_normal((n, 5)) * np.array([1, 2, 3, 4, 50.0])
    z[:, 4] += 1e3
    t = im.Attribute.continuous("t", z[:, 0] ** 2 + rng.standard_normal(n))
    cfg = im.SlicedConfig(slices=10, permutations=99, bootstrap=0, calibration_rows=400)
    lib = im.sliced_dependence(z, t, cfg, seed=7)
    audit = im.run_audit(
        im.InMemorySource(z, {"t": t}),
        im.AuditConfig(estimators=("sliced",), configs={"sliced": cfg}, seed=7,
                       calibration_rows=400),
        im.Policy(alpha=0),
    ).attributes["t"].estimates["sliced"]
    assert audit.value == pytest.approx(lib.value, abs=1e-6)  # float32 vs float64 input only
    assert audit.p_value == lib.p_value


def test_slice_features_are_differentiable_and_match_the_fit():
    """The featurisers carry gradients (for a debias loss) and reproduce the audit's p."""
    rng = np.random.default_rng(2)
    z = rng.standard_normal((600, 6))
    attr = im.Attribute.categorical("c", (z[:, 1] > 0).astype(int))
    r = im.sliced_dependence(z, attr, im.SlicedConfig(slices=12, permutations=0, bootstrap=0))
    x = torch.as_tensor(r.fit.standardizer.transform(z), dtype=torch.float64).requires_grad_()
    p = r.fit.project_z(x)
    p.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # central difference on one entry
    eps = 1e-6
    xp, xm = x.detach().clone(), x.detach().clone()
    xp[0, 1] += eps
    xm[0, 1] -= eps
    fd = (r.fit.project_z(xp).sum() - r.fit.project_z(xm).sum()) / (2 * eps)
    assert float(x.grad[0, 1]) == pytest.approx(float(fd), rel=1e-5, abs=1e-8)


def test_attribute_encoder_one_hot_is_exact_and_shared():
    a = im.Attribute.categorical("c", np.array(["x", "y", "z", "x"]))
    enc = AttributeEncoder.for_linear(a, seed=0)
    assert enc.blocks == (1, 2)
    np.testing.assert_array_equal(enc(a.values).numpy(), [[1, 0], [0, 1], [0, 0], [1, 0]])
    assert AttributeEncoder.for_sliced(a, 10, 3, 0).width == 2  # discrete T is not sliced


def test_audit_settings_validate_in_one_place():
    config, policy = im.audit_settings({"permutations": 400, "seed": 3, "fail_above": ["rho=0.3"]})
    assert config.seed == 3
    assert config.of("sliced").permutations == config.of("linear").permutations == 400
    assert policy.fail_above == {"rho": im.pipeline.policy.Threshold(0.3, "lower")}
    with pytest.raises(im.SettingError, match="did you mean 'permutations'") as e:
        im.audit_settings({"permutation": 10})
    assert e.value.key == "permutation"
    with pytest.raises(im.SettingError) as e:
        im.audit_settings({"permutations": 250})  # 1/251 > 0.01/3: no attribute could fail
    assert e.value.key == "permutations" and "could ever fail" in e.value.problem
    auto, _ = im.audit_settings({}, attributes=5)  # 15 tests: 1/(B+1) <= 0.01/15 / 2
    assert auto.of("sliced").permutations == auto.of("rho").permutations == 3000
    with pytest.raises(im.SettingError) as e:
        im.audit_settings({"estimators": "sliced", "fail_above": {"rho": 0.2}})
    assert e.value.key == "fail_above"
    assert policy.rules(config.estimators) == [
        "fail when a Holm-adjusted p (SI, linear, rho*; all attributes one family) <= 0.01",
        "fail when rho* lower 95% bound > 0.3"]


def test_in_memory_source_checks_shapes():
    with pytest.raises(ValueError, match="2-D"):
        im.InMemorySource(np.zeros(5), {})
    with pytest.raises(ValueError, match="rows"):
        im.InMemorySource(np.zeros((5, 2)), {"a": im.Attribute.continuous("a", np.zeros(4))})


def test_writers_are_atomic_keep_columns_and_refuse_inputs(tmp_path):
    from infomin_cli.io import with_embedding, write_npy_atomic, write_parquet_atomic

    src = tmp_path / "in.parquet"
    emb = np.arange(12, dtype=np.float32).reshape(4, 3)
    table = pa.table({"id": [1, 2, 3, 4], "emb": pa.FixedSizeListArray.from_arrays(
        pa.array(emb.reshape(-1)), 3), "g": ["a", "b", "a", "b"]})
    pq.write_table(table, src)
    new = emb[:, :2] * 2
    out = tmp_path / "out.parquet"
    write_parquet_atomic(out, with_embedding(pq.read_table(src), new, "emb"), inputs=(src,))
    back = pq.read_table(out)
    assert back.column_names == ["id", "emb", "g"]
    np.testing.assert_array_equal(np.stack(back.column("emb").to_pylist()), new)
    beside = with_embedding(table, new, "emb", out_col="emb_clean")
    assert beside.column_names == ["id", "emb", "g", "emb_clean"]
    with pytest.raises(im.InputError, match="overwrite"):
        write_parquet_atomic(src, table, inputs=(src,))
    assert pq.read_table(src).equals(table)
    npy = tmp_path / "e.npy"
    write_npy_atomic(npy, new)
    np.testing.assert_array_equal(np.load(npy, allow_pickle=False), new)
    with pytest.raises(ValueError):
        write_npy_atomic(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.npy", "in.parquet", "out.parquet"]


def test_failed_write_leaves_no_file(tmp_path):
    from infomin_cli.io.writers import atomic_file

    target = tmp_path / "r.json"
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write(b"{partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_report_of_an_in_memory_audit_is_json():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((500, 3))
    res = im.audit_arrays(z, [im.Attribute.categorical("g", (z[:, 0] > 0).astype(int))],
                          im.AuditConfig(estimators=("linear",)), im.Policy(alpha=0.05))
    rep = im.build_report(res, input_info={"path": "<memory>"})
    assert json.loads(json.dumps(rep))["attributes"]["g"]["verdict"] == "fail"


def test_modules_import_standalone():
    for mod in ("infomin_cli.stats.cca", "infomin_cli.estimators.rho", "infomin_cli.io.writers",
                "infomin_cli.pipeline.config", "infomin_cli.report.build"):
        importlib.import_module(mod)


@pytest.mark.slow
def test_readme_library_example_runs(monkeypatch, tmp_path):
    """README's library section is code users copy: it must run as written (in a scratch
    folder that sees the shipped samples, so what it saves stays out of the repository)."""
    import re

    root = PKG.parent
    text = (root / "README.md").read_text()
    block = re.search(r"## Library use.*?```python\n(.*?)```", text, re.S)
    assert block, "README.md has no python block under 'Library use'"
    (tmp_path / "sample_data").symlink_to(root / "sample_data")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"print": lambda *a, **k: None}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    assert namespace["result"].verdict == "fail"  # the shipped sample leaks sex
    saved = im.Projection.load(tmp_path / "proj.safetensors")
    assert np.array_equal(saved(namespace["Z"]), namespace["clean"])
