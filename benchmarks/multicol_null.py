"""A multi-column attribute's full-sample SI test: its cost relative to a one-column one, and
its power against the previous statistic, on the same datasets.

    python benchmarks/multicol_null.py [--threads 2] [--repeats 5] [--n 500] [--reps 40]
        [--part time|power|both] [--name multicol_null]

Both sides of a multi-column attribute are sliced (100 x 100 slice pairs). The shipped test
statistic is the total of every pair's squared canonical correlations on each side's top 32
principal components (``stats.fullsample.sum_null``); the previous one was the largest pair's
canonical correlation (``stats.fullsample.permutation_null``, patched back in here as
"max"). A one-column attribute's test is the same in both.

``--part time``: Z ~ N(0, I_16) (n rows); T = Z[:, :c] + N(0, I_c), c columns (c = 1: a
continuous attribute). Per c and repeat (seeds 0..repeats-1), ``sliced_dependence(Z, T,
SlicedConfig())`` -- 100 slices, 1000 permutations -- timed with each statistic; medians and
their ratio to c = 1, measured in this run.

``--part power``: n = 500, Z ~ N(0, I_16) with one column shifted by a function of a
c-column Gaussian T (linear, square, one column of T, sine, XOR of two columns, radial,
none); ``--reps`` datasets per relation and c, 200 permutations, both statistics on the same
datasets and the same permutations; the fraction of p-values <= 0.05. The "none" row is the
test's size (both are exact, so it should read about 0.05).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _common as C  # noqa: E402

RELATIONS = {
    # name: (f(t, w) -> the shift, strength)
    "linear": (lambda np, t, w: t @ w, 0.7),
    "square": (lambda np, t, w: (t @ w) ** 2 - 1, 0.8),
    "one column": (lambda np, t, w: t[:, -1], 0.5),
    "sine": (lambda np, t, w: np.sin(2 * (t @ w)), 0.8),
    "xor": (lambda np, t, w: np.sign(t[:, 0] * t[:, 1]), 0.8),
    "radial": (lambda np, t, w: (t ** 2).sum(1), 0.8),
    "none": (lambda np, t, w: np.zeros(len(t)), 0.0),
}


def _statistics():
    """name -> a context that makes the sliced estimator use that statistic."""
    import contextlib

    from infomin_cli.estimators import sliced
    from infomin_cli.stats.fullsample import permutation_null

    shipped = sliced.sum_null

    @contextlib.contextmanager
    def use(name: str, blocks: tuple[int, int]):
        if name == "max":
            sliced.sum_null = lambda x, y, b, seed: permutation_null(x, y, blocks, blocks, b, seed)
        try:
            yield
        finally:
            sliced.sum_null = shipped

    return use


def part_time(args, use) -> dict:
    import numpy as np

    import infomin_cli as im

    cols = [int(c) for c in args.columns.split(",")]
    out = {}
    for c in cols:
        times: dict[str, list[float]] = {"shipped": [], "max": []}
        for seed in range(args.repeats):
            rng = np.random.default_rng(seed)
            z = rng.standard_normal((args.n, 16)).astype(np.float32)
            t = z[:, :c] + rng.standard_normal((args.n, c)).astype(np.float32)
            attr = (im.Attribute.continuous("t", t[:, 0]) if c == 1
                    else im.Attribute("t", "multidim", t))
            for label in ("shipped", "max"):
                with use(label, (100, 3)):
                    t0 = time.perf_counter()
                    im.sliced_dependence(z, attr, im.SlicedConfig(), seed=seed)
                    times[label].append(time.perf_counter() - t0)
        out[c] = {k: C.median(v) for k, v in times.items()} | {"runs": times}
    base = out[cols[0]]
    rows = []
    for c in cols:
        o = out[c]
        o["ratio_to_1col"] = o["shipped"] / base["shipped"]
        o["ratio_to_1col_max"] = o["max"] / base["max"]
        rows.append([c, o["shipped"], o["ratio_to_1col"], o["max"], o["ratio_to_1col_max"]])
    C.print_table(f"SI at n = {args.n}, 16 dims, 1000 permutations (median of {args.repeats})",
                  ["columns", "s (shipped: sum)", "x 1-col", "s (max)", "x 1-col"], rows)
    return out


def part_power(args, use) -> dict:
    import numpy as np

    import infomin_cli as im

    out: dict = {}
    rows = []
    for c in [int(c) for c in args.power_columns.split(",")]:
        rng = np.random.default_rng(1000 + c)
        for name, (f, strength) in RELATIONS.items():
            pvals: dict[str, list[float]] = {"shipped": [], "max": []}
            for rep in range(args.reps):
                t = rng.standard_normal((500, c))
                w = rng.standard_normal(c)
                w /= np.linalg.norm(w)
                z = rng.standard_normal((500, 16)).astype(np.float32)
                shift = f(np, t, w)
                z[:, 0] += strength * shift / max(float(np.std(shift)), 1e-9)
                attr = im.Attribute("t", "multidim", t.astype(np.float32))
                for label in pvals:
                    with use(label, (100, 3)):
                        res = im.sliced_dependence(z, attr, im.SlicedConfig(permutations=200),
                                                   seed=rep)
                    pvals[label].append(res.p_value)
            rate = {k: float(np.mean(np.asarray(v) <= 0.05)) for k, v in pvals.items()}
            out.setdefault(c, {})[name] = rate | {"p_values": pvals}
            rows.append([c, name, rate["shipped"], rate["max"]])
            print(f"  c={c} {name}: sum {rate['shipped']:.2f}  max {rate['max']:.2f}", flush=True)
    C.print_table(f"rejection rate at 0.05, n = 500, {args.reps} datasets each, 200 permutations",
                  ["columns", "relation", "sum (shipped)", "max (previous)"], rows)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--columns", default="1,2,5,10")
    ap.add_argument("--part", choices=["time", "power", "both"], default="both")
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--power-columns", default="2,10")
    ap.add_argument("--name", default="multicol_null", help="results/NAME.json")
    args = ap.parse_args()
    C.set_threads(args.threads)
    C.apply_threads(args.threads)
    use = _statistics()
    payload: dict = {"machine": C.machine_info(), "args": vars(args)}
    if args.part in ("time", "both"):
        payload["by_columns"] = part_time(args, use)
    if args.part in ("power", "both"):
        payload["power"] = part_power(args, use)
    dest = C.write_json(args.name, payload)
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
