"""Cost of the neural rho* estimate relative to the SI audit of the same data, same run.

    python benchmarks/rho_time.py [--quick] [--threads 2] [--repeats 3]

Data: n x d float32 (default 100,000 x 768), Z ~ N(0, I_d), binary attribute
``group = 1[1.5 z0 + (z1^2 - 1) + 2 e > 0]`` (as in audit_scale.py), held in memory.
Per repeat and device (CPU always; CUDA too when ``torch.cuda.is_available()``):
  SI  = ``sliced_dependence(Z, attr, SlicedConfig(), device=dev)`` (default config: pairwise,
        100 slices, 1000 permutations, 500 bootstrap) -- what the sliced audit computes;
  rho = ``rho_star(Z, attr, RhoConfig(max_rows=None), device=dev)`` (default network and
        early stopping; every row), with per-epoch timestamps from its progress callback.
Reported: medians of the times and of the per-repeat ratio rho/SI, epochs, best epoch,
value, seconds per epoch (training + validation pass).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _common as C  # noqa: E402


def make_data(n: int, d: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d), dtype=np.float32)
    logit = 1.5 * z[:, 0] + (z[:, 1] ** 2 - 1) + 2.0 * rng.standard_normal(n)
    return z, (logit > 0).astype(np.int64)


def summarise(dev: str, runs: list[dict]) -> dict:
    summary = {"device": dev, "runs": runs, "repeats": len(runs)}
    for k in ("si_s", "rho_s", "ratio_rho_si", "epoch_s_median", "epochs", "best_epoch",
              "rho", "si"):
        summary[f"median_{k}"] = C.median([r[k] for r in runs])
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--verbose", action="store_true", help="print every epoch")
    args = ap.parse_args()
    C.set_threads(args.threads)
    name = "rho_time"
    if args.quick:
        args.n, args.d, args.repeats, name = 5000, 128, 1, "rho_time_quick"

    import torch

    from infomin_cli.attributes import Attribute
    from infomin_cli.estimators.rho import RhoConfig, rho_star
    from infomin_cli.estimators.sliced import SlicedConfig, sliced_dependence

    C.apply_threads(args.threads)
    z, g = make_data(args.n, args.d)
    attr = Attribute.categorical("group", g)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    payload = {"benchmark": "rho_time", "machine": C.machine_info(), "config": {
        "n": args.n, "d": args.d, "repeats": args.repeats, "threads": args.threads,
        "si": "sliced_dependence(Z, attr, SlicedConfig(), device=dev) (defaults: pairwise, 100 "
              "slices, 1000 permutations, 500 bootstrap)",
        "rho": "rho_star(Z, attr, RhoConfig(max_rows=None), device=dev) (defaults otherwise)",
        "rho_defaults": {k: getattr(RhoConfig(), k) for k in (
            "hidden", "layers", "lr", "batch_size", "max_epochs", "patience", "val_frac",
            "test_frac", "bootstrap")},
        "quick": args.quick}, "results": []}
    for dev in devices:
        runs = []
        for rep in range(args.repeats):
            if dev == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            si = sliced_dependence(z, attr, SlicedConfig(), device=dev)
            if dev == "cuda":
                torch.cuda.synchronize()
            t_si = time.perf_counter() - t0

            stamps: list[tuple[int, float, float]] = []
            t0 = time.perf_counter()
            rho = rho_star(z, attr, RhoConfig(max_rows=None), device=dev,
                           progress=lambda e, m, v: (stamps.append(
                               (e, time.perf_counter() - t0, v)), args.verbose and print(
                               f"    epoch {e}: {stamps[-1][1]:.1f} s, val {v:.3f}",
                               flush=True)))
            if dev == "cuda":
                torch.cuda.synchronize()
            t_rho = time.perf_counter() - t0
            t_train = stamps[-1][1] if stamps else None
            per_epoch = [b[1] - a[1] for a, b in zip([(0, 0.0, 0)] + stamps[:-1], stamps)]
            run = {
                "si_s": t_si, "si": si.value, "si_p": si.p_value,
                "rho_s": t_rho, "rho": rho.value, "rho_ci": rho.ci, "epochs": rho.epochs,
                "best_epoch": rho.best_epoch, "val_best": rho.val_best,
                "n_train": rho.n_train, "n_val": rho.n_val, "n_test": rho.n_test,
                "epoch_s_median": C.median(per_epoch), "epochs_s_total": t_train,
                "after_training_s": (t_rho - t_train) if t_train is not None else None,
                "ratio_rho_si": t_rho / t_si, "loadavg": list(os.getloadavg()),
            }
            runs.append(run)
            print(f"[{dev} rep {rep}] SI {t_si:.2f} s (value {si.value:.3f}, p {si.p_value:.3g}); "
                  f"rho* {t_rho:.1f} s (value {rho.value:.3f}, {rho.epochs} epochs, best "
                  f"{rho.best_epoch}, {run['epoch_s_median']:.2f} s/epoch); ratio "
                  f"{run['ratio_rho_si']:.1f}", flush=True)
            C.write_json(name, {**payload, "results": payload["results"] + [summarise(dev, runs)]})
        payload["results"].append(summarise(dev, runs))
    out = C.write_json(name, payload)
    rows = [[r["device"], str(r["repeats"]), r["median_si_s"], r["median_rho_s"],
             r["median_ratio_rho_si"], C.fmt(r["median_epochs"]), C.fmt(r["median_best_epoch"]),
             r["median_epoch_s_median"], r["median_rho"], r["median_si"]]
            for r in payload["results"]]
    C.print_table(f"rho* vs SI on {args.n} x {args.d} float32 (medians)",
                  ["device", "reps", "SI s", "rho* s", "rho*/SI", "epochs", "best epoch",
                   "s/epoch", "rho*", "SI"], rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
