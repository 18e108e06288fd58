"""rho*'s two read-outs: what each reads of debiased outputs against four stock probes, and what
the default audit (with rho*) costs against the SI + linear audit, in the same run.

    python benchmarks/rho_readouts.py [--quick] [--threads 2] [--repeats 3] [--no-adversary]

Part 1, cost: ``run_audit`` with the default estimators vs ``estimators=sliced,linear`` on
(a) the shipped sample (8,000 x 32; sex, race, age) and (b) 100,000 x 768 float32,
``Z ~ N(0, I)`` with a binary attribute ``1[1.5 z0 + (z1^2 - 1) + 2 e > 0]`` (as rho_time.py);
medians over ``--repeats`` of the times and of the per-repeat ratio.

Part 2, accuracy: the sample split 70/30 (seeded, stratified by sex x income, as
debias_adult.py); projections fitted on the train rows to drop sex and keep income (the slice
remover with its defaults on 3 seeds and at beta = 3, a Renyi adversary with L2 = 50 steps,
LEACE, and no change). On each output: rho*(sex) of the whole output (what ``infomin audit``
of it reads) with its network and tree read-outs, and four stock probes fitted on the cleaned
train rows and scored on the test rows (logistic regression, two scikit-learn MLPs, and
HistGradientBoosting; tests/probes.py), as the correlation of the class-1 probability with
sex. Writes results/rho_readouts.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

import _common as C  # noqa: E402


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def audit_cost(name, z, attrs, repeats: int) -> dict:
    import infomin_cli as im

    runs = []
    for _ in range(repeats):
        full = _timed(lambda: im.audit_arrays(z, attrs, *im.audit_settings(
            {"seed": 0}, attributes=len(attrs))))
        base = _timed(lambda: im.audit_arrays(z, attrs, *im.audit_settings(
            {"seed": 0, "estimators": "sliced,linear"}, attributes=len(attrs))))
        runs.append({"default_s": full, "sliced_linear_s": base, "ratio": full / base})
        print(f"  {name}: default {full:.1f} s, sliced,linear {base:.1f} s, "
              f"ratio {full / base:.1f}", flush=True)
    return {"data": name, "runs": runs,
            **{f"median_{k}": C.median([r[k] for r in runs])
               for k in ("default_s", "sliced_linear_s", "ratio")}}


def sample():
    import numpy as np
    import pyarrow.parquet as pq

    import infomin_cli as im

    table = pq.read_table(ROOT / "sample_data" / "adult_embeddings.parquet")
    z = np.stack(table.column("embedding").to_numpy(zero_copy_only=False)).astype(np.float32)
    col = {k: table.column(k).to_numpy(zero_copy_only=False) for k in ("sex", "race", "age",
                                                                       "income")}
    attrs = [im.Attribute.categorical("sex", col["sex"]),
             im.Attribute.categorical("race", col["race"]),
             im.Attribute.continuous("age", col["age"].astype(float))]
    return z, attrs, col


def readouts(z, col, args) -> list[dict]:
    import numpy as np
    from probes import PROBES, probe_corr

    import infomin_cli as im
    from infomin_cli.debias.config import DebiasConfig
    from infomin_cli.debias.fit import debias
    from infomin_cli.debias.leace import leace_projection

    sex = (col["sex"] == "Male").astype(int)
    inc = (col["income"] == ">50K").astype(int)
    rng = np.random.default_rng(0)
    tr = np.zeros(len(z), dtype=bool)
    for g in range(4):  # stratified by sex x income (debias_adult.py's split)
        idx = np.flatnonzero(sex * 2 + inc == g)
        tr[rng.choice(idx, size=int(round(0.7 * len(idx))), replace=False)] = True
    te = ~tr
    a_sex, a_inc = im.Attribute.categorical("sex", sex[tr]), im.Attribute.categorical(
        "income", inc[tr])
    budget = {"max_steps": 100} if args.quick else {}
    fits = [("no change", None), ("LEACE", "leace")]
    fits += [(f"slice, defaults, seed {s}", (DebiasConfig(**budget), s)) for s in range(3)]
    fits += [("slice, beta=3", (DebiasConfig(beta=3.0, **budget), 0))]
    if not args.no_adversary:
        fits += [("adversary L2=50", (DebiasConfig(penalty="adversarial", l2_steps=50,
                                                   **budget), 0))]
    rows = []
    for name, how in fits:
        if how is None:
            f = lambda x: x  # noqa: E731
        elif how == "leace":
            f = leace_projection(z[tr], [a_sex])
        else:
            f, _ = debias(z[tr], [a_sex], [a_inc], how[0], seed=how[1], device="cpu")
        out = np.asarray(f(z), dtype=np.float32)
        probes = {p: probe_corr(out[tr], sex[tr], out[te], sex[te], p, discrete=True)
                  for p in PROBES}
        t0 = time.perf_counter()
        r = im.rho_star(out, im.Attribute.categorical("sex", sex),
                        im.RhoConfig(bootstrap=0, permutations=0), seed=0)
        rho_s = time.perf_counter() - t0
        best = max(probes, key=probes.get)
        rows.append({"output": name, "dim": int(out.shape[1]), "rho": r.value,
                     "rho_neural": r.neural, "rho_trees": r.trees, "readout": r.readout,
                     "rho_s": rho_s, "tree_iterations": r.tree_iterations,
                     **{f"probe_{p}": v for p, v in probes.items()},
                     "strongest_probe": best, "strongest_corr": probes[best],
                     "rho_minus_strongest": r.value - probes[best]})
        print(f"  {name:26s} rho* {r.value:.3f} ({r.readout}; network {r.neural:.3f}, trees "
              f"{r.trees:.3f}, {rho_s:.1f} s)  probes " + " ".join(
                  f"{p} {v:.3f}" for p, v in probes.items())
              + f"  rho* - strongest {r.value - probes[best]:+.3f}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-adversary", action="store_true")
    ap.add_argument("--skip-large", action="store_true", help="no 100,000 x 768 timing")
    args = ap.parse_args()
    C.apply_threads(args.threads)
    import numpy as np
    from rho_time import make_data

    import infomin_cli as im

    z, attrs, col = sample()
    print("cost: default audit vs sliced,linear", flush=True)
    cost = [audit_cost("sample 8,000 x 32, 3 attributes", z, attrs, args.repeats)]
    if not args.skip_large:
        n, d = (20_000, 128) if args.quick else (100_000, 768)
        zl, g = make_data(n, d)
        cost.append(audit_cost(f"{n:,} x {d}, 1 attribute", zl,
                               [im.Attribute.categorical("group", g)],
                               1 if args.quick else max(1, args.repeats - 2)))
        del zl
    print("read-outs on debiased outputs of the sample (rho* of the whole output; probes "
          "fitted on train rows, scored on test rows)", flush=True)
    rows = readouts(z, col, args)
    gaps = [r["rho_minus_strongest"] for r in rows]
    summary = {"min_rho_minus_strongest": float(np.min(gaps)),
               "trees_won": sum(r["readout"] == "trees" for r in rows), "outputs": len(rows)}
    print(f"  rho* - strongest probe: min {summary['min_rho_minus_strongest']:+.3f}; trees "
          f"won on {summary['trees_won']} of {len(rows)} outputs")
    name = "rho_readouts_quick" if args.quick else "rho_readouts"
    C.write_json(name, {"machine": C.machine_info(), "threads": args.threads, "cost": cost,
                        "readouts": rows, "summary": summary})


if __name__ == "__main__":
    main()
