"""Debiasing the shipped UCI Adult embeddings: sex removed, income kept, judged by independent
probes on held-out rows (the acceptance check of `infomin debias`).

    pip install -e '.[bench]'     # scikit-learn (the independent probes), concept-erasure
    python benchmarks/debias_adult.py [--quick] [--threads 1] [--seeds 10] [--beta 0.3,1,3]

Protocol: the 8,000 rows of sample_data are split (seeded, stratified by sex x income) into
train (70%) and test (30%). Each method is fitted on the train rows only and applied to the
test rows. Independent probes -- scikit-learn MLPClassifier (64 hidden units) fitted on the
cleaned train rows, two of them: standardised columns with early stopping, and per-column
normal scores trained to convergence -- report the test AUC for sex (lower is cleaner; 0.5 is
chance) and for income (higher is more useful); the stronger probe counts for both. Also
rho*(Z, sex) on the test rows (``rho_star``). The frontier: the best raw income score,
replaced within each sex group by its within-group quantile, is exactly independent of sex
(it uses sex at inference, which a representation may not); its income AUC is the most any
sex-free representation can keep. Writes results/debias_adult.json, the trade-off plot
results/debias_adult.png, and prints a table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _common as C
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _probe_auc(x_tr, y_tr, x_te, y_te, seed, probe: str = "standard") -> float:
    """Test AUC of :func:`_common.mlp_probe`. The acceptance takes the stronger of the two
    probes for both attributes (seen on this data: sex AUC 0.56 standard vs 0.67 quantile
    on the same output)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_te, C.mlp_probe(x_tr, y_tr, x_te, seed, probe)))


def _frontier_auc(x_tr, inc_tr, x_te, inc_te, sex_te, seed) -> float:
    """Income AUC of the best raw income score made independent of sex by within-group
    quantiles (the better of the two probes' scores)."""
    from sklearn.metrics import roc_auc_score

    return max(float(roc_auc_score(inc_te, C.group_quantile(
        C.mlp_probe(x_tr, inc_tr, x_te, seed, probe), sex_te))) for probe in C.PROBES)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=10, help="fits of the default settings")
    ap.add_argument("--beta", default="0.3,1,3", help="sweep of the default model (seed 0)")
    ap.add_argument("--seed", type=int, default=0, help="the split and the probes")
    ap.add_argument("--no-adversary", action="store_true", help="skip the L2=50 baseline fit")
    args = ap.parse_args()
    C.apply_threads(args.threads)
    import pyarrow.parquet as pq

    import infomin_cli as im
    from infomin_cli.debias.config import DebiasConfig
    from infomin_cli.debias.fit import debias
    from infomin_cli.debias.leace import leace_projection
    from infomin_cli.report.plot import TradeoffPoint, tradeoff_plot

    table = pq.read_table(ROOT / "sample_data" / "adult_embeddings.parquet")
    z = np.stack(table.column("embedding").to_numpy(zero_copy_only=False)).astype(np.float32)
    sex = (table.column("sex").to_numpy(zero_copy_only=False) == "Male").astype(int)
    inc = (table.column("income").to_numpy(zero_copy_only=False) == ">50K").astype(int)
    rng = np.random.default_rng(args.seed)
    tr = np.zeros(len(z), dtype=bool)
    for g in range(4):  # stratified by sex x income
        idx = np.flatnonzero(sex * 2 + inc == g)
        tr[rng.choice(idx, size=int(round(0.7 * len(idx))), replace=False)] = True
    te = ~tr
    if args.quick:
        tr[np.flatnonzero(tr)[2000:]] = False
    A_sex = im.Attribute.categorical("sex", sex[tr])
    A_inc = im.Attribute.categorical("income", inc[tr])
    rows = []

    def record(name, f, seconds, extra=None):
        zt, ze = f(z[tr]), f(z[te])
        sex_te = im.Attribute.categorical("sex", sex[te])
        probes = {f"{y}_auc_{p}": _probe_auc(zt, v[tr], ze, v[te], args.seed, p)
                  for y, v in (("sex", sex), ("income", inc)) for p in C.PROBES}
        rows.append({"method": name,
                     "sex_auc": max(probes[f"sex_auc_{p}"] for p in C.PROBES),
                     "income_auc": max(probes[f"income_auc_{p}"] for p in C.PROBES),
                     **probes,
                     "rho_sex": im.rho_star(ze, sex_te, im.RhoConfig(bootstrap=0, permutations=0),
                                            seed=args.seed, device="cpu").value,
                     "linear_sex": im.linear_dependence(
                         ze, sex_te, im.LinearConfig(permutations=0, bootstrap=0)).value,
                     "fit_s": seconds, **(extra or {})})
        r = rows[-1]
        print(f"  {name:34s} sex AUC {r['sex_auc']:.3f} (standard {r['sex_auc_standard']:.3f})"
              f"  income AUC {r['income_auc']:.3f} (standard {r['income_auc_standard']:.3f})"
              f"  rho*(sex) {r['rho_sex']:.3f}  linear(sex) {r['linear_sex']:.3f}"
              f"  {seconds:.1f} s", flush=True)

    def fit(name, cfg, seed, extra):
        t0 = time.perf_counter()
        proj, hist = debias(z[tr], [A_sex], [A_inc], cfg, seed=seed, device="cpu")
        record(name, proj, time.perf_counter() - t0,
               {**extra, "seed": seed, "dim": proj.dim_out, "steps": hist.steps,
                "max_step_s": float(np.median(hist.max_step_seconds))})

    budget = {"max_steps": 100} if args.quick else {}
    record("no change", lambda x: x, 0.0)
    t0 = time.perf_counter()
    leace = leace_projection(z[tr], [A_sex])
    record("LEACE", leace, time.perf_counter() - t0)
    for seed in range(args.seeds):  # the acceptance: default settings, several seeds
        fit(f"slice, defaults, seed {seed}", DebiasConfig(**budget), seed,
            {"group": "defaults", "beta": DebiasConfig().beta})
    for beta in (float(b) for b in args.beta.split(",")):
        fit(f"slice, beta={beta:g}", DebiasConfig(beta=beta, **budget), 0,
            {"group": "sweep", "beta": beta})
    fit("slice, d -> d (dim 32)", DebiasConfig(dim=z.shape[1], **budget), 0,
        {"group": "full-dim", "beta": DebiasConfig().beta})
    if not args.no_adversary:
        fit("adversary L2=50", DebiasConfig(penalty="adversarial", l2_steps=50, **budget), 0,
            {"group": "adversary", "beta": DebiasConfig().beta})
    frontier = _frontier_auc(z[tr], inc[tr], z[te], inc[te], sex[te], args.seed)
    print(f"  frontier income AUC (sex-independent by construction): {frontier:.3f}")
    defaults = [r for r in rows if r.get("group") == "defaults"]
    passing = [r["sex_auc"] <= 0.60 and r["income_auc"] >= frontier - 0.015 for r in defaults]
    summary = {
        "sex_auc_median": float(np.median([r["sex_auc"] for r in defaults])),
        "sex_auc_max": float(max(r["sex_auc"] for r in defaults)),
        "income_auc_median": float(np.median([r["income_auc"] for r in defaults])),
        "income_auc_min": float(min(r["income_auc"] for r in defaults)),
        "seeds_passing": int(sum(passing)), "seeds": len(defaults),
        "pass_all_seeds": all(passing)}
    print(f"  defaults over {len(defaults)} seeds: sex AUC median {summary['sex_auc_median']:.3f}"
          f" (max {summary['sex_auc_max']:.3f}), income AUC median "
          f"{summary['income_auc_median']:.3f} (min {summary['income_auc_min']:.3f}); "
          f"acceptance met by {summary['seeds_passing']} of {len(defaults)} seeds")
    name = "debias_adult_quick" if args.quick else "debias_adult"
    points = []
    for r in rows:
        group = r.get("group")
        series = {"defaults": "slice, defaults (seeds)", "sweep": "slice, beta sweep"}.get(
            group, r["method"])
        label = f"β={r['beta']:g}" if group == "sweep" else ""
        points.append(TradeoffPoint(series, label, r["sex_auc"], r["income_auc"]))
    tradeoff_plot(C.RESULTS / f"{name}.png", points, xlabel="sex probe AUC (MLP, test rows) ↓",
                  ylabel="income probe AUC (MLP, test rows) ↑",
                  title="Adult sample: sex removed, income kept",
                  references={"frontier (sex-independent income score)": frontier,
                              "frontier - 0.015": frontier - 0.015},
                  xreferences={"sex AUC 0.60": 0.60},
                  scatter=frozenset({"slice, defaults (seeds)"}))
    C.write_json(name, {"machine": C.machine_info(), "threads": args.threads, "seed": args.seed,
                        "n_train": int(tr.sum()), "n_test": int(te.sum()),
                        "frontier_income_auc": frontier, "defaults": summary, "rows": rows})


if __name__ == "__main__":
    main()
