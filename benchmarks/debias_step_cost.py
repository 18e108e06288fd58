"""Cost of one max-step: the slice loss's closed-form solve vs a neural Renyi adversary
retrained for L2 steps (the paper's baseline), measured in one run on the same data.

    python benchmarks/debias_step_cost.py [--quick] [--threads 1] [--n 8000] [--d 32]

Prints a table and writes results/debias_step_cost.json (medians over the max-steps of a
short fit; ratios are adversary / slice, measured in the same process). Both use the
library's defaults: the slice max-step (pairwise, guided, S = 100, K = 5, on 2,000 rows; its
moment blocks from power means), and the adversary of rho*'s shape (3 SiLU layers of 128,
batches of 256, Adam). The default output of a binary target is 1-D; two more rows fit a 4-d
output, where the slice penalty adds its kernel critic (256 random Fourier features of the
output's normal scores, one more closed-form solve), against the adversary at the same size;
three more a 24-d output, with the network critic that a wide no-target fit adds (10 Adam
steps of a small network per max-step) and without it. Ratios: against the first (slice) row
of the same output size.
"""

from __future__ import annotations

import argparse
import time

import _common as C
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--steps", type=int, default=100, help="min-steps (and max-steps) per fit")
    args = ap.parse_args()
    C.apply_threads(args.threads)
    import infomin_cli as im
    from infomin_cli.debias.config import DebiasConfig
    from infomin_cli.debias.fit import fit_projection

    n = 2000 if args.quick else args.n
    steps = 20 if args.quick else args.steps
    rng = np.random.default_rng(0)
    z = rng.standard_normal((n, args.d)).astype(np.float32)
    t = im.Attribute.categorical("t", (np.abs(z[:, 0]) > 0.67).astype(int))
    y = im.Attribute.categorical("y", (z[:, 1] > 0).astype(int))
    rows = []
    for name, cfg in [("slice (S=100, K=5, pairwise)", DebiasConfig(max_steps=steps)),
                      ("slice (S=100, K=3, pairwise)", DebiasConfig(max_steps=steps, order=3)),
                      ("slice (S=100, K=5, joint)", DebiasConfig(max_steps=steps,
                                                                  aggregation="joint")),
                      ("adversary L2=2", DebiasConfig(max_steps=steps, penalty="adversarial",
                                                      l2_steps=2)),
                      ("adversary L2=10", DebiasConfig(max_steps=steps, penalty="adversarial",
                                                       l2_steps=10)),
                      ("adversary L2=50", DebiasConfig(max_steps=steps, penalty="adversarial",
                                                       l2_steps=50)),
                      # a 4-d output: the default slice penalty adds its kernel critic there
                      ("slice + kernel critic, 4-d output", DebiasConfig(max_steps=steps, dim=4)),
                      ("adversary L2=50, 4-d output", DebiasConfig(
                          max_steps=steps, dim=4, penalty="adversarial", l2_steps=50)),
                      # a 24-d output: a wide no-target fit adds the network critic
                      ("slice + kernel critic, 24-d output", DebiasConfig(max_steps=steps,
                                                                          dim=24)),
                      ("slice + kernel + network critic, 24-d", DebiasConfig(
                          max_steps=steps, dim=24, network_critic=True)),
                      ("adversary L2=50, 24-d output", DebiasConfig(
                          max_steps=steps, dim=24, penalty="adversarial", l2_steps=50))]:
        t0 = time.perf_counter()
        _, _, hist = fit_projection(z, [t], [y], cfg, seed=0, device="cpu")
        rows.append({"method": name, "max_step_median_s": float(np.median(hist.max_step_seconds)),
                     "max_steps": len(hist.max_step_seconds), "dim": hist.config.dim,
                     "fit_s": time.perf_counter() - t0})
    for r in rows:  # against the first (slice) row of the same output size
        first = next(q for q in rows if q["dim"] == r["dim"])
        r["ratio_vs_slice"] = r["max_step_median_s"] / first["max_step_median_s"]
    print(f"{'method':30s} {'max-step (median s)':>20s} {'x slice':>8s} {'steps':>6s}")
    for r in rows:
        print(f"{r['method']:30s} {r['max_step_median_s']:20.4f} {r['ratio_vs_slice']:8.2f} "
              f"{r['max_steps']:6d}")
    C.write_json("debias_step_cost_quick" if args.quick else "debias_step_cost",
                 {"machine": C.machine_info(), "threads": args.threads, "n": n, "d": args.d,
                  "rows": rows})


if __name__ == "__main__":
    main()
