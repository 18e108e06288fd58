"""The library takes users' arrays, lists, tensors, pandas Series / DataFrames, Arrow tables and
dicts of them as it takes ``Attribute`` objects and numpy arrays (same numbers, same kinds as
the command line), its results have ``to_dict`` / ``to_frame``, and ``Debiaser`` is
``im.debias`` as a scikit-learn-style fit / transform estimator."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import infomin_cli as im
from infomin_cli.debias.debiaser import NotFittedError
from infomin_cli.inputs import as_attribute, as_attributes, as_embeddings

N = 400
SLICED = im.SlicedConfig(slices=8, permutations=99, bootstrap=20)
LINEAR = im.LinearConfig(permutations=99, bootstrap=20)
TINY_FIT = im.DebiasConfig(max_steps=10, slices=10, hidden=16, solve_rows=200)


@pytest.fixture(scope="module")
def data():
    """Embeddings that leak a binary label ``sex`` and a continuous ``age``."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((N, 5))
    sex = np.where(z[:, 0] + rng.standard_normal(N) > 0, "female", "male")
    age = np.round(40 + 10 * z[:, 1] + 5 * rng.standard_normal(N), 1)
    grade = rng.integers(0, 4, N)  # 4 int values: categorical by the CLI's rules
    return z, sex, age, grade


def _same(a, b) -> None:
    """Bit-identical estimates."""
    assert (a.value, a.p_value, a.ci, a.n_eval) == (b.value, b.p_value, b.ci, b.n_eval)


@pytest.mark.parametrize("estimate, config", [(im.sliced_dependence, SLICED),
                                              (im.linear_dependence, LINEAR)])
def test_plain_labels_give_the_attribute_wrapped_result(data, estimate, config):
    z, sex, _, _ = data
    ref = estimate(z, im.Attribute.categorical("sex", sex), config, seed=3)
    for attr in (sex, list(sex), pd.Series(sex, name="sex"), {"sex": sex},
                 pd.DataFrame({"sex": sex}), pa.array(sex)):
        _same(estimate(z, attr, config, seed=3), ref)
    for emb in (z.tolist(), torch.from_numpy(z), pd.DataFrame(z), pa.table(pd.DataFrame(z))):
        _same(estimate(emb, sex, config, seed=3), ref)


def test_continuous_and_multidim_values_give_the_attribute_wrapped_result(data):
    z, _, age, _ = data
    ref = im.sliced_dependence(z, im.Attribute.continuous("age", age), SLICED, seed=1)
    _same(im.sliced_dependence(z, pd.Series(age, name="age"), SLICED, seed=1), ref)
    two = np.stack([age, z[:, 2]], axis=1)
    ref2 = im.linear_dependence(z, im.Attribute.continuous("t", two), LINEAR, seed=1)
    assert as_attribute(two).kind == "multidim"
    _same(im.linear_dependence(z, two, LINEAR, seed=1), ref2)
    _same(im.linear_dependence(z, torch.from_numpy(two), LINEAR, seed=1), ref2)


def test_rho_star_takes_labels(data):
    z, sex, _, _ = data
    cfg = im.RhoConfig(max_epochs=2, min_epoch_steps=5, permutations=0, bootstrap=0, trees=False)
    ref = im.rho_star(z, im.Attribute.categorical("sex", sex), cfg, seed=0)
    got = im.rho_star(pd.DataFrame(z), pd.Series(sex), cfg, seed=0)
    assert (got.value, got.corr, got.n_test) == (ref.value, ref.corr, ref.n_test)


def _audit(z, attrs, **kw):
    cfg = im.AuditConfig(estimators=("sliced", "linear"),
                         configs={"sliced": SLICED, "linear": LINEAR}, seed=2)
    return im.audit_arrays(z, attrs, cfg, im.Policy(alpha=0.05), **kw)


def test_audit_of_a_dataframe_and_a_dict_equals_the_numpy_audit(data):
    z, sex, age, grade = data
    df = pd.DataFrame(z, columns=[f"e{i}" for i in range(z.shape[1])])
    ref = _audit(df.to_numpy(), [im.Attribute.categorical("sex", sex),
                                 im.Attribute.continuous("age", age),
                                 im.Attribute.categorical("grade", grade)])
    got = _audit(df, {"sex": sex, "age": list(age), "grade": pd.Series(grade)})
    assert got.to_dict() == ref.to_dict()
    frame = _audit(df, pd.DataFrame({"sex": sex, "age": age, "grade": grade}))
    assert frame.to_dict() == ref.to_dict()
    assert ref.attributes["grade"].kind == "categorical"


def test_kinds_are_inferred_as_the_command_line_infers_them(tmp_path, data):
    z, sex, age, grade = data
    rng = np.random.default_rng(5)
    cols = {"sex": sex, "age": age, "grade": grade, "income": rng.integers(0, 100, N),
            "smoker": rng.random(N) > 0.5, "score": rng.integers(0, 2, N).astype(float),
            "region": rng.choice(list("abcdef"), N)}
    df = pd.DataFrame(cols)
    table = pa.Table.from_pandas(df, preserve_index=False).append_column(
        "emb", pa.FixedSizeListArray.from_arrays(pa.array(z.reshape(-1)), z.shape[1]))
    path = tmp_path / "emb.parquet"
    pq.write_table(table, path)
    cli = im.open_dataset(path, list(cols)).attributes
    for lib in (as_attributes(df, N), as_attributes(cols, N),
                as_attributes([df[c] for c in cols], N)):
        assert [a.name for a in lib] == list(cols)
        for a in lib:
            b = cli[a.name]
            assert (a.kind, a.classes) == (b.kind, b.classes), a.name
            np.testing.assert_array_equal(a.values, b.values)
    assert {a.name: a.kind for a in as_attributes(df)} == {
        "sex": "binary", "age": "continuous", "grade": "categorical", "income": "continuous",
        "smoker": "binary", "score": "binary", "region": "categorical"}


def test_kinds_override_by_name_and_bad_overrides_are_named(data):
    _, sex, age, grade = data
    (g,) = as_attributes({"grade": grade}, N, kinds={"grade": "continuous"})
    assert g.kind == "continuous" and g.values.dtype == np.float64
    assert as_attribute(grade, N, kind="continuous").kind == "continuous"
    with pytest.raises(im.InputError, match="'grade'.*unknown kind"):
        as_attributes({"grade": grade}, kinds={"grade": "ordinal"})
    with pytest.raises(im.InputError, match="kinds\\['gender'\\]: no attribute"):
        as_attributes({"sex": sex}, kinds={"gender": "binary"})
    with pytest.raises(im.InputError, match="'age'.*kind 'continuous'"):
        as_attributes([im.Attribute.continuous("age", age)], kinds={"age": "categorical"})


def test_default_names(data):
    z, sex, age, _ = data
    assert [a.name for a in as_attributes(sex)] == ["attribute"]
    assert [a.name for a in as_attributes([sex, age])] == ["attr0", "attr1"]
    assert [a.name for a in as_attributes([pd.Series(sex, name="sex"), age])] == ["sex", "attr1"]
    named = as_attributes({"s": im.Attribute.categorical("other", sex)})
    assert named[0].name == "s"  # the dict key names it, as audit_arrays always did


def test_missing_values_and_mismatched_lengths_are_named(data):
    z, sex, age, _ = data
    holes = age.copy()
    holes[[3, 7]] = np.nan
    with pytest.raises(im.InputError, match="'age': 2 of 400 rows have a missing value"):
        im.sliced_dependence(z, pd.Series(holes, name="age"), SLICED)
    labels = list(sex)
    labels[5] = None
    with pytest.raises(im.InputError, match="'sex': 1 of 400 .*first at row 5"):
        _audit(z, {"sex": labels})
    with pytest.raises(im.InputError, match="'sex': 1 of 400"):
        _audit(z, pd.DataFrame({"sex": pd.array(labels, dtype="string")}))
    with pytest.raises(im.InputError, match="'sex' has 399 rows, embeddings 400"):
        _audit(z, {"sex": sex[:-1]})
    with pytest.raises(im.InputError, match="has 2 rows, .*a list of lists is the rows of one"):
        _audit(z, [list(age), list(z[:, 2])])
    with pytest.raises(im.InputError, match="'target' has 10 rows"):
        im.debias(z, sex, age[:10], TINY_FIT)


def test_bad_embeddings_are_named(data):
    z, sex, _, _ = data
    bad = z.copy()
    bad[9, 1] = np.inf
    cases = [(bad, "1 row with NaN or infinite values \\(first at row 9\\)"),
             (z[:, 0], "2-D array .* shape \\(400,\\)"),
             ([[1.0, 2.0], [3.0]], "cannot read as a 2-D array"),
             (pd.DataFrame({"a": z[:, 0], "b": sex}), "column 'b' has dtype"),
             (pd.DataFrame({"a": pd.array([1.0, None] * 200, dtype="Float64")}), "NaN"),
             (np.zeros((0, 3)), "no rows")]
    for emb, message in cases:
        with pytest.raises(im.InputError, match=message):
            as_embeddings(emb)
    with pytest.raises(ValueError, match="NaN"):  # through an estimator, as before
        im.rho_star(bad, sex)


def test_embeddings_of_every_container_are_the_same_matrix(data):
    z, _, _, _ = data
    assert as_embeddings(z) is z
    lists = pd.DataFrame({"emb": list(z)})  # one column of arrays
    for emb in (z.tolist(), torch.from_numpy(z), pd.DataFrame(z), lists,
                pa.table({"emb": pa.array(z.tolist())}), pa.array(z.tolist())):
        np.testing.assert_array_equal(as_embeddings(emb), z)
    half = torch.from_numpy(z).to(torch.bfloat16)
    np.testing.assert_array_equal(as_embeddings(half), half.float().numpy())


def test_results_to_dict_are_json_and_to_frame_has_a_row_per_attribute_and_estimator(data):
    z, sex, age, _ = data
    res = _audit(z, {"sex": sex, "age": age})
    d = res.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["attributes"]["sex"] == im.build_report(res, input_info={})["attributes"]["sex"]
    frame = res.to_frame()
    assert len(frame) == 2 * 2 and list(frame["attribute"]) == ["sex", "sex", "age", "age"]
    for row in frame.itertuples():
        est = res.attributes[row.attribute].estimates[row.estimator]
        assert (row.value, row.p_value, row.null_q95) == (est.value, est.p_value, est.null_q95)
        assert (row.ci_low, row.ci_high) == est.ci
        assert row.verdict == res.attributes[row.attribute].verdict
        (test,) = [t for t in res.attributes[row.attribute].tests
                   if row.estimator in t.estimators]
        assert row.p_adjusted == test.p_adjusted
    one = res.attributes["age"]
    assert one.to_dict()["name"] == "age" and len(one.to_frame()) == 2
    for est in one.estimates.values():
        assert json.loads(json.dumps(est.to_dict(), allow_nan=False)) == est.to_dict()
        row = est.to_frame().iloc[0]
        assert (row["value"], row["ci_low"], row["n_eval"]) == (est.value, est.ci[0], est.n_eval)


def test_to_frame_without_pandas_says_so(data, monkeypatch):
    z, sex, _, _ = data
    res = im.linear_dependence(z, sex, LINEAR)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError, match="to_frame\\(\\) needs pandas"):
        res.to_frame()
    assert res.to_dict()["value"] == res.value


def test_import_infomin_imports_neither_pandas_nor_torch():
    code = ("import sys, infomin as im; im.Debiaser(beta=1.0); im.Attribute; "
            "print([m for m in ('pandas', 'torch', 'sklearn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_debiaser_fits_what_debias_fits(data):
    z, sex, age, _ = data
    proj, hist = im.debias(z, [im.Attribute.categorical("sex", sex)],
                           [im.Attribute.continuous("target", age)], TINY_FIT, seed=4)
    est = im.Debiaser(config=TINY_FIT, seed=4)
    out = est.fit(pd.DataFrame(z), {"sex": sex}, age).transform(z)
    assert np.array_equal(out, proj(z))
    assert est.history_.steps == hist.steps and est.n_features_in_ == z.shape[1]
    assert (est.attributes_, est.targets_) == (["sex"], ["target"])
    assert est.projection_.metadata["attributes"] == proj.metadata["attributes"]
    assert np.array_equal(im.Debiaser(config=TINY_FIT, seed=4).fit_transform(z, sex, age), out)
    # parameters override the config: beta and dim reach the fit
    other = im.Debiaser(beta=2.0, dim=1, config=TINY_FIT, seed=4).fit(z, sex, age)
    assert other.config_.beta == 2.0 and other.transform(z).shape == (N, 1)
    with pytest.raises(ValueError, match="3 columns, but the Debiaser was fitted on 5"):
        est.transform(z[:, :3])


def test_debiaser_follows_the_scikit_learn_parameter_protocol():
    from sklearn.base import clone

    est = im.Debiaser("slice", beta=1.0, dim=2, config=TINY_FIT, kinds={"age": "continuous"})
    params = est.get_params()
    assert set(params) == {"method", "beta", "dim", "model", "max_steps", "config", "seed",
                           "device", "kinds"}
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    assert est.set_params(beta=3.0, seed=7) is est
    assert (est.beta, est.seed) == (3.0, 7) and est.get_params()["beta"] == 3.0
    est.set_params(**params)
    assert est.get_params() == params
    with pytest.raises(ValueError, match="invalid parameter 'alpha'"):
        est.set_params(alpha=1)
    assert repr(im.Debiaser(beta=1.0)) == "Debiaser(beta=1.0)"
    im.Debiaser(model="cnn")  # no validation in __init__: fit checks
    with pytest.raises(NotFittedError, match="not fitted") as exc:
        est.transform(np.zeros((3, 5)))
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, AttributeError)
    with pytest.raises(ValueError, match="model must be linear or mlp"):
        im.Debiaser(model="cnn").fit(np.zeros((200, 2)), np.arange(200) % 2)


@pytest.mark.slow
def test_run_debias_takes_labels_and_reports_as_records(data):
    z, sex, age, _ = data
    run = im.run_debias(pd.DataFrame(z), {"sex": sex}, pd.Series(age, name="age"), TINY_FIT,
                        seed=0, device="cpu")
    assert (run.attributes, run.targets) == (["sex"], ["age"])
    d = run.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d and "projection" not in d
    assert d["after"] == run.after and d["held_out"] == run.held_out_summary()
    frame = run.to_frame()
    assert len(frame) == 2 * len(run.before["sex"])
    for row in frame.itertuples():
        assert (row.before, row.after) == (run.before[row.column][row.measure],
                                           run.after[row.column][row.measure])
    assert list(frame["role"].unique()) == ["attribute", "target"]
