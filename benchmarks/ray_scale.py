"""Cost of the audit's streaming pass per block: the local engine against the ray engine.

    python benchmarks/ray_scale.py [--dim 256] [--blocks 2 8] [--repeats 2] [--cpus 2]

Data: Z ~ N(0, I_d) float32 with a binary attribute ``group = 1[z0 + e > 0]``, written as
Parquet shards of one block each (BLOCK = 65,536 rows, the local pass's batch) under /tmp,
deleted after use. For each size (in blocks) and repeat, ``run_audit`` (sliced + linear,
``permutations=0``, so the driver's fixed work after the pass stays small) runs with
``engine="local"`` and ``engine="ray"`` (a local Ray with ``--cpus`` CPUs, started once and
timed: ``ray_startup_s``). Only the streaming pass is timed: the local loop
(``engine.local_pass``) and the Ray pass (``engine.ray_audit.accumulate``: Ray Data
read, the workers' accumulation, transfer and merge of the accumulator states), wrapped with
a timer.

Per engine, ``T(blocks) = fixed + blocks * slope`` is fitted through the two sizes' medians:
``slope`` is the marginal cost of one block on this machine (for Ray, with ``--cpus`` workers
at once; ``worker_s_per_block = slope * cpus`` is the cost of a block on one worker). The
table extrapolates to 10^6 .. 10^9 rows: local = blocks * local slope; Ray with W workers =
fixed + blocks * worker_s_per_block / W, assuming the cluster scales linearly (reads from
object storage at the measured per-block rate, no driver bottleneck besides the merge).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _common as C  # noqa: E402

BLOCK = 65536


def generate(folder: Path, blocks: int, d: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for b in range(blocks):
        z = rng.standard_normal((BLOCK, d), dtype=np.float32)
        g = (z[:, 0] + rng.standard_normal(BLOCK) > 0).astype(np.int64)
        table = pa.table({"emb": pa.FixedSizeListArray.from_arrays(pa.array(z.reshape(-1)), d),
                          "group": g})
        pq.write_table(table, folder / f"part-{b}.parquet", row_group_size=BLOCK)


def timed_pass(engine: str, path: Path) -> float:
    """Seconds of the streaming pass of one audit of ``path``."""
    import infomin_cli.engine as E
    import infomin_cli.engine.ray_audit as R
    from infomin_cli.io import open_dataset
    from infomin_cli.pipeline.audit import run_audit
    from infomin_cli.pipeline.config import audit_settings

    spent: list[float] = []

    def wrap(fn):
        def inner(*a, **k):
            t0 = time.perf_counter()
            out = fn(*a, **k)
            spent.append(time.perf_counter() - t0)
            return out
        return inner

    local, remote = E.local_pass, R.accumulate
    E.local_pass, R.accumulate = wrap(local), wrap(remote)
    try:
        src = open_dataset(str(path), ["group"])
        cfg, pol = audit_settings({"estimators": "sliced,linear", "permutations": 0,
                                   "alpha": 0, "engine": engine})
        run_audit(src, cfg, pol)
    finally:
        E.local_pass, R.accumulate = local, remote
    assert len(spent) == 1
    return spent[0]


def fit(sizes: list[int], times: list[float]) -> tuple[float, float]:
    (b1, b2), (t1, t2) = sizes, times
    slope = (t2 - t1) / (b2 - b1)
    return t1 - slope * b1, slope


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--blocks", type=int, nargs=2, default=[2, 8])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    C.set_threads(args.threads)
    C.apply_threads(args.threads)
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR", runtime_env={"env_vars": {"OMP_NUM_THREADS": str(args.threads)}})
    startup = time.perf_counter() - t0
    tmp = Path(tempfile.mkdtemp(prefix="infomin_ray_scale_"))
    runs: dict = {"local": {}, "ray": {}}
    try:
        for blocks in args.blocks:
            path = tmp / f"b{blocks}"
            generate(path, blocks, args.dim)
            timed_pass("ray", path)  # warm-up: worker processes start, imports happen
            for engine in ("local", "ray"):
                runs[engine][blocks] = [timed_pass(engine, path) for _ in range(args.repeats)]
            shutil.rmtree(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        ray.shutdown()
    model = {}
    for engine in ("local", "ray"):
        meds = [C.median(runs[engine][b]) for b in args.blocks]
        fixed, slope = fit(list(args.blocks), meds)
        model[engine] = {"fixed_s": fixed, "slope_s_per_block": slope, "medians_s": meds}
    worker_s = model["ray"]["slope_s_per_block"] * args.cpus
    model["ray"]["worker_s_per_block"] = worker_s
    rows = []
    extrapolation = []
    for n in (10**6, 10**7, 10**8, 10**9):
        blocks = n / BLOCK
        local_s = blocks * model["local"]["slope_s_per_block"]
        ray_s = {w: model["ray"]["fixed_s"] + blocks * worker_s / w for w in (args.cpus, 16, 64, 256)}
        extrapolation.append({"rows": n, "blocks": blocks, "local_s": local_s,
                              "ray_s_by_workers": ray_s})
        rows.append([f"{n:.0e}", f"{blocks:,.0f}", C.fmt(local_s / 3600, ".3g"),
                     *(C.fmt(ray_s[w] / 3600, ".3g") for w in (args.cpus, 16, 64, 256))])
    C.print_table(
        f"streaming pass, d={args.dim}, {BLOCK:,}-row blocks: local {model['local']['slope_s_per_block']:.3f} "
        f"s/block; ray {worker_s:.3f} worker-s/block + {model['ray']['fixed_s']:.1f} s fixed; "
        f"Ray startup {startup:.1f} s",
        ["rows", "blocks", "local h", f"ray {args.cpus} workers h", "ray 16 h", "ray 64 h",
         "ray 256 h"], rows)
    dest = C.write_json("ray_scale", {
        "config": vars(args), "block_rows": BLOCK, "ray_startup_s": startup,
        "runs_s": {e: {str(b): v for b, v in r.items()} for e, r in runs.items()},
        "model": model, "extrapolation": extrapolation, "machine": C.machine_info(),
        "ray": ray.__version__, "git": C.git_state(HERE.parent, ("infomin_cli", "benchmarks")),
    })
    print(f"written to {dest}")


if __name__ == "__main__":
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    main()
