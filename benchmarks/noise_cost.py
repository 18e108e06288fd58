"""What output noise costs `infomin apply`: a saved projection with noise against the same
projection without, on the same rows, in the same run.

    python benchmarks/noise_cost.py [--threads 2] [--repeats 5] [--rows 200000]

Projections: an MLP head (d -> 256 -> k, the `infomin debias` default shape) with random
weights, for (d, k) in {(32, 5), (32, 12), (384, 48), (768, 64)}; rows Z ~ N(0, I) float32.
Per case, ``repeats`` alternating calls of each projection on all rows (``Projection.__call__``
on a numpy array, as `apply` calls it per batch of 65,536 rows); medians and their ratio.
The noise's extra work is a hash of each row's d float32 words (``row_noise.row_keys``) and k
normal draws per row. Writes results/noise_cost.json and prints a table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _common as C
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASES = ((32, 5), (32, 12), (384, 48), (768, 64))
BATCH = 65536


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    C.set_threads(args.threads)
    C.apply_threads(args.threads)
    import torch
    from torch import nn

    from infomin_cli.debias.projection import Projection, apply_batches

    rows, out = [], []
    for d, k in CASES:
        torch.manual_seed(0)
        head = nn.Sequential(nn.Linear(d, 256), nn.SiLU(), nn.Linear(256, k))
        plain = Projection.from_module("mlp", head, torch.zeros(d), torch.ones(d))
        noisy = Projection.from_module("mlp", head, torch.zeros(d), torch.ones(d),
                                       noise=torch.full((k,), 0.3), noise_seed=1)
        z = np.random.default_rng(0).standard_normal((args.rows, d)).astype(np.float32)
        batches = [z[s:s + BATCH] for s in range(0, args.rows, BATCH)]
        times: dict[str, list[float]] = {"plain": [], "noisy": []}
        for _ in range(args.repeats):
            for name, proj in (("plain", plain), ("noisy", noisy)):
                t0 = time.perf_counter()
                for _ in apply_batches(proj, batches):
                    pass
                times[name].append(time.perf_counter() - t0)
        p, q = C.median(times["plain"]), C.median(times["noisy"])
        rec = {"d": d, "k": k, "rows": args.rows, "plain_s": p, "noisy_s": q, "ratio": q / p,
               "plain_all": times["plain"], "noisy_all": times["noisy"]}
        out.append(rec)
        rows.append([d, k, f"{args.rows:,}", f"{p:.3f}", f"{q:.3f}", f"{q / p:.2f}"])
    C.print_table("apply: projection with output noise vs without (medians)",
                  ["d", "k", "rows", "plain s", "noisy s", "noisy / plain"], rows)
    C.write_json("noise_cost", {"machine": C.machine_info(), "threads": args.threads,
                                "repeats": args.repeats, "git": C.git_state(ROOT, ("infomin_cli",)),
                                "cases": out})


if __name__ == "__main__":
    main()
