"""Cost and effect of rho*'s principal view (the trees also read Z's principal axes at unit
variance when Z has a direction of tiny variance), measured against the same rho* without it
in one run, repeats interleaved.

    python benchmarks/principal_view_cost.py [--threads 2] [--repeats 5]

Cases: the shipped sample (8,000 x 32, sex: its correlation matrix has an eigenvalue below
1e-3, so the view is used); a synthetic 20,000 x 8 embedding hiding a binary attribute on
an axis with 0.003% of the variance (as in tests/test_rho_trees.py; rho* = 0.647 there); an
anisotropic 20,000 x 256 one (variances 1/i^2, randomly rotated; the widest Z the view takes).
Reported per case: median seconds of ``rho_star`` with ``TreeConfig(principal_below=0)``
(off) and with the defaults (on), the ratio of medians, and both values. Writes
results/principal_view_cost.json and prints a table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _common as C
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def hidden(n: int, d: int, seed: int = 0, eps: float = 0.01):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    v = np.where(t == 1, rng.standard_normal(n), rng.choice([-1.0, 1.0], n)
                 + 0.2 * rng.standard_normal(n))
    x = np.column_stack([rng.standard_normal((n, d - 1)), eps * v])
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (x @ q.T).astype(np.float32), t


def cases():
    import pyarrow.parquet as pq

    table = pq.read_table(ROOT / "sample_data" / "adult_embeddings.parquet")
    z = np.stack(table.column("embedding").to_numpy(zero_copy_only=False)).astype(np.float32)
    sex = (table.column("sex").to_numpy(zero_copy_only=False) == "Male").astype(int)
    yield "sample 8,000 x 32, sex", z, sex
    yield "hidden axis 20,000 x 8", *hidden(20_000, 8)
    # an anisotropic 256-column embedding (variances 1/i^2: the view triggers, twice the
    # columns for the trees) with a nonlinear attribute on its top two axes
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20_000, 256)) / np.arange(1, 257)
    q, _ = np.linalg.qr(rng.standard_normal((256, 256)))
    t = (x[:, 0] * x[:, 1] + 0.3 * rng.standard_normal(20_000) > 0).astype(int)
    yield "anisotropic 20,000 x 256", (x @ q.T).astype(np.float32), t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    C.set_threads(args.threads)
    C.apply_threads(args.threads)
    import infomin_cli as im
    from infomin_cli.estimators.configs import RhoConfig, TreeConfig

    configs = {"off": RhoConfig(tree=TreeConfig(principal_below=0.0)), "on": RhoConfig()}
    rows = []
    for name, z, t in cases():
        attr = im.Attribute.categorical("t", t)
        times = {k: [] for k in configs}
        values = {}
        for _ in range(args.repeats):
            for key, cfg in configs.items():
                t0 = time.perf_counter()
                r = im.rho_star(z, attr, cfg, seed=0, device="cpu")
                times[key].append(time.perf_counter() - t0)
                values[key] = {"value": r.value, "trees": r.trees, "neural": r.neural}
        med = {k: C.median(v) for k, v in times.items()}
        rows.append({"case": name, "seconds": times, "median_s": med,
                     "ratio_on_off": med["on"] / med["off"], "values": values})
    print("| case | ρ* off: s (value) | ρ* on: s (value) | on / off |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['median_s']['off']:.2f} ({r['values']['off']['value']:.3f}) | "
              f"{r['median_s']['on']:.2f} ({r['values']['on']['value']:.3f}) | "
              f"{r['ratio_on_off']:.2f} |")
    C.write_json("principal_view_cost", {"machine": C.machine_info(), "threads": args.threads,
                                         "repeats": args.repeats,
                                         "git": C.git_state(ROOT, ("infomin_cli",)),
                                         "rows": rows})


if __name__ == "__main__":
    main()
